import { isApiCallError } from './sdk.js';

/** Why a model call failed, in words a user can act on, and how the API should answer. */
export interface ModelFailure {
  kind: 'provider' | 'unreachable' | 'timeout';
  /** HTTP status the provider answered, when it answered. */
  status: number | null;
  message: string;
}

const STATUS_WORDS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  529: 'Overloaded',
};

/** The provider's own message out of an error body (OpenAI, Anthropic, Gemini and plain shapes). */
function reasonInBody(body: string | undefined): string | undefined {
  if (!body) return undefined;
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const error = parsed.error;
    if (typeof error === 'string') return error;
    if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
      return (error as { message: string }).message;
    }
    if (typeof parsed.message === 'string') return parsed.message;
    if (typeof parsed.detail === 'string') return parsed.detail;
  } catch {
    // Not JSON: a proxy's HTML page or plain text.
  }
  const text = body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
  return text ? text.slice(0, 300) : undefined;
}

function hostOf(url: string | undefined): string {
  if (!url) return 'the model provider';
  try {
    return new URL(url).host;
  } catch {
    return 'the model provider';
  }
}

/** Masks the key wherever a provider echoed it back. */
function scrub(text: string, secrets: ReadonlyArray<string | null>): string {
  let result = text;
  for (const secret of secrets) if (secret && secret.length >= 4) result = result.split(secret).join('********');
  return result;
}

/** Turns whatever a model call threw into a plain-words failure. */
export function describeModelFailure(error: unknown, secrets: ReadonlyArray<string | null> = []): ModelFailure {
  if (isApiCallError(error)) {
    const status = error.statusCode ?? null;
    if (status === null) {
      const code = (error.cause as { code?: string; cause?: { code?: string } } | undefined)?.cause?.code ?? (error.cause as { code?: string })?.code;
      return { kind: 'unreachable', status: null, message: scrub(`${hostOf(error.url)} could not be reached${code ? ` (${code})` : ''}.`, secrets) };
    }
    const reason = reasonInBody(error.responseBody) ?? error.message;
    const words = STATUS_WORDS[status] ? ` ${STATUS_WORDS[status]}` : '';
    return { kind: 'provider', status, message: scrub(`The model provider answered ${status}${words}: ${reason}`, secrets) };
  }
  const cause = (error as { cause?: { code?: string } } | null)?.cause;
  if (error instanceof TypeError && cause?.code) {
    return { kind: 'unreachable', status: null, message: `The model provider could not be reached (${cause.code}).` };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'provider', status: null, message: scrub(`The model call failed: ${message}`, secrets) };
}
