import { CompiledQuery, type Compilable, type Kysely } from 'kysely';
import type { Database, Executor } from './database.js';

const SENTINEL = '\u0000athena-param:';

type Slot = { param: string } | { constant: unknown };

/**
 * A query built with Kysely once per database and then only re-bound: for the few queries
 * every request runs (authentication), where building and compiling costs several times
 * more than SQLite takes to answer. `build` receives placeholders for the named parameters
 * and may use them only as plain values (comparisons, inserts), not inside expressions.
 */
export function preparedQuery<P extends Record<string, unknown>, Row>(
  build: (db: Kysely<Database>, params: P) => Compilable<Row>,
): (db: Executor, params: P) => Promise<Row[]> {
  const compiled = new WeakMap<object, { sql: string; slots: Slot[] }>();

  const compile = (db: Executor) => {
    const placeholders = new Proxy({} as P, { get: (_target, key) => `${SENTINEL}${String(key)}` });
    const query = build(db as Kysely<Database>, placeholders).compile();
    const slots = query.parameters.map((value): Slot =>
      typeof value === 'string' && value.startsWith(SENTINEL) ? { param: value.slice(SENTINEL.length) } : { constant: value },
    );
    return { sql: query.sql, slots };
  };

  return async (db, params) => {
    // One compiled form per dialect: keyed by the dialect adapter's class.
    const key = db.getExecutor().adapter.constructor;
    let entry = compiled.get(key);
    if (!entry) {
      entry = compile(db);
      compiled.set(key, entry);
    }
    const parameters = entry.slots.map((slot) => ('param' in slot ? params[slot.param] : slot.constant));
    const result = await db.executeQuery<Row>(CompiledQuery.raw(entry.sql, parameters));
    return result.rows;
  };
}

/**
 * An INSERT … RETURNING * of one row with a fixed set of columns, prepared like `preparedQuery`:
 * for rows every run writes. Each call must give every column of the list.
 */
export function preparedInsert<T extends keyof Database & string, Row>(table: T, columns: readonly string[]) {
  const insert = preparedQuery((db, params: Record<string, unknown>) =>
    db
      .insertInto(table)
      .values(Object.fromEntries(columns.map((column) => [column, params[column]])) as never)
      .returningAll() as unknown as Compilable<Row>,
  );
  return async (db: Executor, values: Record<string, unknown>): Promise<Row> => {
    const [row] = await insert(db, values);
    return row!;
  };
}
