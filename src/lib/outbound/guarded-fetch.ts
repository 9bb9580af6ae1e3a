import dns from 'node:dns';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { OutboundNetworkError, OutboundTimeoutError } from './outbound-client.js';
import { OutboundBlockedError, OutboundGuard } from './outbound-guard.js';

/** A WHATWG `fetch` as libraries that take a custom one (the MCP SDK) expect it. */
export type GuardedFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface GuardedFetchOptions {
  guard: OutboundGuard;
  /** Time until the response headers arrive (all redirects included); the body is not limited by it. */
  timeoutMs: number;
  maxRedirects?: number;
  /** The body errors once it grows past this. */
  maxResponseBytes?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const NULL_BODY_STATUSES = new Set([204, 205, 304]);
const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'cookie', 'x-goog-api-key', 'proxy-authorization'];
const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

/** dns.lookup that refuses blocked answers, so the address checked is the address connected to. */
export function guardedLookup(guard: OutboundGuard): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as dns.LookupAddress[];
      try {
        for (const entry of list) guard.assertAllowed(hostname, entry.address);
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

interface Hop {
  url: URL;
  method: string;
  headers: Headers;
  body: Buffer | undefined;
}

/**
 * A `fetch` over node:http(s) that goes through the outbound guard: literal addresses are checked
 * before connecting, names inside the DNS lookup, and every redirect hop again. The response body
 * streams (MCP servers answer with Server-Sent Events) and stops when the caller's signal aborts.
 */
export function createGuardedFetch(options: GuardedFetchOptions): GuardedFetch {
  const lookup = guardedLookup(options.guard);
  const maxRedirects = options.maxRedirects ?? 5;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;

  return async (input, init) => {
    // The Request constructor gives fetch's own normalisation of methods, headers and bodies.
    const request = new Request(input, init);
    const signal = init?.signal ?? undefined;
    signal?.throwIfAborted();
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const deadline = Date.now() + options.timeoutMs;
    let hop: Hop = { url: new URL(request.url), method: request.method, headers: new Headers(request.headers), body };
    for (let redirects = 0; ; redirects++) {
      const response = await send(hop, { guard: options.guard, lookup, deadline, timeoutMs: options.timeoutMs, maxBytes, signal }, redirects > 0);
      const location = response.headers.get('location');
      if (!REDIRECTS.has(response.status) || !location || request.redirect === 'manual') return response;
      await response.body?.cancel();
      if (request.redirect === 'error') throw new TypeError(`Redirect from ${hop.url.origin} refused (redirect: 'error').`);
      if (redirects >= maxRedirects) throw new OutboundNetworkError(hop.url.host, { code: 'TOO_MANY_REDIRECTS' });
      hop = nextHop(hop, response.status, new URL(location, hop.url));
    }
  };
}

function nextHop(current: Hop, status: number, next: URL): Hop {
  const headers = new Headers(current.headers);
  // Credentials are for the origin they were given for.
  if (next.origin !== current.url.origin) for (const name of CREDENTIAL_HEADERS) headers.delete(name);
  if (status === 303 || ((status === 301 || status === 302) && current.method !== 'GET' && current.method !== 'HEAD')) {
    for (const name of [...headers.keys()]) if (name.startsWith('content-')) headers.delete(name);
    return { url: next, method: current.method === 'HEAD' ? 'HEAD' : 'GET', headers, body: undefined };
  }
  return { url: next, method: current.method, headers, body: current.body };
}

interface SendOptions {
  guard: OutboundGuard;
  lookup: LookupFunction;
  deadline: number;
  timeoutMs: number;
  maxBytes: number;
  signal: AbortSignal | undefined;
}

function send(hop: Hop, options: SendOptions, redirected: boolean): Promise<Response> {
  const { url } = hop;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new OutboundNetworkError(url.host, { code: 'UNSUPPORTED_PROTOCOL' }));
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  try {
    if (isIP(host) !== 0) options.guard.assertAllowed(host, host);
  } catch (error) {
    return Promise.reject(error);
  }
  const remaining = options.deadline - Date.now();
  if (remaining <= 0) return Promise.reject(new OutboundTimeoutError(url.host, options.timeoutMs));
  const headers: Record<string, string> = {};
  hop.headers.forEach((value, name) => {
    headers[name] = value;
  });
  if (hop.body !== undefined) headers['content-length'] = String(hop.body.length);

  return new Promise<Response>((resolve, reject) => {
    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.request(url, { method: hop.method, headers, lookup: options.lookup, agent: false });
    const timer = setTimeout(() => req.destroy(new OutboundTimeoutError(url.host, options.timeoutMs)), remaining);
    const onAbort = () => req.destroy(options.signal!.reason instanceof Error ? options.signal!.reason : new DOMException('This operation was aborted', 'AbortError'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const settleError = (error: Error) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      const known =
        error instanceof OutboundBlockedError ||
        error instanceof OutboundTimeoutError ||
        error instanceof OutboundNetworkError ||
        (error as { name?: string }).name === 'AbortError' ||
        error === options.signal?.reason;
      reject(known ? error : new OutboundNetworkError(url.host, error));
    };
    req.on('error', settleError);
    req.on('response', (res) => {
      clearTimeout(timer);
      req.off('error', settleError);
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 599) {
        res.destroy();
        options.signal?.removeEventListener('abort', onAbort);
        reject(new OutboundNetworkError(url.host, { code: `HTTP_STATUS_${status}` }));
        return;
      }
      const responseHeaders = new Headers();
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
      const nullBody = NULL_BODY_STATUSES.has(status) || hop.method === 'HEAD';
      const stream = nullBody ? null : bodyStream(res, req, url, options, () => options.signal?.removeEventListener('abort', onAbort));
      if (nullBody) {
        res.resume();
        options.signal?.removeEventListener('abort', onAbort);
      }
      const response = new Response(stream, { status, statusText: res.statusMessage ?? '', headers: responseHeaders });
      Object.defineProperty(response, 'url', { value: url.toString() });
      Object.defineProperty(response, 'redirected', { value: redirected });
      resolve(response);
    });
    if (hop.body !== undefined) req.write(hop.body);
    req.end();
  });
}

