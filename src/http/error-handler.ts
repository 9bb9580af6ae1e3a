import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorObject } from 'ajv';
import { AppError, CODES_WITH_OWN_MESSAGE, PLATFORM_ERRORS, THENA_ERRORS, type ErrorCode } from '../errors.js';
import { surfaceOf } from './surface.js';
import { describeValidationErrors, summarizeFieldErrors } from './validation.js';

/** Fastify's own error codes mapped onto ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_BODY',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_BODY',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/** Network and server states of the database that a retry may get past: 503, not 500. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  'SQLITE_BUSY',
]);

function isStorageUnavailable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  // pg's pool, better-sqlite3 and a closed Kysely report these without a code.
  return typeof message === 'string' && /timeout exceeded when trying to connect|Connection terminated|database connection is not open|driver has already been destroyed/i.test(message);
}

/** Normalises anything thrown during a request into an AppError. */
export function toAppError(error: unknown, request: FastifyRequest): AppError {
  if (error instanceof AppError) return error;
  const fastifyError = error as Partial<FastifyError> & { validation?: ErrorObject[] };
  if (Array.isArray(fastifyError.validation)) {
    // A malformed id in the path names nothing that exists.
    if (fastifyError.validationContext === 'params') return new AppError('NOT_FOUND');
    const fields = describeValidationErrors(fastifyError.validation, surfaceOf(request.url));
    return new AppError('VALIDATION', undefined, { fields });
  }
  const byCode = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (byCode) return new AppError(byCode);
  const status = fastifyError.statusCode;
  if (status !== undefined && ((status >= 400 && status < 500) || status === 503)) {
    return new AppError(STATUS_CODES[status] ?? 'BAD_REQUEST');
  }
  if (isStorageUnavailable(error)) return new AppError('SERVICE_UNAVAILABLE', undefined, { cause: error });
  return new AppError('INTERNAL', undefined, { cause: error });
}

/** Writes an AppError in the shape of the surface the request was made on. */
export function sendAppError(error: AppError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const surface = surfaceOf(request.url);
  const table = surface === 'thena' ? THENA_ERRORS : PLATFORM_ERRORS;
  const entry = table[error.code];
  if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter));
  if (error.code === 'UNAUTHENTICATED') reply.header('www-authenticate', 'Bearer');
  const ownMessage = CODES_WITH_OWN_MESSAGE.has(error.code) ? error.publicMessage : undefined;

  if (surface === 'thena') {
    const { error: title } = THENA_ERRORS[error.code];
    const message =
      error.code === 'VALIDATION' && error.fields
        ? Object.values(error.fields).flat()
        : error.code === 'VALIDATION' || error.code === 'BAD_REQUEST'
          ? [ownMessage ?? entry.message]
          : (ownMessage ?? entry.message);
    return reply.code(entry.status).type('application/json; charset=utf-8').send({ statusCode: entry.status, message, error: title });
  }

  if (error.code === 'VALIDATION') {
    const fields = error.fields ?? {};
    return reply
      .code(entry.status)
      .type('application/json; charset=utf-8')
      .send({ message: ownMessage ?? summarizeFieldErrors(fields), errors: fields });
  }
  return reply.code(entry.status).type('application/json; charset=utf-8').send({ message: ownMessage ?? entry.message });
}

/** One error handler for every route: messages below 500 only; a 5xx is logged with context. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error, request);
    if (appError.code === 'INTERNAL') {
      request.log.error({ err: error, route: request.routeOptions.url, method: request.method }, 'request failed');
    } else if (appError.code === 'SERVICE_UNAVAILABLE' && appError.cause !== undefined) {
      request.log.warn({ err: appError.cause, route: request.routeOptions.url, method: request.method }, 'storage unavailable');
    }
    // The route's response schema describes success; error bodies are sent as they are.
    reply.serializer(JSON.stringify);
    return sendAppError(appError, request, reply);
  });
}
