import { createHash, randomBytes } from 'node:crypto';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { newId, now } from '../../db/values.js';
import { AppError, fieldError } from '../../errors.js';
import { OutboundBlockedError, OutboundNetworkError, OutboundTimeoutError, outboundClientOf, type OutboundResponse } from '../../lib/outbound/outbound-client.js';
import { findProviderById } from '../providers/providers.repository.js';
import { getVisibleProviderOrThrow, providerAuthConfig, providerClientSecret } from '../providers/providers.service.js';
import type { ProviderRow } from '../providers/providers.table.js';
import { secretsOf } from '../secrets/secrets.service.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import * as repo from './accounts.repository.js';
import type { AccountRow, AccountScope } from './accounts.table.js';

const STATE_TTL_MS = 10 * 60_000;
/** Tokens are refreshed this long before they expire, so a call never starts with a dying token. */
export const REFRESH_MARGIN_MS = 60_000;

interface OAuth2Settings {
  clientId: string;
  authorizeUrl: string;
  tokenUrl: string;
  userUrl: string | null;
  revokeUrl: string | null;
  redirectUrl: string | null;
  scopes: string[];
  separator: string;
  pkce: boolean;
  clientAuthentication: 'post' | 'basic';
  parameters: Record<string, string>;
  headers: Record<string, string>;
}

