import dns from 'node:dns';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { OutboundBlockedError, OutboundGuard } from './outbound-guard.js';

export { OutboundBlockedError, OutboundGuard } from './outbound-guard.js';

export class OutboundTimeoutError extends Error {
  constructor(readonly host: string, readonly timeoutMs: number) {
    const seconds = Math.round(timeoutMs / 100) / 10;
    super(`${host} did not answer within ${seconds} second${seconds === 1 ? '' : 's'}.`);
    this.name = 'OutboundTimeoutError';
  }
}

export class OutboundNetworkError extends Error {
  constructor(readonly host: string, cause: unknown) {
    const code = (cause as { code?: string } | null)?.code;
    super(`${host} could not be reached${code ? ` (${code})` : ''}.`, { cause });
    this.name = 'OutboundNetworkError';
  }
}

export interface OutboundRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /**
   * true (the default): refuse private, loopback and link-local addresses, after DNS and on every
   * redirect. false only for model-provider base URLs, which members may point anywhere (Ollama).
   */
  guard?: boolean;
  timeoutMs?: number;
  maxRedirects?: number;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The URL that answered, after redirects. */
  url: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json<T = unknown>(): T | undefined;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * The one way the product calls other servers on a user's behalf. The guard checks the address
 * that is actually connected to (inside the DNS lookup), so a name that resolves differently on
 * a second lookup (DNS rebinding) or a redirect to an internal address is refused too.
 */
export class OutboundClient {
  readonly guard: OutboundGuard;

  constructor(private readonly options: { allow: readonly string[]; timeoutMs: number }) {
    this.guard = new OutboundGuard(options.allow);
  }

  async request(request: OutboundRequest): Promise<OutboundResponse> {
    const guarded = request.guard ?? true;
    const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    let url = new URL(request.url);
    let method = request.method ?? 'GET';
    let body = request.body;
    let headers = { ...request.headers };
    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new OutboundNetworkError(url.host, { code: 'UNSUPPORTED_PROTOCOL' });
      }
      const response = await this.once(url, method, headers, body, guarded, deadline, timeoutMs);
      const location = response.headers.location;
      if (!REDIRECTS.has(response.status) || !location || hop >= (request.maxRedirects ?? 5)) return response;
      const next = new URL(location, url);
      if (next.origin !== url.origin) {
        // Credentials are for the host they were given for.
        headers = Object.fromEntries(
          Object.entries(headers).filter(([name]) => !['authorization', 'x-api-key', 'cookie', 'x-goog-api-key'].includes(name.toLowerCase())),
        );
      }
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method !== 'GET')) {
        method = 'GET';
        body = undefined;
        headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !/^content-/i.test(name)));
      }
      url = next;
    }
  }

  private once(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
    guarded: boolean,
    deadline: number,
    timeoutMs: number,
  ): Promise<OutboundResponse> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (guarded && isIP(host) !== 0) this.guard.assertAllowed(host, host);
    const lookup: LookupFunction | undefined = guarded ? this.guardedLookup() : undefined;
    const transport = url.protocol === 'https:' ? https : http;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.reject(new OutboundTimeoutError(url.host, timeoutMs));
    return new Promise<OutboundResponse>((resolve, reject) => {
      const outgoing = { ...headers };
      if (body !== undefined) outgoing['content-length'] = String(Buffer.byteLength(body));
      const req = transport.request(url, { method, headers: outgoing, lookup, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) {
            req.destroy(new OutboundNetworkError(url.host, { code: 'RESPONSE_TOO_LARGE' }));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            url: url.toString(),
            json: <T>() => {
              try {
                return JSON.parse(text) as T;
              } catch {
                return undefined;
              }
            },
          });
        });
        res.on('error', (error) => reject(error));
      });
      const timer = setTimeout(() => req.destroy(new OutboundTimeoutError(url.host, timeoutMs)), remaining);
      req.on('error', (error) => {
        clearTimeout(timer);
        if (error instanceof OutboundBlockedError || error instanceof OutboundTimeoutError || error instanceof OutboundNetworkError) {
          reject(error);
        } else {
          reject(new OutboundNetworkError(url.host, error));
        }
      });
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /** dns.lookup that refuses blocked answers: the check sees exactly the address connected to. */
  private guardedLookup(): LookupFunction {
    return (hostname, options, callback) => {
      dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
        if (error) return callback(error, '', 0);
        const list = addresses as dns.LookupAddress[];
        try {
          for (const entry of list) this.guard.assertAllowed(hostname, entry.address);
        } catch (blocked) {
          return callback(blocked as NodeJS.ErrnoException, '', 0);
        }
        if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
        const first = list[0];
        if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
        return callback(null, first.address, first.family);
      });
    };
  }
}

const clients = new WeakMap<object, OutboundClient>();

/** The process's outbound client for a configuration (one per app). */
export function outboundClientOf(config: { outboundAllow: readonly string[]; outboundTimeoutMs: number }): OutboundClient {
  let client = clients.get(config);
  if (!client) {
    client = new OutboundClient({ allow: config.outboundAllow, timeoutMs: config.outboundTimeoutMs });
    clients.set(config, client);
  }
  return client;
}
