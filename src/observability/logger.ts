import { destination, pino, type DestinationStream, type Logger } from 'pino';
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
  // Connected accounts and custom providers (issue 3): request bodies, token responses of
  // OAuth2 servers, nested configs.
  '*.code_verifier',
  '*.id_token',
  '*.authentication_config.oauth2.client_secret',
  '*.oauth2.client_secret',
  'body.token',
  'body.password',
  'body.client_secret',
  'req.body',
];

export interface Loggers {
  /** The application's logger: every field above is redacted wherever it appears. */
  logger: Logger;
  /**
   * One line per answered request. Its fields are fixed (method, redacted URL, status, time),
   * so it skips redaction, which would otherwise cost more than the rest of the line.
   */
  accessLog: Logger;
  /** Writes out buffered lines (called on close). */
  flush(): void;
}

/** Both loggers on one destination: stdout, buffered and flushed at least once a second. */
export function createLoggers(config: Config, stream?: DestinationStream): Loggers {
  const destination_ = stream ?? destination({ dest: 1, sync: true, minLength: 8192 });
  const flush = () => {
    const flushable = destination_ as DestinationStream & { flushSync?: () => void };
    try {
      flushable.flushSync?.();
    } catch {
      // stdout went away; nothing left to write to.
    }
  };
  if (!stream) setInterval(flush, 1000).unref();
  const logger = pino(
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
    destination_,
  );
  const accessLog = pino({ level: config.accessLog ? config.logLevel : 'silent', base: null }, destination_);
  return { logger, accessLog, flush };
}
