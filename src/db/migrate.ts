import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Db, Dialect } from './database.js';
import { migrations } from './migrations/index.js';

/** A migration is written once for both dialects, with explicit branches where they differ. */
export interface AthenaMigration {
  up(db: Kysely<any>, dialect: Dialect): Promise<void>;
}

class StaticProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const result: Record<string, Migration> = {};
    for (const [name, migration] of Object.entries(migrations)) {
      result[name] = { up: (db) => migration.up(db, this.dialect) };
    }
    return result;
  }
}

/**
 * Applies every pending migration, in name order. Forward-only: there are no down migrations,
 * and a database newer than this build (an unknown migration name) is refused.
 */
export async function migrateToLatest(db: Db, schema?: string): Promise<string[]> {
  // With a PostgreSQL schema, Kysely must look for its own tables there: by default it finds
  // them in any schema of the database, and skips creating them in a new one.
  const migrator = new Migrator({
    db: db.kysely,
    provider: new StaticProvider(db.dialect),
    ...(db.dialect === 'postgres' && schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(failed ? `Migration ${failed.migrationName} failed: ${reason}` : `Migrations failed: ${reason}`, {
      cause: error,
    });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
