import { sql } from 'kysely';
import type { Db, Executor } from './database.js';

type Write<T> = (db: Executor) => Promise<T>;

interface Pending {
  write: Write<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Writes committed together at most: bounds how long one batch holds the database. */
const MAX_BATCH = 256;

/**
 * Group commit. Writes submitted in the same turn of the event loop are committed in one
 * transaction, and each caller's promise settles only once that transaction has committed: as
 * durable as one commit per write, at a fraction of the commits (SQLite appends one WAL
 * record, PostgreSQL flushes its log once). Each write must be a single statement whose
 * failure concerns only itself.
 */
export class WriteBatcher {
  private pending: Pending[] = [];
  private flushing = false;
  private scheduled = false;

  constructor(private readonly db: Db) {}

  submit<T>(write: Write<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = true;
    const batch = this.pending.splice(0, MAX_BATCH);
    try {
      if (batch.length === 1) {
        await settle(batch[0]!, this.db.kysely);
      } else {
        await this.commitTogether(batch);
      }
    } finally {
      this.flushing = false;
      if (this.pending.length > 0) this.schedule();
    }
  }

  private async commitTogether(batch: Pending[]): Promise<void> {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    let failedOnPostgres = false;
    try {
      await this.db.kysely.connection().execute(async (connection) => {
        await sql.raw(this.db.dialect === 'sqlite' ? 'begin immediate' : 'begin').execute(connection);
        try {
          for (const entry of batch) {
            try {
              outcomes.push({ ok: true, value: await entry.write(connection) });
            } catch (error) {
              outcomes.push({ ok: false, error });
              // SQLite undoes only the failed statement; PostgreSQL's transaction is now aborted.
              if (this.db.dialect === 'postgres') {
                failedOnPostgres = true;
                break;
              }
            }
          }
          await sql.raw(failedOnPostgres ? 'rollback' : 'commit').execute(connection);
        } catch (error) {
          await sql.raw('rollback').execute(connection).catch(() => undefined);
          throw error;
        }
      });
    } catch (error) {
      // The transaction itself failed (connection lost, disk full): nothing was committed.
      for (const entry of batch) entry.reject(error);
      return;
    }
    if (failedOnPostgres) {
      // Nothing was committed: each write goes again on its own, so only the failing one fails.
      for (const entry of batch) await settle(entry, this.db.kysely);
      return;
    }
    batch.forEach((entry, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) entry.resolve(outcome.value);
      else entry.reject(outcome.error);
    });
  }
}

async function settle(entry: Pending, db: Executor): Promise<void> {
  try {
    entry.resolve(await entry.write(db));
  } catch (error) {
    entry.reject(error);
  }
}

const batchers = new WeakMap<Db, WriteBatcher>();

/** The process's group-commit writer for this database. */
export function writeBatcherOf(db: Db): WriteBatcher {
  let batcher = batchers.get(db);
  if (!batcher) batchers.set(db, (batcher = new WriteBatcher(db)));
  return batcher;
}
