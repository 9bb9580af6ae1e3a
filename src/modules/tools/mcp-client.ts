import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import type { AppContext } from '../../context.js';
import { fieldError } from '../../errors.js';
import { OutboundBlockedError, OutboundNetworkError, OutboundTimeoutError } from '../../lib/outbound/outbound-client.js';
import { guardedFetchOf, type GuardedFetch } from '../../lib/outbound/guarded-fetch.js';
import { VERSION } from '../../version.js';
import { accessTokenOf, refreshAccessToken } from '../accounts/accounts.oauth2.js';
import { credentialsOf } from '../accounts/accounts.service.js';
import type { AccountRow } from '../accounts/accounts.table.js';
import { injectCredentials, scrubSecrets, secretStringsOf } from '../accounts/credential-injection.js';
import { providerAuthConfig, providerMetadata } from '../providers/providers.service.js';
import type { ProviderRow } from '../providers/providers.table.js';

/**
 * The MCP SDK, loaded on the first connection: it takes about 150 ms and 28 MB to load, and
 * most instances never connect an MCP server, so starting the server does not pay for it.
 */
type McpSdk = {
  Client: typeof import('@modelcontextprotocol/sdk/client/index.js').Client;
  StreamableHTTPClientTransport: typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js').StreamableHTTPClientTransport;
  StreamableHTTPError: typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js').StreamableHTTPError;
  McpError: typeof import('@modelcontextprotocol/sdk/types.js').McpError;
  ErrorCode: typeof import('@modelcontextprotocol/sdk/types.js').ErrorCode;
};
let mcpSdk: McpSdk | undefined;

async function loadMcpSdk(): Promise<McpSdk> {
  if (mcpSdk) return mcpSdk;
  const [client, http, types] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/types.js'),
  ]);
  mcpSdk = {
    Client: client.Client,
    StreamableHTTPClientTransport: http.StreamableHTTPClientTransport,
    StreamableHTTPError: http.StreamableHTTPError,
    McpError: types.McpError,
    ErrorCode: types.ErrorCode,
  };
  return mcpSdk;
}

/** The server refused the account's credentials (401/403). */
export class McpRejectedError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(`The MCP server rejected the credentials: ${reason}`);
    this.name = 'McpRejectedError';
  }
}

/** The server answered, but not as an MCP server should (an HTTP error, a protocol error). */
export class McpServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'McpServerError';
  }
}

/** How long a connected client is kept for the next call of the same account. */
export const MCP_IDLE_MS = 60_000;
const MAX_TOOL_PAGES = 50;
const MAX_TOOLS = 1000;

interface Endpoint {
  url: URL;
  headers: Record<string, string>;
  secrets: string[];
}

/** The MCP endpoint of an account: its base URL (or the provider's default) with its credentials. */
async function endpointOf(ctx: AppContext, account: AccountRow, provider: ProviderRow, accessToken: string | null): Promise<Endpoint> {
  const base = account.base_url ?? providerMetadata(provider).default_base_url ?? null;
  if (!base) throw fieldError('base_url', `The base url field is required for the ${provider.name} provider.`);
  const credentials = await credentialsOf(ctx, account);
  const url = new URL(base);
  const headers: Record<string, string> = {};
  injectCredentials({ url, headers }, account.provider_authentication_strategy, providerAuthConfig(provider), credentials, accessToken);
  return { url, headers, secrets: secretStringsOf(credentials, accessToken) };
}

/** The reason an HTTP error body gives (JSON-RPC `error.message`, `message`, …) or its text. */
function reasonOfBody(text: string, status: number, secrets: readonly string[]): string {
  let reason = text.trim();
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const error = body.error as unknown;
    const candidates = [
      error && typeof error === 'object' ? (error as Record<string, unknown>).message : undefined,
      body.error_description,
      body.message,
      body.detail,
      typeof error === 'string' ? error : undefined,
    ];
    const found = candidates.find((c): c is string => typeof c === 'string' && c.trim() !== '');
    if (found) reason = found;
  } catch {
    // Not JSON: the text is the reason.
  }
  if (reason === '') reason = `HTTP ${status}`;
  reason = scrubSecrets(reason, secrets);
  return reason.length > 300 ? `${reason.slice(0, 297)}...` : reason;
}

/** A connected client and the last HTTP failure its requests met. */
interface Connection {
  client: Client;
  endpoint: Endpoint;
  lastFailure(): { status: number; text: string } | undefined;
}

