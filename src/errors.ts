/**
 * One error type for the whole product. Services throw `AppError(code)`; the HTTP error handler
 * maps the code to each surface's status and body. Workers and the CLI call the same services,
 * so nothing below this line knows about HTTP.
 */
export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'VALIDATION',
  'BAD_REQUEST',
  'MALFORMED_BODY',
  'UNSUPPORTED_MEDIA_TYPE',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'SERVICE_UNAVAILABLE',
  /** A provider or tool the request called did not answer usably (unreachable, timed out). */
  'BAD_GATEWAY',
  /** A model provider did not answer within its time limit (ATHENA_MODEL_TIMEOUT). */
  'GATEWAY_TIMEOUT',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Field name → messages, as in a Laravel 422 body. */
export type FieldErrors = Record<string, string[]>;

export interface AppErrorOptions {
  /** Field-level problems (VALIDATION). */
  fields?: FieldErrors;
  /** Seconds before a retry may succeed (RATE_LIMITED). */
  retryAfter?: number;
  cause?: unknown;
}

export class AppError extends Error {
  readonly fields: FieldErrors | undefined;
  readonly retryAfter: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    options: AppErrorOptions = {},
  ) {
    super(message ?? code, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.fields = options.fields;
    this.retryAfter = options.retryAfter;
  }

  /** A message the client may see; undefined means "use the surface's standard message". */
  get publicMessage(): string | undefined {
    return this.message === this.code ? undefined : this.message;
  }
}

/**
 * Codes whose message a service may word itself (what conflicts, which field is wrong). Every
 * other code answers with the surface's fixed message, so clients can rely on it.
 */
export const CODES_WITH_OWN_MESSAGE: ReadonlySet<ErrorCode> = new Set(['CONFLICT', 'VALIDATION', 'BAD_REQUEST', 'BAD_GATEWAY', 'GATEWAY_TIMEOUT']);

/** A validation failure on one field, with a Laravel-style message. */
export function fieldError(field: string, message: string): AppError {
  return new AppError('VALIDATION', message, { fields: { [field]: [message] } });
}

export interface SurfaceError {
  status: number;
  /** The surface's standard message, used when the error carries none of its own. */
  message: string;
}

/**
 * Platform API (`/api/v1`), Laravel-style. A code without an entry is a type error: a new code
 * cannot silently fall back to some status.
 */
export const PLATFORM_ERRORS: Record<ErrorCode, SurfaceError> = {
  UNAUTHENTICATED: { status: 401, message: 'Unauthenticated.' },
  FORBIDDEN: { status: 403, message: 'This action is unauthorized.' },
  NOT_FOUND: { status: 404, message: 'Resource not found.' },
  CONFLICT: { status: 409, message: 'The request conflicts with the current state of the resource.' },
  VALIDATION: { status: 422, message: 'The given data was invalid.' },
  BAD_REQUEST: { status: 400, message: 'Bad Request.' },
  MALFORMED_BODY: { status: 400, message: 'The request body is not valid JSON.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported Media Type.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'Payload too large.' },
  RATE_LIMITED: { status: 429, message: 'Too Many Attempts.' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'Service Unavailable' },
  BAD_GATEWAY: { status: 502, message: 'The provider could not be reached.' },
  GATEWAY_TIMEOUT: { status: 504, message: 'The provider did not answer in time.' },
  INTERNAL: { status: 500, message: 'Server Error' },
};

/** Customer-accounts API (`/v1`), NestJS-style, with seed 000's messages. */
export const THENA_ERRORS: Record<ErrorCode, SurfaceError & { error: string }> = {
  UNAUTHENTICATED: { status: 401, message: 'User is not authenticated!', error: 'Unauthorized' },
  FORBIDDEN: { status: 403, message: 'User does not have access to this resource!', error: 'Forbidden' },
  NOT_FOUND: { status: 404, message: 'Resource not found!', error: 'Not Found' },
  CONFLICT: { status: 409, message: 'Resource already exists!', error: 'Conflict' },
  VALIDATION: { status: 400, message: 'Bad request!', error: 'Bad Request' },
  BAD_REQUEST: { status: 400, message: 'Bad request!', error: 'Bad Request' },
  MALFORMED_BODY: { status: 400, message: 'Request body must be valid JSON', error: 'Bad Request' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported media type!', error: 'Unsupported Media Type' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'Payload too large!', error: 'Payload Too Large' },
  RATE_LIMITED: { status: 429, message: 'Too many requests!', error: 'Too Many Requests' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'This service/resource is currently unavailable.', error: 'Service Unavailable' },
  BAD_GATEWAY: { status: 502, message: 'Upstream service could not be reached!', error: 'Bad Gateway' },
  GATEWAY_TIMEOUT: { status: 504, message: 'Upstream service did not answer in time!', error: 'Gateway Timeout' },
  INTERNAL: { status: 500, message: 'Something went wrong!', error: 'Internal Server Error' },
};
