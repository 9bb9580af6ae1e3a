import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fromJson, isUniqueViolation, isUuid, newId, now, toBool, toJson } from '../../db/values.js';
import { AppError } from '../../errors.js';
import { authorize } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import * as repo from './attribute-values.repository.js';
import type {
  AttributeValueConfigurationValue,
  AttributeValueResponse,
  CreateAttributeValueInput,
  UpdateAttributeValueInput,
} from './attribute-values.schemas.js';
import { ATTRIBUTES, DEFAULT_VALUES, lockAttributes, type Attribute } from './attributes.js';
import type { AttributeValueRow } from './customer-accounts.table.js';

/** Workspaces known to have their default values, so the check costs nothing after the first time. */
const seededWorkspaces = new Set<string>();

/**
 * Gives a workspace its default attribute values on its first use of the module. A marker row
 * makes this happen once across processes, and keeps values the workspace deleted deleted.
 */
export async function ensureSeeded(ctx: AppContext, workspaceId: string): Promise<void> {
  if (seededWorkspaces.has(workspaceId)) return;
  const db = ctx.db.kysely;
  if (!(await repo.isSeeded(db, workspaceId))) {
    await db.transaction().execute(async (trx) => {
      const at = now();
      if (!(await repo.claimSeeding(trx, workspaceId, at))) return;
      await repo.insertValues(
        trx,
        ATTRIBUTES.flatMap((attribute) =>
          DEFAULT_VALUES[attribute].map((seed, position) => ({
            id: newId(),
            workspace_id: workspaceId,
            attribute,
            value: seed.value,
            is_default: position === 0,
            position,
            configuration: toJson(seed.isClosed === undefined ? {} : { isClosed: seed.isClosed }),
            created_at: at,
            updated_at: at,
          })),
        ),
      );
    });
  }
  seededWorkspaces.add(workspaceId);
}

