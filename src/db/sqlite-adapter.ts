import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

const STATEMENT_CACHE_SIZE = 500;

/**
 * Adapts better-sqlite3 to Kysely's SqliteDatabase with two fixes the driver lacks:
 * booleans and Dates are bound as SQLite understands them (better-sqlite3 rejects both),
 * and prepared statements are cached per SQL text, since preparing costs more than running
 * most of our queries.
 */
export function adaptSqlite(database: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();

  const prepare = (sql: string): BetterSqlite3.Statement => {
    let statement = cache.get(sql);
    if (!statement) {
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
      statement = database.prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  };

  return {
    close() {
      cache.clear();
      database.close();
    },
    prepare(sql: string): SqliteStatement {
      const statement = prepare(sql);
      return {
        reader: statement.reader,
        all: (parameters) => statement.all(toSqliteParameters(parameters)),
        run: (parameters) => {
          const result = statement.run(toSqliteParameters(parameters));
          return { changes: result.changes, lastInsertRowid: result.lastInsertRowid };
        },
        iterate: (parameters) => statement.iterate(toSqliteParameters(parameters)),
      };
    },
  };
}

function toSqliteParameters(parameters: ReadonlyArray<unknown>): unknown[] {
  return parameters.map((value) => {
    if (typeof value === 'boolean') return value ? 1 : 0;
    if (value instanceof Date) return value.toISOString();
    return value;
  });
}
