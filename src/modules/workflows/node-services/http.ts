import type { AppContext } from '../../../context.js';
import { isUuid, toBool } from '../../../db/values.js';
import { NodeError } from '../../../engine/node-type.js';
import type { HttpRequestSpec, HttpResponseData } from '../../../engine/ports.js';
import { AppError } from '../../../errors.js';
import { createGuardedFetch, type GuardedFetch } from '../../../lib/outbound/guarded-fetch.js';
import { OutboundBlockedError, OutboundGuard, OutboundNetworkError, OutboundTimeoutError } from '../../../lib/outbound/outbound-client.js';
import { accessTokenOf, refreshAccessToken } from '../../accounts/accounts.oauth2.js';
import { findUsableAccount } from '../../accounts/accounts.repository.js';
import { credentialsOf, type AccountCredentials } from '../../accounts/accounts.service.js';
import type { AccountRow } from '../../accounts/accounts.table.js';
import { injectCredentials, scrubSecrets, secretStringsOf } from '../../accounts/credential-injection.js';
import { findProviderById } from '../../providers/providers.repository.js';
import { providerAuthConfig, providerMetadata } from '../../providers/providers.service.js';
import type { ProviderRow } from '../../providers/providers.table.js';
import { BASE_URL_PLACEHOLDER } from '../../tools/http-templates.js';
import { findWorkspaceAccount } from '../../tools/tools.repository.js';

/** The largest response body an HTTP request node reads; a bigger one fails the node. */
export const HTTP_NODE_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

export interface HttpServiceScope {
  workspaceId: string;
  /** The user the execution acts for; null: only the workspace's public accounts may sign. */
  userId: number | null;
}

type NodeHttp = (request: HttpRequestSpec, signal: AbortSignal) => Promise<HttpResponseData>;

const fetches = new WeakMap<object, GuardedFetch>();

/** One guarded fetch per configuration; its own timeout (the configured cap) bounds the headers. */
function fetchOf(config: AppContext['config']): GuardedFetch {
  let fetcher = fetches.get(config);
  if (!fetcher) {
    fetcher = createGuardedFetch({
      guard: new OutboundGuard(config.outboundAllow),
      timeoutMs: config.outboundTimeoutMs,
      maxResponseBytes: HTTP_NODE_MAX_RESPONSE_BYTES,
    });
    fetches.set(config, fetcher);
  }
  return fetcher;
}

/** The account that signs the request, with what it needs to sign. */
interface Signer {
  account: AccountRow;
  provider: ProviderRow;
  credentials: AccountCredentials;
}

async function signerOf(ctx: AppContext, scope: HttpServiceScope, uuid: string): Promise<Signer> {
  const db = ctx.db.kysely;
  let account: AccountRow | undefined;
  if (isUuid(uuid)) {
    if (scope.userId !== null) account = await findUsableAccount(db, scope.workspaceId, scope.userId, uuid);
    else {
      const found = await findWorkspaceAccount(db, scope.workspaceId, uuid);
      account = found?.scope === 'public' ? found : undefined;
    }
  }
  const provider = account ? await findProviderById(db, account.provider_id) : undefined;
  if (!account || !provider) throw new NodeError(`Account ${uuid.slice(0, 100)} not found.`);
  if (!toBool(provider.is_enabled)) throw new NodeError(`The ${provider.name} provider of account ${uuid} is disabled.`);
  return { account, provider, credentials: await credentialsOf(ctx, account) };
}

function stringsOf(values: Record<string, unknown> | null | undefined): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(values ?? {})) {
    if (value === undefined || value === null) continue;
    entries.push([name, typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value)]);
  }
  return entries;
}

/**
 * The URL with the node's query merged in. One that starts with `{base_url}` is relative to the
 * account's base URL (or its provider's default), as in HTTP tools.
 */