export function toAttributeValueResponse(row: AttributeValueRow): AttributeValueResponse {
  return {
    id: row.id,
    attribute: row.attribute as Attribute,
    value: row.value,
    isDefault: toBool(row.is_default),
    configuration: configurationOf(row),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function configurationOf(row: AttributeValueRow): AttributeValueConfigurationValue {
  return fromJson<AttributeValueConfigurationValue>(row.configuration) ?? {};
}

async function getValueOrThrow(db: Executor, workspaceId: string, id: string): Promise<AttributeValueRow> {
  const row = isUuid(id) ? await repo.findValue(db, workspaceId, id) : undefined;
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

function checkConfiguration(attribute: Attribute, input: { isClosed?: boolean | undefined }): void {
  if (input.isClosed !== undefined && attribute !== 'task_status') {
    throw new AppError('BAD_REQUEST', 'isClosed applies to task_status values only');
  }
}

function mergeConfiguration(
  current: AttributeValueConfigurationValue,
  input: { icon?: string | undefined; color?: string | undefined; isClosed?: boolean | undefined },
): AttributeValueConfigurationValue {
  const next = { ...current };
  if (input.icon !== undefined) next.icon = input.icon;
  if (input.color !== undefined) next.color = input.color;
  if (input.isClosed !== undefined) next.isClosed = input.isClosed;
  return next;
}

function duplicateValue(attribute: Attribute, value: string): AppError {
  return new AppError('CONFLICT', `The value ${value} already exists for ${attribute}`);
}

export async function listAttributeValues(ctx: AppContext, scope: WorkspaceScope, attribute: Attribute): Promise<AttributeValueResponse[]> {
  await ensureSeeded(ctx, scope.workspaceId);
  const rows = await repo.listValues(ctx.db.kysely, scope.workspaceId, attribute);
  return rows.map(toAttributeValueResponse);
}

export async function getAttributeValue(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<AttributeValueResponse> {
  await ensureSeeded(ctx, scope.workspaceId);
  return toAttributeValueResponse(await getValueOrThrow(ctx.db.kysely, scope.workspaceId, id));
}

/** Adds a value; `isDefault` moves the default to it in the same transaction. Admins only. */
export async function createAttributeValue(
  ctx: AppContext,
  scope: WorkspaceScope,
  input: CreateAttributeValueInput,
): Promise<AttributeValueResponse> {
  authorize(scope.role, 'configure');
  checkConfiguration(input.attribute, input);
  await ensureSeeded(ctx, scope.workspaceId);
  const value = input.value.trim();
  if (value === '') throw new AppError('BAD_REQUEST', 'value should not be empty');
  try {
    const row = await ctx.db.kysely.transaction().execute(async (trx) => {
      await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, [input.attribute], 'exclusive');
      if (await repo.findValueByText(trx, scope.workspaceId, input.attribute, value)) throw duplicateValue(input.attribute, value);
      const at = now();
      if (input.isDefault) await repo.clearDefault(trx, scope.workspaceId, input.attribute, at);
      return repo.insertValue(trx, {
        id: newId(),
        workspace_id: scope.workspaceId,
        attribute: input.attribute,
        value,
        is_default: input.isDefault === true,
        position: await repo.nextPosition(trx, scope.workspaceId, input.attribute),
        configuration: toJson(mergeConfiguration({}, input)),
        created_at: at,
        updated_at: at,
      });
    });
    return toAttributeValueResponse(row);
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateValue(input.attribute, value);
    throw error;
  }
}

/**
 * Seed 000's update: a new text (unique within the attribute), and `isDefault: true` makes the
 * value the attribute's one default. The default cannot be un-defaulted directly: the attribute
 * would be left without one, so another value is made default instead.
 */
export async function updateAttributeValue(
  ctx: AppContext,
  scope: WorkspaceScope,
  id: string,
  input: UpdateAttributeValueInput,
): Promise<AttributeValueResponse> {
  const db = ctx.db.kysely;
  await ensureSeeded(ctx, scope.workspaceId);
  const value = input.value?.trim();
  let attribute: Attribute | undefined;
  try {
    const row = await db.transaction().execute(async (trx) => {
      // Existence before permission: another workspace's id is a 404 for everyone.
      let current = await getValueOrThrow(trx, scope.workspaceId, id);
      authorize(scope.role, 'configure');
      attribute = current.attribute as Attribute;
      checkConfiguration(attribute, input);
      if (value === '') throw new AppError('BAD_REQUEST', 'value should not be empty');
      if (ctx.db.dialect === 'postgres') {
        // Read again under the lock: a concurrent request may have moved the default or deleted it.
        await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, [attribute], 'exclusive');
        current = await getValueOrThrow(trx, scope.workspaceId, id);
      }
      const isDefault = toBool(current.is_default);
      if (input.isDefault === false && isDefault) {
        throw new AppError('BAD_REQUEST', `${current.value} is the default ${attribute}; make another value the default instead`);
      }
      if (value !== undefined && value.toLowerCase() !== current.value.toLowerCase()) {
        const clash = await repo.findValueByText(trx, scope.workspaceId, attribute, value);
        if (clash && clash.id !== current.id) throw duplicateValue(attribute, value);
      }
      const at = now();
      if (input.isDefault === true && !isDefault) await repo.clearDefault(trx, scope.workspaceId, attribute, at);
      return repo.writeValue(trx, scope.workspaceId, current.id, {
        value: value ?? current.value,
        isDefault: input.isDefault === true ? true : isDefault,
        configuration: toJson(mergeConfiguration(configurationOf(current), input)),
        updatedAt: at,
      });
    });
    return toAttributeValueResponse(row);
  } catch (error) {
    if (isUniqueViolation(error) && attribute !== undefined) throw duplicateValue(attribute, value ?? '');
    throw error;
  }
}

/**
 * Deletes a value. The default stays (400: make another default first). A value that live
 * records use is kept (409) unless `replaceWith` names another value of the attribute; the
 * records then move to it in the same transaction.
 */
export async function deleteAttributeValue(ctx: AppContext, scope: WorkspaceScope, id: string, replaceWith?: string): Promise<void> {
  const db = ctx.db.kysely;
  await ensureSeeded(ctx, scope.workspaceId);
  const existing = await getValueOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'configure');
  const attribute = existing.attribute as Attribute;
  await db.transaction().execute(async (trx) => {
    await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, [attribute], 'exclusive');
    const current = await getValueOrThrow(trx, scope.workspaceId, id);
    if (toBool(current.is_default)) {
      throw new AppError('BAD_REQUEST', `${current.value} is the default ${attribute}; make another value the default before deleting it`);
    }
    const at = now();
    if (replaceWith !== undefined) {
      const target = isUuid(replaceWith) ? await repo.findValue(trx, scope.workspaceId, replaceWith) : undefined;
      if (!target || target.attribute !== attribute || target.id === current.id) {
        throw new AppError('BAD_REQUEST', `replaceWith must be the id of another ${attribute} value`);
      }
      await repo.moveUsage(trx, scope.workspaceId, attribute, current.id, target.id, at);
    } else {
      const used = await repo.countUsage(trx, scope.workspaceId, attribute, current.id);
      if (used > 0) {
        throw new AppError(
          'CONFLICT',
          `${current.value} is used by ${used} ${used === 1 ? 'record' : 'records'}; pass replaceWith to move them to another value`,
        );
      }
    }
    await repo.updateValue(trx, scope.workspaceId, id, { is_default: false, deleted_at: at, updated_at: at });
  });
}

