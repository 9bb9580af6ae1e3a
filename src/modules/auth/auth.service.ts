import type { AppContext } from '../../context.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { containsText, isUniqueViolation, newId, now } from '../../db/values.js';
import { AppError, fieldError } from '../../errors.js';
import { findUserByEmail, findUserByMultiplaiId, updateUser } from '../users/users.repository.js';
import { createUserWithPrimaryWorkspace, registerUser } from '../users/users.service.js';
import type { UserRow } from '../users/users.table.js';
import * as repo from './auth.repository.js';
import type { AccessTokenRow } from './auth.table.js';
import type { WorkspaceWithRole } from '../workspaces/workspaces.repository.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';
import { hashToken, issueToken, looksLikeJwt } from './tokens.js';

/** Who made a request, and with what. */
export interface Principal {
  user: UserRow;
  via: 'session' | 'personal' | 'basic' | 'jwt';
  /** The access token used; null for JWTs of the identity provider. */
  tokenId: string | null;
  /**
   * The user's primary workspace and role, remembered with the principal once looked up (most
   * requests act there). Workspace and membership changes evict the principal.
   */
  primary?: WorkspaceWithRole;
}

/** last_used_at is written at most this often per token, so reads stay reads. */
const TOUCH_INTERVAL_MS = 60_000;
/** A user keeps at most this many live personal tokens. */
export const MAX_PERSONAL_TOKENS = 100;

async function principalFromToken(ctx: AppContext, plain: string, via: Principal['via'], email?: string): Promise<Principal | undefined> {
  const hash = hashToken(plain);
  const key = `${via === 'basic' ? 'basic' : 'bearer'}:${hash}`;
  const clock = Date.now();
  const cached = ctx.principals.get(key, clock);
  let principal: Principal;
  if (cached) {
    principal = cached.principal;
    if (clock - cached.touchedAt > TOUCH_INTERVAL_MS) {
      cached.touchedAt = clock;
      await repo.touchAccessToken(ctx.db.kysely, principal.tokenId!, new Date(clock).toISOString());
    }
  } else {
    const at = new Date(clock).toISOString();
    const found = await repo.findLiveTokenByHash(ctx.db.kysely, hash, at);
    if (!found) return undefined;
    principal = { user: found.user, via: via === 'basic' ? 'basic' : found.token.kind, tokenId: found.token.id };
    const lastUsed = found.token.last_used_at ? Date.parse(found.token.last_used_at) : 0;
    let touchedAt = lastUsed;
    if (clock - lastUsed > TOUCH_INTERVAL_MS) {
      await repo.touchAccessToken(ctx.db.kysely, found.token.id, at);
      touchedAt = clock;
    }
    ctx.principals.set(key, principal, found.token.expires_at ? Date.parse(found.token.expires_at) : undefined, touchedAt);
  }
  if (email !== undefined && principal.user.email !== email.toLowerCase()) return undefined;
  return principal;
}

/** `Authorization: Bearer …` or `x-api-key`: an access token, a personal token or an app JWT. */
export async function authenticateBearer(ctx: AppContext, token: string): Promise<Principal | undefined> {
  if (token.length === 0 || token.length > 4096) return undefined;
  if (looksLikeJwt(token)) return ctx.oidc ? authenticateJwt(ctx, token) : undefined;
  return principalFromToken(ctx, token, 'session');
}

/** `Authorization: Basic base64(email:api_token)`. */
export async function authenticateBasic(ctx: AppContext, encoded: string): Promise<Principal | undefined> {
  if (encoded.length > 8192) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator <= 0) return undefined;
  const email = decoded.slice(0, separator);
  const token = decoded.slice(separator + 1);
  if (!token) return undefined;
  return principalFromToken(ctx, token, 'basic', email);
}

/**
 * A JWT of the external identity provider. The user is found by `multiplai_id` (the token's
 * subject) or provisioned with a primary workspace. An existing account with the same email is
 * linked only when the provider says the email is verified; otherwise it could be taken over.
 */
async function authenticateJwt(ctx: AppContext, token: string): Promise<Principal | undefined> {
  // A verified token is remembered (never past its own expiry): signature checks are costly.
  const key = `jwt:${hashToken(token)}`;
  const cached = ctx.principals.get(key, Date.now());
  if (cached) return cached.principal;
  const principal = await verifyJwt(ctx, token);
  if (principal) ctx.principals.set(key, principal, principal.expiresAt, Date.now());
  return principal;
}

