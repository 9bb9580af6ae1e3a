import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from './column-types.js';

/**
 * The workflow engine: workflows (graph, variables, webhook secret), their schedules, the
 * versions executions ran, and executions with one row per node run. An execution row is also the embedded queue's entry:
 * its status, lease and wake time are what runners claim.
 */
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  const run = (query: RawBuilder<unknown>) => query.execute(db);

  await db.schema
    .createTable('workflows')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('nodes', t.json, (c) => c.notNull())
    .addColumn('edges', t.json, (c) => c.notNull())
    // [{name, value, secret}]; a secret's value is stored encrypted.
    .addColumn('variables', t.json, (c) => c.notNull())
    // {error_workflow_uuid, max_node_runs, timeout_ms, retention: {max_age_days, max_count}, webhook_timeout_ms}
    .addColumn('settings', t.json, (c) => c.notNull())
    .addColumn('is_active', 'boolean', (c) => c.notNull())
    .addColumn('visibility', 'text', (c) => c.notNull().check(sql`visibility in ('private', 'workspace', 'public')`))
    .addColumn('version', 'integer', (c) => c.notNull())
    // The secret sealed for display to editors, and its SHA-256 for checking calls.
    .addColumn('webhook_secret', 'text', (c) => c.notNull())
    .addColumn('webhook_secret_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await run(sql`create index workflows_workspace_index on workflows (workspace_id, id)`);

  await db.schema
    .createTable('workflow_schedules')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workflow_id', t.uuid, (c) => c.notNull().references('workflows.id').onDelete('cascade'))
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('cron', 'text', (c) => c.notNull())
    .addColumn('timezone', 'text', (c) => c.notNull())
    .addColumn('next_run_at', t.timestamp, (c) => c.notNull())
    .addColumn('last_run_at', t.timestamp)
    .execute();
  await run(sql`create unique index workflow_schedules_node_unique on workflow_schedules (workflow_id, node_id)`);
  await run(sql`create index workflow_schedules_due_index on workflow_schedules (next_run_at)`);

  // The graph of each workflow version that executions ran: stored once per version, not per execution.
  await db.schema
    .createTable('workflow_versions')
    .addColumn('workflow_id', t.uuid, (c) => c.notNull().references('workflows.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    // {version, name, nodes, edges, variables (secrets sealed), settings}
    .addColumn('snapshot', t.json, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('workflow_versions_pk', ['workflow_id', 'version'])
    .execute();

  await db.schema
    .createTable('workflow_executions')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('workflow_id', t.uuid, (c) => c.notNull().references('workflows.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('queued', 'running', 'waiting', 'succeeded', 'failed', 'canceled')`),
    )
    // manual, webhook, schedule, agent, workflow, error, retry
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('trigger_node_id', 'text', (c) => c.notNull())
    // The workflow version it runs (workflow_versions): later edits do not change a run.
    .addColumn('workflow_version', 'integer', (c) => c.notNull())
    .addColumn('trigger_data', t.json)
    // RunState when parked, ended or prepared for a retry; while running, each step carries its own.
    .addColumn('state', t.json)
    .addColumn('output', t.json)
    .addColumn('error', t.json)
    // {status, headers, body} of a respond node, for a webhook caller waiting in another process.
    .addColumn('response', t.json)
    .addColumn('resume_data', t.json)
    .addColumn('idempotency_key', 'text')
    .addColumn('parent_execution_id', t.uuid)
    .addColumn('retry_of_id', t.uuid)
    .addColumn('node_runs', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', t.timestamp)
    .addColumn('wake_at', t.timestamp)
    .addColumn('started_at', t.timestamp)
    .addColumn('finished_at', t.timestamp)
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await run(sql`create index workflow_executions_workspace_index on workflow_executions (workspace_id, created_at)`);
  await run(sql`create index workflow_executions_workflow_index on workflow_executions (workflow_id, created_at)`);
  await run(sql`create unique index workflow_executions_idempotency_unique on workflow_executions (workflow_id, idempotency_key) where idempotency_key is not null`);
  // What runners claim, each by its own small index: queued work, expired leases, waits that are due.
  await run(sql`create index workflow_executions_queued_index on workflow_executions (created_at) where status = 'queued'`);
  await run(sql`create index workflow_executions_lease_index on workflow_executions (lease_expires_at) where status = 'running'`);
  await run(sql`create index workflow_executions_wake_index on workflow_executions (wake_at) where status = 'waiting'`);
  // Retention prunes finished executions oldest first.
  await run(sql`create index workflow_executions_finished_index on workflow_executions (finished_at) where finished_at is not null`);

  await db.schema
    .createTable('workflow_execution_steps')
    .addColumn('execution_id', t.uuid, (c) => c.notNull().references('workflow_executions.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('node_type', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    // Larger than the per-node cap: `{"$file": "<name>", "bytes": n}` and the data in a file under the data dir.
    .addColumn('input', t.json)
    .addColumn('output', t.json)
    .addColumn('handle', 'text')
    .addColumn('error', t.json)
    // RunState after this step: one insert per step is the whole commit.
    .addColumn('state', t.json)
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('started_at', t.timestamp, (c) => c.notNull())
    .addColumn('finished_at', t.timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('workflow_execution_steps_pk', ['execution_id', 'seq'])
    // On SQLite the rows live in the primary key's b-tree: one b-tree to write per step, not two.
    .$call((table) => (dialect === 'sqlite' ? table.modifyEnd(sql`without rowid`) : table))
    .execute();
}