/**
 * The value a record stores for an attribute: the one named (by id or by text) or, when none is
 * given, the attribute's default. An unknown name is a 400 naming the request field.
 */
export async function resolveAttributeValue(
  db: Executor,
  workspaceId: string,
  attribute: Attribute,
  field: string,
  ref: string | null | undefined,
): Promise<AttributeValueRow | null> {
  if (ref === null) return null;
  if (ref === undefined) return (await repo.findDefault(db, workspaceId, attribute)) ?? null;
  const row = await findNamedValue(db, workspaceId, attribute, ref);
  if (!row) throw new AppError('BAD_REQUEST', `${field} must name a value of ${attribute} (its id or its text)`);
  return row;
}

/** A live value of the attribute named by its id or its text. */
async function findNamedValue(db: Executor, workspaceId: string, attribute: Attribute, ref: string): Promise<AttributeValueRow | undefined> {
  const byId = isUuid(ref) ? await repo.findValue(db, workspaceId, ref.toLowerCase()) : undefined;
  return byId?.attribute === attribute ? byId : repo.findValueByText(db, workspaceId, attribute, ref);
}

/**
 * The value id a list filter names: undefined without a filter, null when the workspace has no
 * such value (the list is then empty rather than an error).
 */
export async function filterValueId(db: Executor, workspaceId: string, attribute: Attribute, ref: string | undefined): Promise<string | null | undefined> {
  if (ref === undefined) return undefined;
  return (await findNamedValue(db, workspaceId, attribute, ref))?.id ?? null;
}

/** Value rows by id for building responses (deleted ones included). */
export async function attributeValuesByIds(db: Executor, workspaceId: string, ids: ReadonlyArray<string | null>): Promise<Map<string, AttributeValueRow>> {
  const rows = await repo.findValuesByIds(
    db,
    workspaceId,
    ids.filter((id): id is string => id !== null),
  );
  return new Map(rows.map((row) => [row.id, row]));
}

/**
 * The three response fields of an attribute-backed field X: `XId`, `X` (the text) and
 * `XConfiguration`, e.g. `statusId`, `status`, `statusConfiguration`.
 */
export function attributeFields<K extends string>(
  key: K,
  id: string | null,
  values: Map<string, AttributeValueRow>,
): Record<K | `${K}Id`, string | null> & Record<`${K}Configuration`, AttributeValueConfigurationValue | null> {
  const { value, configuration } = attributeValueOf(id, values);
  return {
    [`${key}Id`]: id,
    [key]: value,
    [`${key}Configuration`]: configuration,
  } as never;
}

/** Parsed configurations of the value rows a response is built from (a list repeats them). */
const parsedConfigurations = new WeakMap<AttributeValueRow, AttributeValueConfigurationValue>();

/** The text and configuration of the value a record points at (null when it points at none). */
export function attributeValueOf(
  id: string | null,
  values: Map<string, AttributeValueRow>,
): { value: string | null; configuration: AttributeValueConfigurationValue | null } {
  const row = id === null ? undefined : values.get(id);
  if (!row) return { value: null, configuration: null };
  let configuration = parsedConfigurations.get(row);
  if (!configuration) {
    configuration = configurationOf(row);
    parsedConfigurations.set(row, configuration);
  }
  return { value: row.value, configuration };
}