function settingsOf(provider: ProviderRow): OAuth2Settings {
  const oauth2 = (providerAuthConfig(provider).oauth2 ?? {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
  const separator = text(oauth2.scope_separator);
  const stringMap = (value: unknown) =>
    Object.fromEntries(Object.entries((value ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  return {
    clientId: text(oauth2.client_id) ?? '',
    authorizeUrl: text(oauth2.authorize_url) ?? '',
    tokenUrl: text(oauth2.token_url) ?? '',
    userUrl: text(oauth2.user_url),
    revokeUrl: text(oauth2.revoke_url),
    redirectUrl: text(oauth2.redirect_url),
    scopes: Array.isArray(oauth2.scopes) ? (oauth2.scopes as string[]) : [],
    separator: separator === null || separator === 'space' ? ' ' : separator === 'comma' ? ',' : separator,
    // PKCE unless the provider says it does not support it.
    pkce: oauth2.pkce !== false,
    clientAuthentication: oauth2.client_authentication === 'basic' ? 'basic' : 'post',
    parameters: stringMap(oauth2.parameters),
    headers: stringMap(oauth2.headers),
  };
}

function hashState(state: string): string {
  return createHash('sha256').update(state).digest('hex');
}

/** Where the provider sends the browser back: the provider's redirect_url, else this server's callback. */
export function callbackUrl(baseUrl: string): string {
  return `${baseUrl}/api/v1/oauth2/callback`;
}

/**
 * Starts an authorization: a single-use state bound to the caller (stored hashed) and, where the
 * provider supports it, a PKCE verifier (stored encrypted). Answers the URL to send the browser to.
 */
export async function startAuthorization(
  ctx: AppContext,
  scope: WorkspaceScope,
  providerId: string,
  options: { scope?: AccountScope; provider_display_name?: string; baseUrl: string },
): Promise<{ authorization_url: string; state: string; expires_at: string }> {
  const db = ctx.db.kysely;
  const provider = await getVisibleProviderOrThrow(db, scope, providerId);
  if (provider.authentication_strategy !== 'oauth2') {
    throw fieldError('provider_uuid', `The ${provider.name} provider does not use oauth2.`);
  }
  if (!provider.is_enabled) throw fieldError('provider_uuid', 'The selected provider is disabled.');
  const settings = settingsOf(provider);
  const state = randomBytes(32).toString('base64url');
  const verifier = settings.pkce ? randomBytes(48).toString('base64url') : null;
  const redirectUri = settings.redirectUrl ?? callbackUrl(options.baseUrl);
  const expiresAt = new Date(Date.now() + STATE_TTL_MS).toISOString();
  await repo.deleteExpiredOAuth2States(db, now());
  await repo.insertOAuth2State(db, {
    id: hashState(state),
    workspace_id: scope.workspaceId,
    user_id: scope.userId,
    provider_id: provider.id,
    code_verifier_encrypted: verifier === null ? null : await secretsOf(ctx).encrypt(db, scope.workspaceId, verifier),
    redirect_uri: redirectUri,
    scope: options.scope ?? 'private',
    provider_display_name: options.provider_display_name ?? null,
    expires_at: expiresAt,
    created_at: now(),
  });
  const url = new URL(settings.authorizeUrl);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', settings.clientId);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('state', state);
  if (settings.scopes.length > 0) url.searchParams.set('scope', settings.scopes.join(settings.separator));
  if (verifier !== null) {
    url.searchParams.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
    url.searchParams.set('code_challenge_method', 'S256');
  }
  for (const [key, value] of Object.entries(settings.parameters)) url.searchParams.set(key, value);
  return { authorization_url: url.toString(), state, expires_at: expiresAt };
}

interface TokenSet {
  access_token: string;
  refresh_token?: string;
  expires_in?: number;
  scope?: string;
}

function describeOutboundError(error: unknown, field: string): AppError {
  if (error instanceof OutboundBlockedError) return fieldError(field, error.message);
  if (error instanceof OutboundTimeoutError || error instanceof OutboundNetworkError) {
    return new AppError('BAD_GATEWAY', `The provider could not be reached: ${error.message}`, { cause: error });
  }
  return error instanceof AppError ? error : new AppError('INTERNAL', undefined, { cause: error });
}

/** The provider's reason in an error answer (OAuth2 `error_description`, `error.message`, …). */
export function reasonOf(response: OutboundResponse): string {
  const body = response.json<Record<string, unknown>>();
  const candidates: unknown[] = [];
  if (body && typeof body === 'object') {
    const error = body.error as unknown;
    candidates.push(body.error_description);
    if (error && typeof error === 'object') candidates.push((error as Record<string, unknown>).message);
    candidates.push(body.message, body.detail, typeof error === 'string' ? error : undefined);
  }
  const found = candidates.find((c) => typeof c === 'string' && c.trim() !== '') as string | undefined;
  const text = found ?? (response.text.trim() || `HTTP ${response.status}`);
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

async function tokenRequest(ctx: AppContext, provider: ProviderRow, form: Record<string, string>): Promise<OutboundResponse> {
  const settings = settingsOf(provider);
  const secret = await providerClientSecret(ctx, provider);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
    ...settings.headers,
  };
  const body = new URLSearchParams({ ...form, client_id: settings.clientId });
  if (settings.clientAuthentication === 'basic') {
    body.delete('client_id');
    const encode = (value: string) => encodeURIComponent(value);
    headers.authorization = `Basic ${Buffer.from(`${encode(settings.clientId)}:${encode(secret ?? '')}`).toString('base64')}`;
  } else if (secret !== null) {
    body.set('client_secret', secret);
  }
  return outboundClientOf(ctx.config).request({ method: 'POST', url: settings.tokenUrl, headers, body: body.toString() });
}

function parseTokenSet(response: OutboundResponse): TokenSet | undefined {
  const body = response.json<Record<string, unknown>>();
  if (!body || typeof body.access_token !== 'string' || body.access_token === '') return undefined;
  const expiresIn = Number(body.expires_in);
  return {
    access_token: body.access_token,
    refresh_token: typeof body.refresh_token === 'string' ? body.refresh_token : undefined,
    expires_in: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : undefined,
    scope: typeof body.scope === 'string' ? body.scope : undefined,
  };
}

/** The id of the user at the provider, from its user-info URL (guarded: custom providers set it). */
export async function fetchOAuth2Identity(ctx: AppContext, provider: ProviderRow, accessToken: string): Promise<OutboundResponse | undefined> {
  const settings = settingsOf(provider);
  if (!settings.userUrl) return undefined;
  return outboundClientOf(ctx.config).request({
    url: settings.userUrl,
    headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json', ...settings.headers },
  });
}

export function identityOf(response: OutboundResponse): string | null {
  const body = response.json<Record<string, unknown>>();
  if (!body) return null;
  for (const key of ['sub', 'id', 'user_id', 'login', 'email', 'username']) {
    const value = body[key];
    if (typeof value === 'string' || typeof value === 'number') return String(value);
  }
  return null;
}

/**
 * The OAuth2 callback: takes the state out (single use; unknown, replayed or expired states are
 * refused), exchanges the code with the PKCE verifier and stores the tokens as an account of the
 * user who started the flow.
 */
export async function completeAuthorization(
  ctx: AppContext,
  query: { state?: string; code?: string; error?: string; error_description?: string },
): Promise<AccountRow> {
  const db = ctx.db.kysely;
  if (!query.state) throw fieldError('state', 'The state field is required.');
  const pending = await repo.consumeOAuth2State(db, hashState(query.state));
  if (!pending || Date.parse(pending.expires_at) < Date.now()) {
    throw fieldError('state', 'The state is invalid, expired or already used.');
  }
  if (query.error) throw fieldError('code', `The provider refused the authorization: ${query.error_description ?? query.error}.`);
  if (!query.code) throw fieldError('code', 'The code field is required.');
  const provider = await findProviderById(db, pending.provider_id);
  if (!provider) throw fieldError('state', 'The state is invalid, expired or already used.');
  const box = secretsOf(ctx);
  const verifier = await box.decryptOptional(db, pending.workspace_id, pending.code_verifier_encrypted);
  let response: OutboundResponse;
  try {
    response = await tokenRequest(ctx, provider, {
      grant_type: 'authorization_code',
      code: query.code,
      redirect_uri: pending.redirect_uri,
      ...(verifier === null ? {} : { code_verifier: verifier }),
    });
  } catch (error) {
    throw describeOutboundError(error, 'code');
  }
  const tokens = response.status >= 200 && response.status < 300 ? parseTokenSet(response) : undefined;
  if (!tokens) throw fieldError('code', `The provider refused the code: ${reasonOf(response)}`);
  let providerAccountId: string | null = null;
  try {
    const identity = await fetchOAuth2Identity(ctx, provider, tokens.access_token);
    if (identity && identity.status >= 200 && identity.status < 300) providerAccountId = identityOf(identity);
  } catch (error) {
    ctx.log.warn({ provider: provider.slug, reason: (error as Error).message }, 'oauth2 user info failed');
  }
  const at = now();
  return repo.insertAccount(db, {
    id: newId(),
    workspace_id: pending.workspace_id,
    user_id: pending.user_id,
    provider_id: provider.id,
    provider_display_name: pending.provider_display_name ?? provider.name,
    provider_authentication_strategy: 'oauth2',
    provider_account_id: providerAccountId,
    scope: pending.scope,
    base_url: null,
    username: null,
    token_encrypted: null,
    password_encrypted: null,
    access_token_encrypted: await box.encrypt(db, pending.workspace_id, tokens.access_token),
    refresh_token_encrypted: await box.encryptOptional(db, pending.workspace_id, tokens.refresh_token),
    token_expires_at: tokens.expires_in ? new Date(Date.now() + tokens.expires_in * 1000).toISOString() : null,
    oauth_scopes: tokens.scope ?? null,
    verification_status: providerAccountId !== null ? 'verified' : 'unverified',
    verification_error: null,
    verified_at: providerAccountId !== null ? at : null,
    created_at: at,
    updated_at: at,
  });
}

/** One refresh per account at a time in this process: concurrent callers share it. */
const refreshing = new Map<string, Promise<string>>();

/**
 * Exchanges the refresh token for a new access token and stores it. A failed refresh changes
 * nothing stored: the old tokens stay, and the caller gets the provider's reason.
 */
export function refreshAccessToken(ctx: AppContext, account: AccountRow, provider: ProviderRow): Promise<string> {
  let pending = refreshing.get(account.id);
  if (!pending) {
    pending = doRefresh(ctx, account, provider).finally(() => refreshing.delete(account.id));
    refreshing.set(account.id, pending);
  }
  return pending;
}

async function doRefresh(ctx: AppContext, account: AccountRow, provider: ProviderRow): Promise<string> {
  const db = ctx.db.kysely;
  if (ctx.db.dialect === 'postgres') {
    // Across the processes of a fleet: the row lock makes the others wait for this refresh and
    // then find its result, instead of spending the refresh token a second time.
    return db.transaction().execute(async (trx) => {
      await trx
        .selectFrom('connected_accounts')
        .select('id')
        .where('id', '=', account.id)
        .where('workspace_id', '=', account.workspace_id)
        .forUpdate()
        .execute();
      return refreshWith(ctx, trx, account, provider);
    });
  }
  // SQLite has one process: the in-process coalescing is enough, and no write lock is held
  // across the network call.
  return refreshWith(ctx, db, account, provider);
}

async function refreshWith(ctx: AppContext, db: Executor, account: AccountRow, provider: ProviderRow): Promise<string> {
  const box = secretsOf(ctx);
  const latest = (await repo.findUsableAccount(db, account.workspace_id, account.user_id, account.id)) ?? account;
  if (latest.access_token_encrypted !== null && latest.access_token_encrypted !== account.access_token_encrypted) {
    // Refreshed by another request since the caller read the account: use that token.
    return box.decrypt(db, latest.workspace_id, latest.access_token_encrypted);
  }
  const refreshToken = await box.decryptOptional(db, latest.workspace_id, latest.refresh_token_encrypted);
  if (!refreshToken) throw fieldError('token', 'The access token has expired and the provider gave no refresh token: connect the account again.');
  let response: OutboundResponse;
  try {
    response = await tokenRequest(ctx, provider, { grant_type: 'refresh_token', refresh_token: refreshToken });
  } catch (error) {
    throw describeOutboundError(error, 'token');
  }
  const tokens = response.status >= 200 && response.status < 300 ? parseTokenSet(response) : undefined;
  if (!tokens) throw fieldError('token', `The provider refused to refresh the token: ${reasonOf(response)}`);
  await repo.updateAccount(db, latest.workspace_id, latest.id, {
    access_token_encrypted: await box.encrypt(db, latest.workspace_id, tokens.access_token),
    ...(tokens.refresh_token ? { refresh_token_encrypted: await box.encrypt(db, latest.workspace_id, tokens.refresh_token) } : {}),
    token_expires_at: tokens.expires_in ? new Date(Date.now() + tokens.expires_in * 1000).toISOString() : null,
    updated_at: now(),
  });
  return tokens.access_token;
}

/** A usable access token: the stored one, or a fresh one when it expires within the margin. */
export async function accessTokenOf(ctx: AppContext, account: AccountRow, provider: ProviderRow): Promise<string> {
  const expiresAt = account.token_expires_at ? Date.parse(account.token_expires_at) : undefined;
  if (expiresAt !== undefined && expiresAt - Date.now() < REFRESH_MARGIN_MS) return refreshAccessToken(ctx, account, provider);
  const token = await secretsOf(ctx).decryptOptional(ctx.db.kysely, account.workspace_id, account.access_token_encrypted);
  if (!token) return refreshAccessToken(ctx, account, provider);
  return token;
}

/** RFC 7009 revocation when the provider has a `revoke_url`; best effort, the delete goes on. */
export async function revokeTokens(ctx: AppContext, account: AccountRow, provider: ProviderRow): Promise<void> {
  const settings = settingsOf(provider);
  if (!settings.revokeUrl) return;
  const box = secretsOf(ctx);
  const db = ctx.db.kysely;
  const tokens: Array<[string | null, string]> = [
    [await box.decryptOptional(db, account.workspace_id, account.refresh_token_encrypted), 'refresh_token'],
    [await box.decryptOptional(db, account.workspace_id, account.access_token_encrypted), 'access_token'],
  ];
  for (const [token, hint] of tokens) {
    if (!token) continue;
    const secret = await providerClientSecret(ctx, provider);
    const body = new URLSearchParams({ token, token_type_hint: hint, client_id: settings.clientId });
    if (secret !== null) body.set('client_secret', secret);
    try {
      const response = await outboundClientOf(ctx.config).request({
        method: 'POST',
        url: settings.revokeUrl,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: body.toString(),
      });
      if (response.status >= 400) ctx.log.warn({ provider: provider.slug, status: response.status }, 'oauth2 revocation refused');
    } catch (error) {
      ctx.log.warn({ provider: provider.slug, reason: (error as Error).message }, 'oauth2 revocation failed');
    }
  }
}
