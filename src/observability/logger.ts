import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config.js';

/** Query parameters whose values never reach a log line. */
const SECRET_QUERY = /^(token|access_token|refresh_token|api_key|apikey|key|secret|password|code|state|signature|sig)$/i;

/** The request URL with secret-looking query values replaced by `********`. */
export function redactUrl(url: string): string {
  const question = url.indexOf('?');
  if (question < 0) return url;
  const params = new URLSearchParams(url.slice(question + 1));
  let changed = false;
  for (const key of [...params.keys()]) {
    if (SECRET_QUERY.test(key)) {
      params.set(key, '********');
      changed = true;
    }
  }
  return changed ? `${url.slice(0, question)}?${params.toString()}` : url;
}

/**
 * Credentials are redacted wherever they appear in a logged object: headers, bodies, errors.
 * Modules that hold other secrets add their field names here.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.password',
  '*.current_password',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
  '*.secret',
  '*.api_key',
  '*.apiKey',
];

export function createLogger(config: Config, stream?: DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      redact: { paths: REDACTED_PATHS, censor: '********' },
      serializers: {
        req: (request: { method: string; url: string; ip?: string; id?: string }) => ({
          id: request.id,
          method: request.method,
          url: redactUrl(request.url),
          ip: request.ip,
        }),
        res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
      },
    },
    stream,
  );
}