function urlOf(request: HttpRequestSpec, signer: Signer | undefined): URL {
  let text = String(request.url ?? '');
  if (text.startsWith(BASE_URL_PLACEHOLDER)) {
    const base = signer ? (signer.account.base_url ?? providerMetadata(signer.provider).default_base_url ?? null) : null;
    if (!base) throw new NodeError('The URL starts with {base_url}, which needs an account with a base URL (account_uuid).');
    text = base.replace(/\/+$/, '') + text.slice(BASE_URL_PLACEHOLDER.length);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new NodeError(`The URL ${JSON.stringify(text.slice(0, 200))} is not a valid absolute URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new NodeError(`Only http and https URLs can be requested, not ${url.protocol}.`);
  for (const [name, value] of stringsOf(request.query)) url.searchParams.set(name, value);
  return url;
}

/** The body to send: strings as they are, anything else as JSON (with its content type). */
function bodyOf(request: HttpRequestSpec, headers: Record<string, string>): string | undefined {
  const { body } = request;
  if (body === undefined || body === null || body === '') return undefined;
  if (typeof body === 'string') return body;
  headers['content-type'] ??= 'application/json';
  return JSON.stringify(body);
}

function isJsonType(contentType: string | null): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

function parseBody(text: string, format: HttpRequestSpec['response_format'], contentType: string | null, host: string): unknown {
  if (format === 'text') return text;
  if (format === 'json') {
    if (text.trim() === '') return null;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new NodeError(`The response from ${host} is not valid JSON (response_format is json).`, { reason: 'invalid_json' });
    }
  }
  if (!isJsonType(contentType)) return text;
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // `auto` is lenient: a server that labels text as JSON still gets its text through.
    return text;
  }
}

/** Masks secrets wherever a server echoed them (some echo the key they were given). */
function scrubValue(value: unknown, secrets: readonly string[]): unknown {
  if (secrets.length === 0) return value;
  if (typeof value === 'string') return scrubSecrets(value, secrets);
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, secrets));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [scrubSecrets(key, secrets), scrubValue(item, secrets)]));
  }
  return value;
}

interface Attempt {
  url: URL;
  timeoutMs: number;
  timedOut: () => boolean;
  /** The account's secrets in every form a server could echo them; grows when a token is fetched. */
  secrets: readonly string[];
}

/**
 * The node's failure in words without secrets, or the error as it is when it is not the request's
 * fault (a cancelled execution, a platform error).
 */
function failureOf(error: unknown, signal: AbortSignal, attempt: Attempt): unknown {
  if (signal.aborted) return error;
  const scrub = (message: string) => scrubSecrets(message, attempt.secrets);
  const host = attempt.url.host;
  if (attempt.timedOut() || error instanceof OutboundTimeoutError) {
    return new NodeError(scrub(new OutboundTimeoutError(host, attempt.timeoutMs).message), { reason: 'timeout' });
  }
  if (error instanceof OutboundBlockedError) return new NodeError(scrub(error.message), { reason: 'blocked' });
  if (error instanceof OutboundNetworkError) {
    if ((error.cause as { code?: unknown } | undefined)?.code === 'RESPONSE_TOO_LARGE') {
      const limit = `${HTTP_NODE_MAX_RESPONSE_BYTES / (1024 * 1024)} MB`;
      return new NodeError(scrub(`The response from ${host} is larger than ${limit}, the limit of an HTTP request.`), { reason: 'too_large' });
    }
    return new NodeError(scrub(error.message), { reason: 'network' });
  }
  if (error instanceof NodeError) return new NodeError(scrub(error.message), error.details);
  // A token that could not be refreshed, or its provider unreachable: the account's own words.
  if (error instanceof AppError && (error.code === 'VALIDATION' || error.code === 'BAD_GATEWAY')) {
    return new NodeError(scrub(error.publicMessage ?? 'The account’s provider could not be reached.'), { reason: 'account' });
  }
  return error;
}

/**
 * The HTTP request node's service for one execution: sends the request through the outbound
 * guard (private, loopback and link-local targets refused unless ATHENA_OUTBOUND_ALLOW opens them,
 * on every redirect and after DNS), within `timeout_ms` (capped by ATHENA_OUTBOUND_TIMEOUT) and
 * HTTP_NODE_MAX_RESPONSE_BYTES, signed by `account_uuid`'s credentials as the HTTP tools sign theirs.
 * A non-2xx answer is returned, not thrown; failures are NodeErrors whose messages carry no secret.
 */
export function createHttpService(ctx: AppContext, scope: HttpServiceScope): NodeHttp {
  return async (request, signal) => {
    signal.throwIfAborted();
    const signer = request.account_uuid ? await signerOf(ctx, scope, request.account_uuid) : undefined;
    const url = urlOf(request, signer);
    const cap = ctx.config.outboundTimeoutMs;
    const timeoutMs = Number.isFinite(request.timeout_ms) && request.timeout_ms > 0 ? Math.min(request.timeout_ms, cap) : cap;
    const method = (request.method || 'GET').toUpperCase();
    const headers: Record<string, string> = {};
    for (const [name, value] of stringsOf(request.headers)) headers[name.toLowerCase()] = value;
    const body = bodyOf(request, headers);
    if (body !== undefined && (method === 'GET' || method === 'HEAD')) throw new NodeError(`A ${method} request cannot have a body.`);

    const strategy = signer?.account.provider_authentication_strategy ?? 'none';
    let accessToken: string | null = null;

    // One deadline for the whole exchange, the body included, and the execution's cancel.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new OutboundTimeoutError(url.host, timeoutMs));
    }, timeoutMs);
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const attempt: Attempt = { url, timeoutMs, timedOut: () => timedOut, secrets: signer ? secretStringsOf(signer.credentials) : [] };

    const send = async (): Promise<Response> => {
      const target = new URL(url);
      const signed = { ...headers };
      if (signer) injectCredentials({ url: target, headers: signed }, strategy, providerAuthConfig(signer.provider), signer.credentials, accessToken);
      let outgoing: Request;
      try {
        outgoing = new Request(target, { method, headers: signed, body, signal: controller.signal });
      } catch (error) {
        // fetch's own checks: a forbidden method, a header value it cannot send.
        throw new NodeError(`The request cannot be sent: ${error instanceof Error ? error.message : String(error)}`);
      }
      return fetchOf(ctx.config)(outgoing, { signal: controller.signal });
    };

    try {
      if (signer && strategy === 'oauth2') {
        accessToken = await accessTokenOf(ctx, signer.account, signer.provider);
        attempt.secrets = secretStringsOf(signer.credentials, accessToken);
      }
      let response = await send();
      if (response.status === 401 && signer && strategy === 'oauth2') {
        // The token may have been revoked or expired early: one refresh, one retry.
        await response.body?.cancel();
        accessToken = await refreshAccessToken(ctx, signer.account, signer.provider);
        attempt.secrets = secretStringsOf(signer.credentials, accessToken);
        response = await send();
      }
      const text = Buffer.from(await response.arrayBuffer()).toString('utf8');
      const responseHeaders: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        responseHeaders[name] = value;
      });
      const parsed = parseBody(text, request.response_format, response.headers.get('content-type'), url.host);
      return {
        status: response.status,
        headers: scrubValue(responseHeaders, attempt.secrets) as Record<string, string>,
        body: scrubValue(parsed, attempt.secrets),
      };
    } catch (error) {
      throw failureOf(error, signal, attempt);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  };
}
