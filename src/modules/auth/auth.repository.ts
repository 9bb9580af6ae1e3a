import { sql, type Insertable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedQuery } from '../../db/prepared.js';
import type { UserRow } from '../users/users.table.js';
import type { AccessTokenRow, AccessTokensTable } from './auth.table.js';

export interface TokenWithUser {
  token: Pick<AccessTokenRow, 'id' | 'kind' | 'last_used_at' | 'expires_at'>;
  user: UserRow;
}

const liveTokenByHash = preparedQuery((db, p: { hash: string; at: string }) =>
  db
    .selectFrom('access_tokens as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .select([
      't.id as token_id',
      't.kind as token_kind',
      't.last_used_at as token_last_used_at',
      't.expires_at as token_expires_at',
      'u.id',
      'u.name',
      'u.first_name',
      'u.last_name',
      'u.email',
      'u.password_hash',
      'u.profile_photo_url',
      'u.multiplai_id',
      'u.primary_workspace_id',
      'u.is_admin',
      'u.created_at',
      'u.updated_at',
    ])
    .where('t.token_hash', '=', p.hash)
    .where('t.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('t.expires_at', 'is', null), eb('t.expires_at', '>', p.at)])),
);

/** The live token with this hash and its user, in one query (every authenticated request runs it). */
export async function findLiveTokenByHash(db: Executor, hash: string, at: string): Promise<TokenWithUser | undefined> {
  const [row] = await liveTokenByHash(db, { hash, at });
  if (!row) return undefined;
  const { token_id, token_kind, token_last_used_at, token_expires_at, ...user } = row;
  return { token: { id: token_id, kind: token_kind, last_used_at: token_last_used_at, expires_at: token_expires_at }, user };
}

export function insertAccessToken(db: Executor, values: Insertable<AccessTokensTable>): Promise<AccessTokenRow> {
  return db.insertInto('access_tokens').values(values).returningAll().executeTakeFirstOrThrow();
}

export async function touchAccessToken(db: Executor, id: string, at: string): Promise<void> {
  await db.updateTable('access_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
}

/** Revokes a token; answers whether a live token was revoked. */
export async function revokeAccessToken(db: Executor, id: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('access_tokens')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Revokes every live session token of a user but one (after a password change). */
export async function revokeSessionTokensOfUser(db: Executor, userId: number, exceptId: string | null, at: string): Promise<void> {
  let query = db
    .updateTable('access_tokens')
    .set({ revoked_at: at })
    .where('user_id', '=', userId)
    .where('kind', '=', 'session')
    .where('revoked_at', 'is', null);
  if (exceptId) query = query.where('id', '!=', exceptId);
  await query.execute();
}

export function findPersonalToken(db: Executor, userId: number, id: string): Promise<AccessTokenRow | undefined> {
  return db
    .selectFrom('access_tokens')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('kind', '=', 'personal')
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

/** The user's live personal tokens, newest first. */
export function personalTokensQuery(db: Executor, userId: number, at: string) {
  return db
    .selectFrom('access_tokens')
    .where('user_id', '=', userId)
    .where('kind', '=', 'personal')
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]));
}

export async function countPersonalTokens(db: Executor, userId: number, at: string): Promise<number> {
  const row = await personalTokensQuery(db, userId, at)
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export interface ThrottleState {
  failures: number;
  window_started_at: string;
}

export function findThrottle(db: Executor, key: string): Promise<ThrottleState | undefined> {
  return db.selectFrom('auth_throttles').select(['failures', 'window_started_at']).where('key', '=', key).executeTakeFirst();
}

/**
 * Counts one failure for the key in a fixed window: a window older than `windowStart` restarts
 * at one. A single upsert, so concurrent failures are all counted.
 */
export async function recordThrottleFailure(db: Executor, key: string, at: string, windowStart: string): Promise<void> {
  await db
    .insertInto('auth_throttles')
    .values({ key, failures: 1, window_started_at: at })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        failures: sql`case when auth_throttles.window_started_at < ${windowStart} then 1 else auth_throttles.failures + 1 end`,
        window_started_at: sql`case when auth_throttles.window_started_at < ${windowStart} then ${at} else auth_throttles.window_started_at end`,
      }),
    )
    .execute();
}

export async function clearThrottle(db: Executor, key: string): Promise<void> {
  await db.deleteFrom('auth_throttles').where('key', '=', key).execute();
}

/** Drops windows that ended; keeps the table small. */
export async function pruneThrottles(db: Executor, windowStart: string): Promise<void> {
  await db.deleteFrom('auth_throttles').where('window_started_at', '<', windowStart).execute();
}
