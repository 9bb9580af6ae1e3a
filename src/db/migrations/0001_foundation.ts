import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from './column-types.js';

/** Users, workspaces and memberships, access tokens, and the sign-in throttle. */
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);

  await db.schema
    .createTable('users')
    .addColumn('id', t.serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('first_name', 'text')
    .addColumn('last_name', 'text')
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text')
    .addColumn('profile_photo_url', 'text')
    .addColumn('multiplai_id', 'text', (c) => c.unique())
    // SQLite resolves foreign keys lazily, so it can name a table created below; PostgreSQL
    // gets the constraint once both tables exist.
    .addColumn('primary_workspace_id', t.uuid, (c) =>
      dialect === 'sqlite' ? c.references('workspaces.id').onDelete('set null') : c,
    )
    .addColumn('is_admin', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('workspaces')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('slug', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('profile_photo_url', 'text')
    .addColumn('multiplai_id', 'text', (c) => c.unique())
    .addColumn('is_onboarded', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('metadata', t.json, (c) => c.notNull())
    .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('workspaces_owner_id_index').on('workspaces').column('owner_id').execute();

  if (dialect === 'postgres') {
    await sql`alter table users add constraint users_primary_workspace_id_foreign
      foreign key (primary_workspace_id) references workspaces (id) on delete set null`.execute(db);
  }
  await db.schema.createIndex('users_primary_workspace_id_index').on('users').column('primary_workspace_id').execute();

  await db.schema
    .createTable('workspace_members')
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('owner', 'admin', 'member', 'viewer')`))
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('workspace_members_primary', ['workspace_id', 'user_id'])
    .execute();
  await db.schema.createIndex('workspace_members_user_id_index').on('workspace_members').column('user_id').execute();

  await db.schema
    .createTable('access_tokens')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('session', 'personal')`))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('token_hint', 'text', (c) => c.notNull())
    .addColumn('last_used_at', t.timestamp)
    .addColumn('expires_at', t.timestamp)
    .addColumn('revoked_at', t.timestamp)
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('access_tokens_user_id_kind_index').on('access_tokens').columns(['user_id', 'kind']).execute();

  await db.schema
    .createTable('auth_throttles')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('window_started_at', t.timestamp, (c) => c.notNull())
    .execute();
}