async function verifyJwt(ctx: AppContext, token: string): Promise<(Principal & { expiresAt?: number }) | undefined> {
  let identity;
  try {
    identity = await ctx.oidc!.verify(token);
  } catch (error) {
    ctx.log.debug({ reason: (error as Error).message }, 'app access token rejected');
    return undefined;
  }
  const db = ctx.db.kysely;
  const expiresAt = identity.expiresAt;
  const known = await findUserByMultiplaiId(db, identity.subject);
  if (known) return { user: known, via: 'jwt', tokenId: null, expiresAt };
  if (!identity.email) {
    ctx.log.warn('app access token without an email claim: cannot provision its user');
    return undefined;
  }
  const sameEmail = await findUserByEmail(db, identity.email);
  if (sameEmail) {
    // A concurrent first request of this same subject may have provisioned it just now.
    if (sameEmail.multiplai_id === identity.subject) return { user: sameEmail, via: 'jwt', tokenId: null, expiresAt };
    if (!identity.emailVerified || sameEmail.multiplai_id) return undefined;
    const linked = await updateUser(db, sameEmail.id, { multiplai_id: identity.subject, updated_at: now() });
    ctx.principals.forgetUser(linked);
    return { user: linked, via: 'jwt', tokenId: null, expiresAt };
  }
  const name =
    identity.name ?? ([identity.givenName, identity.familyName].filter(Boolean).join(' ') || identity.email.split('@')[0]!);
  try {
    const user = await db.transaction().execute((trx) =>
      createUserWithPrimaryWorkspace(trx, {
        name,
        email: identity.email!,
        passwordHash: null,
        multiplaiId: identity.subject,
        profilePhotoUrl: identity.picture ?? null,
        firstName: identity.givenName ?? null,
        lastName: identity.familyName ?? null,
      }),
    );
    ctx.log.info({ userId: user.id }, 'provisioned a user from the identity provider');
    return { user, via: 'jwt', tokenId: null, expiresAt };
  } catch (error) {
    // Two first requests of the same new user raced; the other one provisioned it.
    if (!isUniqueViolation(error)) throw error;
    const user = await findUserByMultiplaiId(db, identity.subject);
    return user ? { user, via: 'jwt', tokenId: null, expiresAt } : undefined;
  }
}

export interface SessionToken {
  token: string;
  token_type: 'Bearer';
  expires_at: string;
  user: UserRow;
}

async function issueSessionToken(ctx: AppContext, user: UserRow, name: string): Promise<SessionToken> {
  const issued = issueToken('session');
  const at = new Date();
  const expiresAt = new Date(at.getTime() + ctx.config.accessTokenTtlSeconds * 1000).toISOString();
  await repo.insertAccessToken(ctx.db.kysely, {
    id: newId(),
    user_id: user.id,
    kind: 'session',
    name,
    token_hash: issued.hash,
    token_hint: issued.hint,
    last_used_at: null,
    expires_at: expiresAt,
    revoked_at: null,
    created_at: at.toISOString(),
  });
  return { token: issued.plain, token_type: 'Bearer', expires_at: expiresAt, user };
}

function throttleKeys(email: string, ip: string) {
  return { account: `account:${email.toLowerCase()}`, ip: `ip:${ip}` };
}

/** Seconds until the key may try again, or 0 when it is not locked out. */
async function lockedFor(ctx: AppContext, key: string, max: number): Promise<number> {
  const state = await repo.findThrottle(ctx.db.kysely, key);
  if (!state || state.failures < max) return 0;
  const endsAt = Date.parse(state.window_started_at) + ctx.config.signIn.lockoutMs;
  return Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
}

/**
 * Signs in with email and password. Failures are counted per account and per IP; past the
 * limit the answer is 429 with Retry-After, before the password is even checked.
 */
