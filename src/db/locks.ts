import { sql } from 'kysely';
import type { Dialect, Executor } from './database.js';

/**
 * A PostgreSQL advisory lock held until the end of the caller's transaction, keyed by text.
 * `shared` holders run together and wait for an `exclusive` one. SQLite runs one write
 * transaction at a time already (BEGIN IMMEDIATE behind the driver's FIFO lock), so there it
 * does nothing.
 */
export async function transactionLock(db: Executor, dialect: Dialect, key: string, mode: 'exclusive' | 'shared' = 'exclusive'): Promise<void> {
  if (dialect !== 'postgres') return;
  if (mode === 'exclusive') await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(db);
  else await sql`select pg_advisory_xact_lock_shared(hashtextextended(${key}, 0))`.execute(db);
}
