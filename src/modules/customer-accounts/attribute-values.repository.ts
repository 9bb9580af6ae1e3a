import { sql, type Insertable, type Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedQuery } from '../../db/prepared.js';
import type { AttributeValueRow, CustomerAttributeValuesTable } from './customer-accounts.table.js';
import { ATTRIBUTE_USAGE, type Attribute } from './attributes.js';

const live = 'deleted_at' as const;

export function listValues(db: Executor, workspaceId: string, attribute: Attribute): Promise<AttributeValueRow[]> {
  return db
    .selectFrom('customer_attribute_values')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('attribute', '=', attribute)
    .where(live, 'is', null)
    .orderBy('position')
    .orderBy('id')
    .execute();
}

const valueById = preparedQuery((db, p: { workspaceId: string; id: string }) =>
  db.selectFrom('customer_attribute_values').selectAll().where('workspace_id', '=', p.workspaceId).where('id', '=', p.id).where(live, 'is', null),
);

export async function findValue(db: Executor, workspaceId: string, id: string): Promise<AttributeValueRow | undefined> {
  const [row] = await valueById(db, { workspaceId, id });
  return row;
}

/** A live value of the attribute by its text, case-insensitively. */
export function findValueByText(db: Executor, workspaceId: string, attribute: Attribute, value: string): Promise<AttributeValueRow | undefined> {
  return db
    .selectFrom('customer_attribute_values')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('attribute', '=', attribute)
    .where(sql<string>`lower(value)`, '=', value.toLowerCase())
    .where(live, 'is', null)
    .executeTakeFirst();
}

export function findDefault(db: Executor, workspaceId: string, attribute: Attribute): Promise<AttributeValueRow | undefined> {
  return db
    .selectFrom('customer_attribute_values')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('attribute', '=', attribute)
    .where('is_default', '=', true)
    .where(live, 'is', null)
    .executeTakeFirst();
}

/** Values by id, deleted ones included: records keep pointing at a value that was replaced. */
export function findValuesByIds(db: Executor, workspaceId: string, ids: readonly string[]): Promise<AttributeValueRow[]> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return Promise.resolve([]);
  return db.selectFrom('customer_attribute_values').selectAll().where('workspace_id', '=', workspaceId).where('id', 'in', unique).execute();
}

export async function nextPosition(db: Executor, workspaceId: string, attribute: Attribute): Promise<number> {
  const row = await db
    .selectFrom('customer_attribute_values')
    .select((eb) => eb.fn.max('position').as('max'))
    .where('workspace_id', '=', workspaceId)
    .where('attribute', '=', attribute)
    .executeTakeFirst();
  return row?.max === null || row?.max === undefined ? 0 : Number(row.max) + 1;
}

export async function insertValues(db: Executor, rows: Insertable<CustomerAttributeValuesTable>[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('customer_attribute_values').values(rows).execute();
}

export function insertValue(db: Executor, row: Insertable<CustomerAttributeValuesTable>): Promise<AttributeValueRow> {
  return db.insertInto('customer_attribute_values').values(row).returningAll().executeTakeFirstOrThrow();
}

export function updateValue(
  db: Executor,
  workspaceId: string,
  id: string,
  values: Updateable<CustomerAttributeValuesTable>,
): Promise<AttributeValueRow> {
  return db
    .updateTable('customer_attribute_values')
    .set(values)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

const clearDefaultFlag = preparedQuery((db, p: { workspaceId: string; attribute: string; updatedAt: string }) =>
  db
    .updateTable('customer_attribute_values')
    .set({ is_default: false, updated_at: p.updatedAt })
    .where('workspace_id', '=', p.workspaceId)
    .where('attribute', '=', p.attribute)
    .where('is_default', '=', true)
    .where(live, 'is', null),
);

/** Clears the attribute's default flag (before another value takes it). */
export async function clearDefault(db: Executor, workspaceId: string, attribute: Attribute, updatedAt: string): Promise<void> {
  await clearDefaultFlag(db, { workspaceId, attribute, updatedAt });
}

const writeValueFields = preparedQuery(
  (db, p: { workspaceId: string; id: string; value: string; isDefault: boolean; configuration: string; updatedAt: string }) =>
    db
      .updateTable('customer_attribute_values')
      .set({ value: p.value, is_default: p.isDefault, configuration: p.configuration, updated_at: p.updatedAt })
      .where('workspace_id', '=', p.workspaceId)
      .where('id', '=', p.id)
      .returningAll(),
);

/** Writes what an update may change (text, default flag, configuration) and returns the row. */
export async function writeValue(
  db: Executor,
  workspaceId: string,
  id: string,
  fields: { value: string; isDefault: boolean; configuration: string; updatedAt: string },
): Promise<AttributeValueRow> {
  const [row] = await writeValueFields(db, { workspaceId, id, ...fields });
  if (!row) throw new Error(`attribute value ${id} vanished inside its transaction`);
  return row;
}

/** Live records of the workspace that use the value. */
export async function countUsage(db: Executor, workspaceId: string, attribute: Attribute, valueId: string): Promise<number> {
  const { table, column } = ATTRIBUTE_USAGE[attribute];
  const row = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('workspace_id', '=', workspaceId)
    .where(sql.ref(column), '=', valueId)
    .where(live, 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Moves the workspace's records from one value to another; returns how many moved. */
export async function moveUsage(
  db: Executor,
  workspaceId: string,
  attribute: Attribute,
  fromId: string,
  toId: string,
  updatedAt: string,
): Promise<number> {
  const { table, column } = ATTRIBUTE_USAGE[attribute];
  const result = await db
    .updateTable(table)
    .set({ [column]: toId, updated_at: updatedAt } as never)
    .where('workspace_id', '=', workspaceId)
    .where(sql.ref(column), '=', fromId)
    .where(live, 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Marks the workspace as seeded; false when another request already did. */
export async function claimSeeding(db: Executor, workspaceId: string, seededAt: string): Promise<boolean> {
  const result = await db
    .insertInto('customer_workspace_setups')
    .values({ workspace_id: workspaceId, seeded_at: seededAt })
    .onConflict((oc) => oc.column('workspace_id').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
}

export async function isSeeded(db: Executor, workspaceId: string): Promise<boolean> {
  const row = await db.selectFrom('customer_workspace_setups').select('workspace_id').where('workspace_id', '=', workspaceId).executeTakeFirst();
  return row !== undefined;
}
