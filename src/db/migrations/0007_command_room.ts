import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from './column-types.js';

/**
 * The command room: the workspace's board of tasks, and the numbered log of its changes that
 * the live stream replays after a reconnect.
 */
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  const run = (query: RawBuilder<unknown>) => query.execute(db);

  await db.schema
    .createTable('command_room_tasks')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('todo', 'in_progress', 'blocked', 'done', 'failed', 'canceled')`),
    )
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('assignee_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('due_at', t.timestamp)
    .addColumn('link_type', 'text', (c) => c.check(sql`link_type in ('agent', 'thread', 'workflow', 'execution')`))
    .addColumn('link_id', t.uuid)
    .addColumn('linked_at', t.timestamp)
    .addColumn('followed_id', t.uuid)
    .addColumn('followed_status', 'text')
    .addColumn('progress', 'integer')
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await run(sql`create index command_room_tasks_board_index on command_room_tasks (workspace_id, status, position)`);
  // Runs find the tasks that follow them.
  await run(sql`create index command_room_tasks_link_index on command_room_tasks (link_id) where link_id is not null`);

  await db.schema
    .createTable('command_room_events')
    .addColumn('id', t.serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('task_id', t.uuid, (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('data', t.json, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();
  await run(sql`create index command_room_events_workspace_index on command_room_events (workspace_id, id)`);
  // Pruning by age.
  await run(sql`create index command_room_events_created_index on command_room_events (created_at)`);
}