export async function signIn(ctx: AppContext, input: { email: string; password: string; device_name?: string }, ip: string) {
  const { signIn: limits, passwordHashCost } = ctx.config;
  const keys = throttleKeys(input.email, ip);
  const wait = Math.max(
    await lockedFor(ctx, keys.account, limits.maxAttemptsPerAccount),
    await lockedFor(ctx, keys.ip, limits.maxAttemptsPerIp),
  );
  if (wait > 0) throw new AppError('RATE_LIMITED', undefined, { retryAfter: wait });

  const user = await findUserByEmail(ctx.db.kysely, input.email);
  // Without an account a decoy hash is checked, so the answer takes as long either way.
  const valid = await verifyPassword(input.password, user?.password_hash ?? (await decoyHash(passwordHashCost)));
  if (!user || !user.password_hash || !valid) {
    const at = now();
    const windowStart = new Date(Date.now() - limits.lockoutMs).toISOString();
    await repo.recordThrottleFailure(ctx.db.kysely, keys.account, at, windowStart);
    await repo.recordThrottleFailure(ctx.db.kysely, keys.ip, at, windowStart);
    if (Math.random() < 0.01) await repo.pruneThrottles(ctx.db.kysely, windowStart);
    throw fieldError('email', 'These credentials do not match our records.');
  }
  await repo.clearThrottle(ctx.db.kysely, keys.account);
  return issueSessionToken(ctx, user, input.device_name ?? 'sign-in');
}

export async function signUp(ctx: AppContext, input: { name: string; email: string; password: string }) {
  if (ctx.config.registration !== 'open') throw new AppError('FORBIDDEN');
  const user = await registerUser(ctx, {
    name: input.name,
    email: input.email,
    passwordHash: await hashPassword(input.password, ctx.config.passwordHashCost),
  });
  return issueSessionToken(ctx, user, 'sign-up');
}

/** Revokes the token the request was made with. App JWTs expire at their provider. */
export async function logout(ctx: AppContext, principal: Principal): Promise<void> {
  if (principal.tokenId && principal.via !== 'basic') {
    await repo.revokeAccessToken(ctx.db.kysely, principal.tokenId, now());
    ctx.principals.forgetToken(principal.tokenId);
  }
}

export interface PersonalTokenResource {
  uuid: string;
  name: string;
  token_hint: string;
  last_used_at: string | null;
  expires_at: string | null;
  created_at: string;
}

function toPersonalToken(row: Pick<AccessTokenRow, 'id' | 'name' | 'token_hint' | 'last_used_at' | 'expires_at' | 'created_at'>) {
  return {
    uuid: row.id,
    name: row.name,
    token_hint: row.token_hint,
    last_used_at: row.last_used_at,
    expires_at: row.expires_at,
    created_at: row.created_at,
  };
}

export const TOKEN_SORT_COLUMNS = { created_at: 'created_at', name: 'name' } as const;

export function listPersonalTokens(
  ctx: AppContext,
  user: UserRow,
  page: PageRequest,
  search?: string,
): Promise<PageResult<PersonalTokenResource>> {
  let base = repo.personalTokensQuery(ctx.db.kysely, user.id, now());
  if (search) base = base.where(containsText('name', search));
  return fetchPage(page, {
    base,
    select: (q) => q.select(['id', 'name', 'token_hint', 'last_used_at', 'expires_at', 'created_at']),
    idColumn: 'id',
    sortField: page.sort.column,
    idField: 'id',
    map: toPersonalToken,
  });
}

/** Creates a personal API token; the secret is in this answer and nowhere else, ever. */
export async function createPersonalToken(ctx: AppContext, user: UserRow, input: { name: string; expires_at?: string | null }) {
  const at = new Date();
  if (input.expires_at && Date.parse(input.expires_at) <= at.getTime()) {
    throw fieldError('expires_at', 'The expires at field must be a date after now.');
  }
  if ((await repo.countPersonalTokens(ctx.db.kysely, user.id, at.toISOString())) >= MAX_PERSONAL_TOKENS) {
    throw fieldError('name', `A user can have at most ${MAX_PERSONAL_TOKENS} personal tokens; revoke one first.`);
  }
  const issued = issueToken('personal');
  const row = await repo.insertAccessToken(ctx.db.kysely, {
    id: newId(),
    user_id: user.id,
    kind: 'personal',
    name: input.name.trim(),
    token_hash: issued.hash,
    token_hint: issued.hint,
    last_used_at: null,
    expires_at: input.expires_at ? new Date(input.expires_at).toISOString() : null,
    revoked_at: null,
    created_at: at.toISOString(),
  });
  return { ...toPersonalToken(row), token: issued.plain };
}

export async function revokePersonalToken(ctx: AppContext, user: UserRow, tokenId: string): Promise<void> {
  const token = await repo.findPersonalToken(ctx.db.kysely, user.id, tokenId);
  if (!token) throw new AppError('NOT_FOUND');
  await repo.revokeAccessToken(ctx.db.kysely, token.id, now());
  ctx.principals.forgetToken(token.id);
}
