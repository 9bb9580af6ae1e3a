import { sql, type CreateTableBuilder, type Kysely, type RawBuilder } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from './column-types.js';

/**
 * The customer-accounts module (`/v1`): configurable attribute values, accounts, relationships,
 * contacts, activities, notes and tasks. Every table belongs to a workspace and is soft-deleted
 * (`deleted_at`); uniqueness rules hold among live rows only, so they are partial indexes.
 * Search runs on a trigram index on both databases: pg_trgm on PostgreSQL, an FTS5 table with the
 * trigram tokenizer on SQLite.
 */
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  const double = dialect === 'postgres' ? 'double precision' : 'real';
  const run = (query: RawBuilder<unknown>) => query.execute(db);

  /** Columns every customer-accounts table has. */
  const common = (table: CreateTableBuilder<any, any>) =>
    table
      .addColumn('id', t.uuid, (c) => c.primaryKey())
      .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'));
  const stamps = (table: CreateTableBuilder<any, any>) =>
    table
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .addColumn('deleted_at', t.timestamp);
  const attributeRef = (c: any) => c.references('customer_attribute_values.id');

  // Seeding of a workspace's default attribute values happens once, on its first /v1 use; this
  // row says it happened, so a value the workspace later deletes is not seeded back. It also
  // keeps the number of live accounts, written in the same transaction as every insert and
  // delete, so an unfiltered list's X-Total-Count does not count 100,000 rows per request.
  await db.schema
    .createTable('customer_workspace_setups')
    .addColumn('workspace_id', t.uuid, (c) => c.primaryKey().references('workspaces.id').onDelete('cascade'))
    .addColumn('seeded_at', t.timestamp, (c) => c.notNull())
    .addColumn('account_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  await stamps(
    common(db.schema.createTable('customer_attribute_values'))
      .addColumn('attribute', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('is_default', 'boolean', (c) => c.notNull().defaultTo(false))
      .addColumn('position', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('configuration', t.json, (c) => c.notNull()),
  ).execute();
  // Values are unique per attribute, case-insensitively; at most one default per attribute (the
  // service keeps "at least one").
  await run(sql`create unique index customer_attribute_values_value_unique
    on customer_attribute_values (workspace_id, attribute, lower(value)) where deleted_at is null`);
  await run(sql`create unique index customer_attribute_values_default_unique
    on customer_attribute_values (workspace_id, attribute) where is_default and deleted_at is null`);

  await stamps(
    common(db.schema.createTable('customer_accounts'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('source', 'text')
      .addColumn('logo', 'text')
      .addColumn('website', 'text')
      .addColumn('primary_domain', 'text', (c) => c.notNull())
      .addColumn('secondary_domain', 'text')
      .addColumn('account_owner_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
      .addColumn('status_id', t.uuid, attributeRef)
      .addColumn('classification_id', t.uuid, attributeRef)
      .addColumn('health_id', t.uuid, attributeRef)
      .addColumn('industry_id', t.uuid, attributeRef)
      .addColumn('annual_revenue', double)
      .addColumn('employees', 'integer')
      .addColumn('billing_address', t.json)
      .addColumn('shipping_address', t.json)
      .addColumn('custom_field_values', t.json, (c) => c.notNull())
      .addColumn('metadata', t.json, (c) => c.notNull())
      .addColumn('created_by', 'integer', (c) => c.references('users.id').onDelete('set null')),
  ).execute();
  await run(sql`create unique index customer_accounts_primary_domain_unique
    on customer_accounts (workspace_id, lower(primary_domain)) where deleted_at is null`);
  // Lists read newest first by id (UUID v7 sorts by creation time); one index per filter.
  await run(sql`create index customer_accounts_list_index on customer_accounts (workspace_id, id) where deleted_at is null`);
  for (const column of ['status_id', 'classification_id', 'health_id', 'industry_id', 'account_owner_id']) {
    await run(sql`create index ${sql.id(`customer_accounts_${column}_index`)}
      on customer_accounts (workspace_id, ${sql.ref(column)}, id) where deleted_at is null`);
  }

  await stamps(
    common(db.schema.createTable('customer_relationship_types'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('inverse_relationship_id', t.uuid, (c) => c.references('customer_relationship_types.id').onDelete('set null')),
  ).execute();
  await run(sql`create unique index customer_relationship_types_name_unique
    on customer_relationship_types (workspace_id, lower(name)) where deleted_at is null`);

  await stamps(
    common(db.schema.createTable('customer_account_relationships'))
      .addColumn('account_id', t.uuid, (c) => c.notNull().references('customer_accounts.id').onDelete('cascade'))
      .addColumn('related_account_id', t.uuid, (c) => c.notNull().references('customer_accounts.id').onDelete('cascade'))
      .addColumn('relationship_type_id', t.uuid, (c) => c.notNull().references('customer_relationship_types.id')),
  ).execute();
  await run(sql`create unique index customer_account_relationships_unique
    on customer_account_relationships (account_id, related_account_id, relationship_type_id) where deleted_at is null`);
  await run(sql`create index customer_account_relationships_account_index
    on customer_account_relationships (workspace_id, account_id, id) where deleted_at is null`);
  await run(sql`create index customer_account_relationships_related_index
    on customer_account_relationships (related_account_id) where deleted_at is null`);
  await run(sql`create index customer_account_relationships_type_index
    on customer_account_relationships (relationship_type_id) where deleted_at is null`);

  await stamps(
    common(db.schema.createTable('customer_contacts'))
      .addColumn('first_name', 'text', (c) => c.notNull())
      .addColumn('last_name', 'text')
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('phone_number', 'text')
      .addColumn('avatar_url', 'text')
      .addColumn('contact_type_id', t.uuid, attributeRef)
      .addColumn('custom_field_values', t.json, (c) => c.notNull())
      .addColumn('metadata', t.json, (c) => c.notNull())
      .addColumn('sink_source', 'text'),
  ).execute();
  await run(sql`create unique index customer_contacts_email_unique
    on customer_contacts (workspace_id, lower(email)) where deleted_at is null`);
  await run(sql`create index customer_contacts_list_index on customer_contacts (workspace_id, id) where deleted_at is null`);
  await run(sql`create index customer_contacts_type_index
    on customer_contacts (workspace_id, contact_type_id, id) where deleted_at is null`);

  await db.schema
    .createTable('customer_account_contacts')
    .addColumn('account_id', t.uuid, (c) => c.notNull().references('customer_accounts.id').onDelete('cascade'))
    .addColumn('contact_id', t.uuid, (c) => c.notNull().references('customer_contacts.id').onDelete('cascade'))
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('customer_account_contacts_primary', ['account_id', 'contact_id'])
    .execute();
  await run(sql`create index customer_account_contacts_contact_index on customer_account_contacts (contact_id)`);

  await stamps(
    common(db.schema.createTable('customer_activities'))
      .addColumn('account_id', t.uuid, (c) => c.notNull().references('customer_accounts.id').onDelete('cascade'))
      .addColumn('creator_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
      .addColumn('activity_timestamp', t.timestamp)
      .addColumn('duration', 'integer')
      .addColumn('location', 'text')
      .addColumn('title', 'text')
      .addColumn('description', 'text')
      .addColumn('type_id', t.uuid, attributeRef)
      .addColumn('status_id', t.uuid, attributeRef)
      .addColumn('participants', t.json, (c) => c.notNull())
      .addColumn('attachments', t.json, (c) => c.notNull())
      .addColumn('metadata', t.json, (c) => c.notNull()),
  ).execute();

  await stamps(
    common(db.schema.createTable('customer_notes'))
      .addColumn('account_id', t.uuid, (c) => c.notNull().references('customer_accounts.id').onDelete('cascade'))
      .addColumn('author_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
      .addColumn('content', 'text', (c) => c.notNull())
      .addColumn('type_id', t.uuid, attributeRef)
      .addColumn('visibility', 'text', (c) => c.notNull().check(sql`visibility in ('public', 'private', 'team')`))
      .addColumn('attachments', t.json, (c) => c.notNull())
      .addColumn('metadata', t.json, (c) => c.notNull()),
  ).execute();

  await stamps(
    common(db.schema.createTable('customer_tasks'))
      .addColumn('account_id', t.uuid, (c) => c.notNull().references('customer_accounts.id').onDelete('cascade'))
      .addColumn('creator_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('assignee_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
      .addColumn('activity_id', t.uuid, (c) => c.references('customer_activities.id').onDelete('set null'))
      .addColumn('description', 'text')
      .addColumn('type_id', t.uuid, attributeRef)
      .addColumn('status_id', t.uuid, attributeRef)
      .addColumn('priority_id', t.uuid, attributeRef)
      .addColumn('due_date', t.timestamp)
      .addColumn('attachments', t.json, (c) => c.notNull())
      .addColumn('metadata', t.json, (c) => c.notNull()),
  ).execute();

  for (const table of ['customer_activities', 'customer_notes', 'customer_tasks']) {
    await run(sql`create index ${sql.id(`${table}_account_index`)} on ${sql.table(table)} (workspace_id, account_id, id) where deleted_at is null`);
    await run(sql`create index ${sql.id(`${table}_list_index`)} on ${sql.table(table)} (workspace_id, id) where deleted_at is null`);
  }
  // "Is this value in use?" looks each attribute column up by value id.
  for (const [table, column] of [
    ['customer_activities', 'type_id'],
    ['customer_activities', 'status_id'],
    ['customer_notes', 'type_id'],
    ['customer_tasks', 'type_id'],
    ['customer_tasks', 'status_id'],
    ['customer_tasks', 'priority_id'],
    ['customer_tasks', 'assignee_id'],
  ] as const) {
    await run(sql`create index ${sql.id(`${table}_${column}_index`)} on ${sql.table(table)} (${sql.ref(column)}) where deleted_at is null`);
  }

  if (dialect === 'postgres') {
    // pg_trgm is a trusted extension: a database owner may create it. The lock keeps concurrent
    // migrations of several schemas in one database from racing on it.
    await run(sql`select pg_advisory_xact_lock(hashtext('athena:pg_trgm'))`);
    await run(sql`create extension if not exists pg_trgm with schema public`);
    await run(sql`create index customer_accounts_search_index on customer_accounts
      using gin ((lower(name || ' ' || primary_domain || ' ' || coalesce(secondary_domain, ''))) public.gin_trgm_ops)
      where deleted_at is null`);
    await run(sql`create index customer_contacts_search_index on customer_contacts
      using gin ((lower(first_name || ' ' || coalesce(last_name, '') || ' ' || email)) public.gin_trgm_ops)
      where deleted_at is null`);
  } else {
    // External-content FTS5 tables over the rowid, kept current by triggers. The trigram
    // tokenizer matches any substring of three or more characters, like pg_trgm does.
    for (const [table, columns] of [
      ['customer_accounts', ['name', 'primary_domain', 'secondary_domain']],
      ['customer_contacts', ['first_name', 'last_name', 'email']],
    ] as const) {
      const fts = `${table}_fts`;
      const list = columns.join(', ');
      const newValues = columns.map((c) => `new.${c}`).join(', ');
      const oldValues = columns.map((c) => `old.${c}`).join(', ');
      await run(sql.raw(`create virtual table ${fts} using fts5(${list}, content='${table}', content_rowid='rowid', tokenize='trigram')`));
      await run(sql.raw(`create trigger ${table}_fts_insert after insert on ${table} begin
        insert into ${fts} (rowid, ${list}) values (new.rowid, ${newValues}); end`));
      await run(sql.raw(`create trigger ${table}_fts_delete after delete on ${table} begin
        insert into ${fts} (${fts}, rowid, ${list}) values ('delete', old.rowid, ${oldValues}); end`));
      await run(sql.raw(`create trigger ${table}_fts_update after update of ${list} on ${table} begin
        insert into ${fts} (${fts}, rowid, ${list}) values ('delete', old.rowid, ${oldValues});
        insert into ${fts} (rowid, ${list}) values (new.rowid, ${newValues}); end`));
    }
  }
}
