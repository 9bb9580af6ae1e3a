import { sql } from 'kysely';
import type { Db, Executor } from './database.js';
import type { RollupDelta } from '../modules/metrics/contributions.js';
import { applyRollupDeltas } from '../modules/metrics/rollups.js';

/** Where a write hands the metrics rollup deltas of what it changed (see docs/architecture.md § Metrics). */
export interface RollupSink {
  count(deltas: readonly RollupDelta[]): void;
}

type Write<T> = (db: Executor, rollups: RollupSink) => Promise<T>;

interface Pending {
  write: Write<unknown>;
  /** The write may count rollups: it is never committed on its own outside a transaction. */
  counts: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

class Deltas implements RollupSink {
  readonly deltas: RollupDelta[] = [];
  count(deltas: readonly RollupDelta[]): void {
    for (const delta of deltas) this.deltas.push(delta);
  }
}

/** Writes committed together at most: bounds how long one batch holds the database. */
const MAX_BATCH = 256;

/**
 * Group commit. Writes submitted in the same turn of the event loop are committed in one
 * transaction, and each caller's promise settles only once that transaction has committed: as
 * durable as one commit per write, at a fraction of the commits (SQLite appends one WAL
 * record, PostgreSQL flushes its log once). Each write must be a single statement whose
 * failure concerns only itself. A write submitted with `counts` may hand metrics deltas to its
 * sink: those of the whole batch are merged and upserted once, before the batch's COMMIT.
 */
export class WriteBatcher {
  private pending: Pending[] = [];
  private flushing = false;
  private scheduled = false;

  constructor(private readonly db: Db) {}

  submit<T>(write: Write<T>, options: { counts?: boolean } = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write: write as Write<unknown>, counts: options.counts === true, resolve: resolve as (value: unknown) => void, reject });
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
        await settle(batch[0]!, this.db);
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
          const counted: RollupDelta[] = [];
          for (const entry of batch) {
            // Each write's own deltas: a write that fails (SQLite goes on without it) counts nothing.
            const sink = new Deltas();
            try {
              outcomes.push({ ok: true, value: await entry.write(connection, sink) });
              counted.push(...sink.deltas);
            } catch (error) {
              outcomes.push({ ok: false, error });
              // SQLite undoes only the failed statement; PostgreSQL's transaction is now aborted.
              if (this.db.dialect === 'postgres') {
                failedOnPostgres = true;
                break;
              }
            }
          }
          if (!failedOnPostgres) await applyRollupDeltas(connection, counted);
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
      for (const entry of batch) await settle(entry, this.db);
      return;
    }
    batch.forEach((entry, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) entry.resolve(outcome.value);
      else entry.reject(outcome.error);
    });
  }
}

/** One write on its own: a single statement, or a transaction when it may count rollups. */
async function settle(entry: Pending, db: Db): Promise<void> {
  try {
    if (!entry.counts) {
      entry.resolve(await entry.write(db.kysely, new Deltas()));
      return;
    }
    const value = await db.kysely.transaction().execute(async (trx) => {
      const sink = new Deltas();
      const result = await entry.write(trx, sink);
      await applyRollupDeltas(trx, sink.deltas);
      return result;
    });
    entry.resolve(value);
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