/** Translates what the SDK threw into our errors, using the HTTP failure the fetch saw. */
function translate(error: unknown, connection: Pick<Connection, 'lastFailure' | 'endpoint'>, timeoutMs: number): Error {
  if (
    error instanceof OutboundBlockedError ||
    error instanceof OutboundTimeoutError ||
    error instanceof OutboundNetworkError ||
    error instanceof McpRejectedError ||
    error instanceof McpServerError ||
    (error instanceof Error && error.name === 'AbortError')
  ) {
    return error;
  }
  const { secrets, url } = connection.endpoint;
  const failure = connection.lastFailure();
  // A connection exists, so the SDK is loaded.
  const { StreamableHTTPError, McpError, ErrorCode } = mcpSdk!;
  if (error instanceof StreamableHTTPError) {
    const status = error.code !== undefined && error.code > 0 ? error.code : (failure?.status ?? 0);
    const reason = failure && failure.status === status ? reasonOfBody(failure.text, status, secrets) : scrubSecrets(error.message, secrets);
    if (status === 401 || status === 403) return new McpRejectedError(status, reason);
    return new McpServerError(`The MCP server answered ${status || 'with an error'}: ${reason}`);
  }
  if (error instanceof McpError) {
    if (error.code === ErrorCode.RequestTimeout) return new OutboundTimeoutError(url.host, timeoutMs);
    return new McpServerError(`The MCP server answered with an error: ${scrubSecrets(error.message, secrets)}`);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new McpServerError(`The MCP server could not be used: ${scrubSecrets(message, secrets).slice(0, 300)}`);
}

async function connect(ctx: AppContext, endpoint: Endpoint): Promise<Connection> {
  const guarded: GuardedFetch = guardedFetchOf(ctx.config);
  let failure: { status: number; text: string } | undefined;
  // Remembers the body of an HTTP error: the SDK keeps only a summary, and the reason matters.
  const fetcher: GuardedFetch = async (input, init) => {
    const response = await guarded(input, init);
    if (response.status >= 400 && response.status !== 405) {
      failure = { status: response.status, text: await response.clone().text().catch(() => '') };
    }
    return response;
  };
  const { Client, StreamableHTTPClientTransport } = await loadMcpSdk();
  const transport = new StreamableHTTPClientTransport(endpoint.url, {
    fetch: fetcher,
    requestInit: { headers: endpoint.headers },
    // A dropped event stream is not retried in the background: the next call reconnects.
    reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 },
  });
  const client = new Client({ name: 'athena', version: VERSION }, { capabilities: {} });
  // Errors of the background event stream; each request reports its own failure.
  client.onerror = () => undefined;
  const connection: Connection = { client, endpoint, lastFailure: () => failure };
  try {
    await client.connect(transport, { timeout: ctx.config.outboundTimeoutMs });
  } catch (error) {
    await client.close().catch(() => undefined);
    throw translate(error, connection, ctx.config.outboundTimeoutMs);
  }
  return connection;
}

/** Connects with the account's credentials; an OAuth2 token the server refuses is refreshed once. */
async function connectAccount(ctx: AppContext, account: AccountRow, provider: ProviderRow): Promise<Connection> {
  if (account.provider_authentication_strategy !== 'oauth2') return connect(ctx, await endpointOf(ctx, account, provider, null));
  const token = await accessTokenOf(ctx, account, provider);
  try {
    return await connect(ctx, await endpointOf(ctx, account, provider, token));
  } catch (error) {
    if (!(error instanceof McpRejectedError) || error.status !== 401) throw error;
    const fresh = await refreshAccessToken(ctx, account, provider);
    return connect(ctx, await endpointOf(ctx, account, provider, fresh));
  }
}

export interface McpServerListing {
  serverName: string | null;
  serverVersion: string | null;
  tools: McpTool[];
}

/**
 * Connects to an account's MCP server, initializes and lists its tools (every page), then
 * disconnects. Throws McpRejectedError (credentials refused), McpServerError, or the outbound
 * errors (blocked, unreachable, timed out).
 */
export async function listMcpServerTools(ctx: AppContext, account: AccountRow, provider: ProviderRow): Promise<McpServerListing> {
  const connection = await connectAccount(ctx, account, provider);
  const { client } = connection;
  try {
    const tools: McpTool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_TOOL_PAGES && tools.length < MAX_TOOLS; page++) {
      const result = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: ctx.config.outboundTimeoutMs });
      tools.push(...result.tools);
      cursor = result.nextCursor;
      if (!cursor) break;
    }
    const server = client.getServerVersion();
    return { serverName: server?.name ?? null, serverVersion: server?.version ?? null, tools: tools.slice(0, MAX_TOOLS) };
  } catch (error) {
    throw translate(error, connection, ctx.config.outboundTimeoutMs);
  } finally {
    await client.close().catch(() => undefined);
  }
}

