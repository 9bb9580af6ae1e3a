import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from './column-types.js';
import { SERIES } from '../../modules/metrics/series.js';

/**
 * Rollups behind `/api/v1/metrics`: counters per (workspace, dimension, owner, quarter hour),
 * kept current in the transaction of the write they count (see series.ts and
 * docs/architecture.md § Metrics). The key is the primary key, so a metrics query is one range
 * scan per (dimension, owner) and an update is one upsert.
 */
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  const double = dialect === 'postgres' ? 'double precision' : 'real';
  for (const { table, counters } of Object.values(SERIES)) {
    let builder = db.schema
      .createTable(table)
      .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('dim', 'text', (c) => c.notNull())
      .addColumn('owner_id', 'integer', (c) => c.notNull())
      .addColumn('bucket', 'integer', (c) => c.notNull());
    for (const counter of counters) builder = builder.addColumn(counter, double, (c) => c.notNull().defaultTo(0));
    await builder
      .addPrimaryKeyConstraint(`${table}_pk`, ['workspace_id', 'dim', 'owner_id', 'bucket'])
      .$call((table) => (dialect === 'sqlite' ? table.modifyEnd(sql`without rowid`) : table))
      .execute();
  }
  // Unfinished executions are counted live: few rows, by their own small index.
  await sql`create index workflow_executions_unfinished_index on workflow_executions (workspace_id, created_at) where finished_at is null`.execute(db);
}