/** The response body as a web stream with backpressure, a size limit and the caller's abort. */
function bodyStream(res: IncomingMessage, req: http.ClientRequest, url: URL, options: SendOptions, done: () => void): ReadableStream<Uint8Array> {
  let size = 0;
  let finished = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const fail = (error: Error) => {
        if (finished) return;
        finished = true;
        done();
        controller.error(error);
      };
      res.on('data', (chunk: Buffer) => {
        if (finished) return;
        size += chunk.length;
        if (size > options.maxBytes) {
          fail(new OutboundNetworkError(url.host, { code: 'RESPONSE_TOO_LARGE' }));
          req.destroy();
          return;
        }
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) res.pause();
      });
      res.on('end', () => {
        if (finished) return;
        finished = true;
        done();
        controller.close();
      });
      res.on('error', (error) => fail(error));
      req.on('error', (error) => fail(error));
      res.on('close', () => {
        if (!res.complete) fail(new OutboundNetworkError(url.host, { code: 'ECONNRESET' }));
      });
    },
    pull() {
      res.resume();
    },
    cancel() {
      finished = true;
      done();
      req.destroy();
    },
  }, { highWaterMark: 16 * 1024, size: (chunk) => chunk.byteLength });
}

const fetches = new WeakMap<object, GuardedFetch>();

/** The process's guarded fetch for a configuration (one per app), like `outboundClientOf`. */
export function guardedFetchOf(config: { outboundAllow: readonly string[]; outboundTimeoutMs: number }): GuardedFetch {
  let fetcher = fetches.get(config);
  if (!fetcher) {
    fetcher = createGuardedFetch({ guard: new OutboundGuard(config.outboundAllow), timeoutMs: config.outboundTimeoutMs });
    fetches.set(config, fetcher);
  }
  return fetcher;
}
