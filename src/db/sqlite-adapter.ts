import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

const STATEMENT_CACHE_SIZE = 500;

/**
 * Adapts better-sqlite3 to Kysely's SqliteDatabase with three fixes the driver lacks:
 * booleans and Dates are bound as SQLite understands them (better-sqlite3 rejects both),
 * prepared statements are cached per SQL text, since preparing costs more than running
 * most of our queries, and rows are read as arrays and turned into objects by a function
 * compiled once per statement: better-sqlite3 builds row objects property by property in
 * C++, which for a 26-column row costs twice what the whole query does otherwise.
 */
export function adaptSqlite(database: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, PreparedStatement>();

  const prepare = (sql: string): PreparedStatement => {
    let prepared = cache.get(sql);
    if (!prepared) {
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
      const statement = database.prepare(sql);
      let toRow: RowBuilder | undefined;
      const names = statement.reader ? statement.columns().map((column) => column.name) : [];
      // `__proto__` in an object literal would set the prototype: such rows stay the driver's.
      if (statement.reader && !names.includes('__proto__')) {
        toRow = rowBuilder(names);
        statement.raw(true);
      }
      prepared = { statement, toRow };
      cache.set(sql, prepared);
    }
    return prepared;
  };

  return {
    close() {
      cache.clear();
      database.close();
    },
    prepare(sql: string): SqliteStatement {
      const { statement, toRow } = prepare(sql);
      return {
        reader: statement.reader,
        all: (parameters) => {
          const rows = statement.all(toSqliteParameters(parameters)) as unknown[][];
          return toRow ? rows.map(toRow) : rows;
        },
        run: (parameters) => {
          const result = statement.run(toSqliteParameters(parameters));
          return { changes: result.changes, lastInsertRowid: result.lastInsertRowid };
        },
        iterate: function* (parameters) {
          for (const row of statement.iterate(toSqliteParameters(parameters)) as Iterable<unknown[]>) yield toRow ? toRow(row) : row;
        },
      };
    },
  };
}

type RowBuilder = (values: unknown[]) => Record<string, unknown>;

interface PreparedStatement {
  statement: BetterSqlite3.Statement;
  /** For statements that return rows: array → object with the columns' names. */
  toRow: RowBuilder | undefined;
}

/**
 * `(values) => ({"id": values[0], "name": values[1], …})`: an object literal, so every row of
 * a statement shares one hidden class. A repeated name keeps its last value, as
 * better-sqlite3's own objects do.
 */
function rowBuilder(names: readonly string[]): RowBuilder {
  const fields = names.map((name, index) => `${JSON.stringify(name)}: values[${index}]`);
  return new Function('values', `return { ${fields.join(', ')} };`) as RowBuilder;
}

function toSqliteParameters(parameters: ReadonlyArray<unknown>): unknown[] {
  return parameters.map((value) => {
    if (typeof value === 'boolean') return value ? 1 : 0;
    if (value instanceof Date) return value.toISOString();
    return value;
  });
}