interface PooledClient {
  version: string;
  connection: Promise<Connection>;
  active: number;
  idle: NodeJS.Timeout | undefined;
}

const pools = new WeakMap<AppContext, Map<string, PooledClient>>();

function poolOf(ctx: AppContext): Map<string, PooledClient> {
  let pool = pools.get(ctx);
  if (!pool) {
    pool = new Map();
    pools.set(ctx, pool);
  }
  return pool;
}

function drop(pool: Map<string, PooledClient>, accountId: string, entry: PooledClient): void {
  clearTimeout(entry.idle);
  if (pool.get(accountId) === entry) pool.delete(accountId);
  entry.connection.then((c) => c.client.close()).catch(() => undefined);
}

/** The account as the pool knows it: any change (credentials, base URL, refreshed token) means a new client. */
function versionOf(account: AccountRow): string {
  return `${account.updated_at}|${account.base_url ?? ''}|${account.verified_at ?? ''}`;
}

/**
 * Runs `work` with a connected client of the account, reusing one connected in the last
 * MCP_IDLE_MS. A session the server has forgotten (404) is reconnected once.
 */
export async function withMcpClient<T>(ctx: AppContext, account: AccountRow, provider: ProviderRow, work: (client: Client) => Promise<T>): Promise<T> {
  const pool = poolOf(ctx);
  for (let attempt = 0; ; attempt++) {
    let entry = pool.get(account.id);
    if (entry && entry.version !== versionOf(account)) {
      drop(pool, account.id, entry);
      entry = undefined;
    }
    if (!entry) {
      const created: PooledClient = { version: versionOf(account), connection: connectAccount(ctx, account, provider), active: 0, idle: undefined };
      created.connection.catch(() => {
        if (pool.get(account.id) === created) pool.delete(account.id);
      });
      pool.set(account.id, created);
      entry = created;
    }
    clearTimeout(entry.idle);
    entry.active++;
    let connection: Connection | undefined;
    try {
      connection = await entry.connection;
      return await work(connection.client);
    } catch (error) {
      const translated = connection ? translate(error, connection, ctx.config.outboundTimeoutMs) : (error as Error);
      const sessionLost = translated instanceof McpServerError && /answered 404/.test(translated.message);
      // A JSON-RPC error answer or a cancelled call leaves the session usable; anything else may not.
      const sdk = mcpSdk;
      const sessionFine =
        (sdk !== undefined &&
          error instanceof sdk.McpError &&
          error.code !== sdk.ErrorCode.ConnectionClosed &&
          error.code !== sdk.ErrorCode.RequestTimeout) ||
        (error instanceof Error && error.name === 'AbortError');
      if (connection && !sessionFine) drop(pool, account.id, entry);
      if (sessionLost && attempt === 0) continue;
      throw translated;
    } finally {
      entry.active--;
      if (entry.active === 0 && pool.get(account.id) === entry) {
        const idle = entry;
        idle.idle = setTimeout(() => drop(pool, account.id, idle), MCP_IDLE_MS);
        idle.idle.unref();
      }
    }
  }
}

/** Closes every pooled MCP client of the app (on close). */
export async function closeMcpClients(ctx: AppContext): Promise<void> {
  const pool = pools.get(ctx);
  if (!pool) return;
  const entries = [...pool.entries()];
  pool.clear();
  await Promise.all(
    entries.map(async ([, entry]) => {
      clearTimeout(entry.idle);
      await entry.connection.then((c) => c.client.close()).catch(() => undefined);
    }),
  );
}

/** Forgets the pooled client of an account (after it was verified again or changed). */
export function dropMcpClient(ctx: AppContext, accountId: string): void {
  const pool = pools.get(ctx);
  const entry = pool?.get(accountId);
  if (pool && entry) drop(pool, accountId, entry);
}

/** Calls a tool of the account's server. */
export function callMcpTool(
  ctx: AppContext,
  account: AccountRow,
  provider: ProviderRow,
  name: string,
  input: unknown,
  signal: AbortSignal,
): Promise<CallToolResult> {
  return withMcpClient(ctx, account, provider, async (client) => {
    const result = await client.callTool({ name, arguments: (input ?? {}) as Record<string, unknown> }, undefined, {
      signal,
      timeout: ctx.config.outboundTimeoutMs,
    });
    return result as CallToolResult;
  });
}

/** Secrets of an account as they could appear in its server's answers, to mask them. */
export async function mcpSecretsOf(ctx: AppContext, account: AccountRow): Promise<string[]> {
  return secretStringsOf(await credentialsOf(ctx, account));
}
