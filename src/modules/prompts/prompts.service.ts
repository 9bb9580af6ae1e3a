import { sql, type Updateable } from 'kysely';
import type { Template } from 'liquidjs';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { fromJson, isUniqueViolation, newId, now, toBool, toJson } from '../../db/values.js';
import { AppError, fieldError, type FieldErrors } from '../../errors.js';
import { findVisibleModel } from '../models/models.repository.js';
import { selectModel, type CredentialOwner } from '../runs/model-target.js';
import { toUserLeaf, type UserLeafResource } from '../users/user.shape.js';
import { findUsersByIds } from '../users/users.repository.js';
import { authorize, can } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import * as repo from './prompts.repository.js';
import type {
  CreatePromptInput,
  PromptResource,
  PromptSettingsValue,
  PromptVariableInput,
  PromptVariableResource,
  PromptVersionResource,
  UpdatePromptInput,
} from './prompts.schemas.js';
import type { PromptRow, PromptsTable, PromptVersionRow } from './prompts.table.js';
import * as template from './template.js';

export const SORT_COLUMNS = {
  name: 'p.name',
  created_at: 'p.created_at',
  updated_at: 'p.updated_at',
} as const;

export const VERSION_SORT_COLUMNS = { version: 'v.version' } as const;

const DEFAULT_SETTINGS: PromptSettingsValue = { temperature: null, max_tokens: null, json_output: false };
const DEFAULT_PROFILE_PHOTO = { emoji: null, background_color: null, preference: null };

type PromptVariable = PromptVariableResource;

// ---------------------------------------------------------------------------------------------
// Stored values

function variablesOf(value: unknown): PromptVariable[] {
  const list = fromJson<Partial<PromptVariable>[] | null>(value) ?? [];
  return list.map((v) => ({
    name: String(v.name),
    description: v.description ?? null,
    default: v.default ?? null,
    required: v.required ?? true,
  }));
}

function settingsOf(value: unknown): PromptSettingsValue {
  const stored = fromJson<Partial<PromptSettingsValue> | null>(value) ?? {};
  return {
    temperature: stored.temperature ?? null,
    max_tokens: stored.max_tokens ?? null,
    json_output: stored.json_output ?? false,
  };
}

/** JSON with object keys sorted, so values read back from jsonb (which reorders keys) compare equal. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

// ---------------------------------------------------------------------------------------------
// Templates and variables

function templateErrorToValidation(error: unknown): unknown {
  if (!(error instanceof template.TemplateError)) return error;
  return error.kind === 'syntax'
    ? fieldError('content', `The content field is not a valid template: ${error.message}.`)
    : fieldError('variables', `The variables could not be rendered into the template: ${error.message}.`);
}

/** Renders a prompt template; a failing filter or an exceeded limit is a 422 on `variables`, a syntax error one on `content`. */
export async function renderTemplate(content: string, variables: Record<string, unknown>): Promise<string> {
  try {
    return await template.renderTemplate(content, variables);
  } catch (error) {
    throw templateErrorToValidation(error);
  }
}

/** The variables a template expects (see template.ts); a syntax error is a 422 on `content`. */
export function inferVariables(content: string): string[] {
  try {
    return template.inferVariables(content);
  } catch (error) {
    throw templateErrorToValidation(error);
  }
}

function parseContent(content: string): { parsed: Template[]; names: string[] } {
  try {
    const parsed = template.parseTemplate(content);
    return { parsed, names: template.inferVariables(parsed) };
  } catch (error) {
    throw templateErrorToValidation(error);
  }
}

function inferred(names: string[]): PromptVariable[] {
  return names.map((name) => ({ name, description: null, default: null, required: true }));
}

/** Declared variables: unique names, and the template may use no others. */
function declared(input: PromptVariableInput[], names: string[]): PromptVariable[] {
  const errors: FieldErrors = {};
  const seen = new Set<string>();
  const variables = input.map((v, i) => {
    if (seen.has(v.name)) errors[`variables.${i}.name`] = [`The variables.${i}.name field has a duplicate value.`];
    seen.add(v.name);
    const hasDefault = v.default !== undefined && v.default !== null;
    if (hasDefault && v.required === true) {
      errors[`variables.${i}.required`] = [`The variables.${i}.required field must be false when variables.${i}.default is present.`];
    }
    return { name: v.name, description: v.description ?? null, default: hasDefault ? v.default : null, required: hasDefault ? false : (v.required ?? true) };
  });
  if (Object.keys(errors).length > 0) throw new AppError('VALIDATION', undefined, { fields: errors });
  checkDeclared(names, variables);
  return variables;
}

function checkDeclared(names: string[], variables: PromptVariable[]): void {
  const known = new Set(variables.map((v) => v.name));
  const undeclared = names.filter((name) => !known.has(name));
  if (undeclared.length === 0) return;
  const list = undeclared.join(', ');
  throw fieldError(
    'content',
    undeclared.length === 1
      ? `The content field uses the variable ${list}, which is not declared in variables.`
      : `The content field uses the variables ${list}, which are not declared in variables.`,
  );
}

/** The values a render receives: given ones, then defaults; 422 naming every missing required variable. */
function bindVariables(variables: PromptVariable[], given: Record<string, unknown>): Record<string, unknown> {
  const errors: FieldErrors = {};
  const entries: [string, unknown][] = [];
  for (const variable of variables) {
    const value = Object.hasOwn(given, variable.name) ? given[variable.name] : undefined;
    if (value !== undefined && value !== null) entries.push([variable.name, value]);
    else if (variable.default !== null && variable.default !== undefined) entries.push([variable.name, variable.default]);
    else if (variable.required) errors[`variables.${variable.name}`] = [`The variables.${variable.name} field is required.`];
  }
  if (Object.keys(errors).length > 0) throw new AppError('VALIDATION', undefined, { fields: errors });
  // fromEntries defines own properties, so a variable named like an Object.prototype member stays data.
  return Object.fromEntries(entries);
}

// ---------------------------------------------------------------------------------------------
// Model choice

interface ModelIds {
  llmId: string | null;
  accountId: string | null;
}

/**
 * The default model of a saved prompt: both or neither, usable by the creator (their
 * credentials), and able to answer in JSON when `json_output` is on. Returns the stored ids.
 */
async function checkModelChoice(db: Executor, owner: CredentialOwner, choice: ModelIds, settings: PromptSettingsValue): Promise<ModelIds> {
  if (!choice.llmId && !choice.accountId) return { llmId: null, accountId: null };
  const { llm, account } = await selectModel(db, owner, choice);
  checkJsonSupport(llm, settings);
  return { llmId: llm.id, accountId: account.id };
}

function checkJsonSupport(llm: { name: string; supports_json: unknown }, settings: PromptSettingsValue): void {
  if (settings.json_output && !toBool(llm.supports_json)) {
    throw fieldError('settings.json_output', `The selected model ${llm.name} does not support JSON output.`);
  }
}

// ---------------------------------------------------------------------------------------------
// Resources

async function usersOf(db: Executor, ids: (number | null)[]): Promise<Map<number, UserLeafResource>> {
  const wanted = [...new Set(ids.filter((id): id is number => id !== null))];
  return new Map((await findUsersByIds(db, wanted)).map((u) => [u.id, toUserLeaf(u)]));
}

export async function toPromptResources(db: Executor, rows: PromptRow[], viewerId: number): Promise<PromptResource[]> {
  if (rows.length === 0) return [];
  const users = await usersOf(db, rows.map((r) => r.user_id));
  return rows.map((row) => ({
    uuid: row.id,
    name: row.name,
    description: row.description,
    content: row.content,
    variables: variablesOf(row.variables),
    variables_declared: toBool(row.variables_declared),
    llm_uuid: row.llm_id,
    account_uuid: row.account_id,
    settings: settingsOf(row.settings),
    visibility: row.visibility,
    version: row.version,
    profile_photo_config: fromJson<Record<string, unknown> | null>(row.profile_photo_config) ?? { ...DEFAULT_PROFILE_PHOTO },
    is_owner: row.user_id !== null && row.user_id === viewerId,
    user: row.user_id === null ? null : (users.get(row.user_id) ?? null),
    created_at: row.created_at,
    updated_at: row.updated_at,
  }));
}

export async function toPromptResource(db: Executor, row: PromptRow, viewerId: number): Promise<PromptResource> {
  const [resource] = await toPromptResources(db, [row], viewerId);
  return resource!;
}

async function toVersionResources(db: Executor, rows: PromptVersionRow[]): Promise<PromptVersionResource[]> {
  if (rows.length === 0) return [];
  const users = await usersOf(db, rows.map((r) => r.user_id));
  return rows.map((row) => ({
    version: row.version,
    content: row.content,
    variables: variablesOf(row.variables),
    llm_uuid: row.llm_id,
    account_uuid: row.account_id,
    settings: settingsOf(row.settings),
    user: row.user_id === null ? null : (users.get(row.user_id) ?? null),
    created_at: row.created_at,
  }));
}

// ---------------------------------------------------------------------------------------------
// Access

/**
 * A prompt the caller may read: one of the acting workspace they see, or a public prompt of
 * any workspace. NOT_FOUND otherwise (also for a private prompt of another member).
 * `forUpdate` locks a row of the acting workspace (PostgreSQL).
 */
export async function getReadablePromptOrThrow(
  db: Executor,
  scope: WorkspaceScope,
  id: string,
  forUpdate = false,
): Promise<PromptRow> {
  const promptId = id.toLowerCase();
  const row =
    (await repo.findVisiblePrompt(db, scope.workspaceId, scope.userId, promptId, forUpdate)) ?? (await repo.findPublicPrompt(db, promptId));
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

/** Changing a prompt: a writer of its own workspace who created it, or an admin or owner there. */
function authorizeChange(scope: WorkspaceScope, row: PromptRow): void {
  if (row.workspace_id !== scope.workspaceId) throw new AppError('FORBIDDEN');
  authorize(scope.role, 'write');
  if (row.user_id !== scope.userId && !can(scope.role, 'manage_members')) throw new AppError('FORBIDDEN');
}

function nameOf(value: string): string {
  const name = value.trim();
  if (!name) throw fieldError('name', 'The name field is required.');
  return name;
}

// ---------------------------------------------------------------------------------------------
// CRUD

export async function listPrompts(
  ctx: AppContext,
  scope: WorkspaceScope,
  page: PageRequest,
  filter: repo.PromptListFilter,
): Promise<PageResult<PromptResource>> {
  const db = ctx.db.kysely;
  const result = await fetchPage(page, {
    base: repo.listPromptsQuery(db, scope.workspaceId, scope.userId, filter),
    select: (q) => q.selectAll('p').select(sql.ref(page.sort.column).as('sort_value')),
    idColumn: 'p.id',
    sortField: 'sort_value',
    idField: 'id',
    map: (row: PromptRow & { sort_value?: unknown }) => {
      const { sort_value: _sort, ...prompt } = row;
      return prompt as PromptRow;
    },
  });
  return { ...result, items: await toPromptResources(db, result.items, scope.userId) };
}

export async function getPrompt(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<PromptResource> {
  const db = ctx.db.kysely;
  return toPromptResource(db, await getReadablePromptOrThrow(db, scope, id), scope.userId);
}

export async function createPrompt(ctx: AppContext, scope: WorkspaceScope, input: CreatePromptInput): Promise<PromptResource> {
  authorize(scope.role, 'write');
  const db = ctx.db.kysely;
  const name = nameOf(input.name);
  const { names } = parseContent(input.content);
  const variables = input.variables ? declared(input.variables, names) : inferred(names);
  const settings: PromptSettingsValue = { ...DEFAULT_SETTINGS, ...input.settings };
  const model = await checkModelChoice(
    db,
    { workspaceId: scope.workspaceId, userId: scope.userId },
    { llmId: input.llm_uuid ?? null, accountId: input.account_uuid ?? null },
    settings,
  );
  const at = now();
  const id = newId();
  const row = await db.transaction().execute(async (trx) => {
    const prompt = await repo.insertPrompt(trx, {
      id,
      workspace_id: scope.workspaceId,
      user_id: scope.userId,
      name,
      description: input.description ?? null,
      content: input.content,
      variables: toJson(variables),
      variables_declared: Boolean(input.variables),
      llm_id: model.llmId,
      account_id: model.accountId,
      settings: toJson(settings),
      visibility: input.visibility ?? 'private',
      version: 1,
      profile_photo_config: toJson({ ...DEFAULT_PROFILE_PHOTO, ...input.profile_photo_config }),
      created_at: at,
      updated_at: at,
    });
    await repo.insertPromptVersion(trx, {
      id: newId(),
      prompt_id: id,
      workspace_id: scope.workspaceId,
      version: 1,
      content: input.content,
      variables: toJson(variables),
      llm_id: model.llmId,
      account_id: model.accountId,
      settings: toJson(settings),
      user_id: scope.userId,
      created_at: at,
    });
    return prompt;
  });
  return toPromptResource(db, row, scope.userId);
}

/**
 * Fields left out keep their value. A change to content, variables, settings or the model adds
 * a version in the same transaction, numbered from the locked row, so concurrent updates get
 * consecutive numbers (the unique index on (prompt_id, version) is the backstop).
 */
export async function updatePrompt(ctx: AppContext, scope: WorkspaceScope, id: string, input: UpdatePromptInput): Promise<PromptResource> {
  const db = ctx.db.kysely;
  let row: PromptRow;
  try {
    row = await db.transaction().execute(async (trx) => {
      const current = await getReadablePromptOrThrow(trx, scope, id, ctx.db.dialect === 'postgres');
      authorizeChange(scope, current);
      return applyUpdate(trx, scope, current, input);
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new AppError('CONFLICT', 'The prompt was changed by another request at the same time; try again.');
    throw error;
  }
  return toPromptResource(db, row, scope.userId);
}

async function applyUpdate(trx: Executor, scope: WorkspaceScope, current: PromptRow, input: UpdatePromptInput): Promise<PromptRow> {
  const content = input.content ?? current.content;
  const currentVariables = variablesOf(current.variables);
  const wasDeclared = toBool(current.variables_declared);
  let variables = currentVariables;
  let isDeclared = wasDeclared;
  if (input.variables !== undefined || content !== current.content) {
    const { names } = parseContent(content);
    if (input.variables === null) {
      variables = inferred(names);
      isDeclared = false;
    } else if (input.variables !== undefined) {
      variables = declared(input.variables, names);
      isDeclared = true;
    } else if (wasDeclared) {
      checkDeclared(names, variables);
    } else {
      variables = inferred(names);
    }
  }

  const currentSettings = settingsOf(current.settings);
  const settings: PromptSettingsValue = { ...currentSettings, ...input.settings };
  const owner = { workspaceId: current.workspace_id, userId: current.user_id ?? scope.userId };
  let model: ModelIds = { llmId: current.llm_id, accountId: current.account_id };
  if (input.llm_uuid !== undefined || input.account_uuid !== undefined) {
    model = await checkModelChoice(
      trx,
      owner,
      {
        llmId: input.llm_uuid !== undefined ? input.llm_uuid : current.llm_id,
        accountId: input.account_uuid !== undefined ? input.account_uuid : current.account_id,
      },
      settings,
    );
  } else if (settings.json_output && !currentSettings.json_output && model.llmId) {
    const llm = await findVisibleModel(trx, owner.workspaceId, owner.userId, model.llmId);
    if (llm) checkJsonSupport(llm, settings);
  }

  const changes: Updateable<PromptsTable> = {};
  if (input.name !== undefined && nameOf(input.name) !== current.name) changes.name = nameOf(input.name);
  if (input.description !== undefined && input.description !== current.description) changes.description = input.description;
  if (input.visibility !== undefined && input.visibility !== current.visibility) changes.visibility = input.visibility;
  if (input.profile_photo_config !== undefined) {
    const photo = { ...DEFAULT_PROFILE_PHOTO, ...input.profile_photo_config };
    if (canonicalJson(photo) !== canonicalJson(fromJson(current.profile_photo_config))) changes.profile_photo_config = toJson(photo);
  }
  if (isDeclared !== wasDeclared) changes.variables_declared = isDeclared;

  const versioned =
    content !== current.content ||
    canonicalJson(variables) !== canonicalJson(currentVariables) ||
    canonicalJson(settings) !== canonicalJson(currentSettings) ||
    model.llmId !== current.llm_id ||
    model.accountId !== current.account_id;
  const at = now();
  if (versioned) {
    const version = current.version + 1;
    Object.assign(changes, {
      content,
      variables: toJson(variables),
      settings: toJson(settings),
      llm_id: model.llmId,
      account_id: model.accountId,
      version,
    });
    await repo.insertPromptVersion(trx, {
      id: newId(),
      prompt_id: current.id,
      workspace_id: current.workspace_id,
      version,
      content,
      variables: toJson(variables),
      llm_id: model.llmId,
      account_id: model.accountId,
      settings: toJson(settings),
      user_id: scope.userId,
      created_at: at,
    });
  }
  if (Object.keys(changes).length === 0) return current;
  changes.updated_at = at;
  return repo.updatePrompt(trx, current.workspace_id, current.id, changes);
}

export async function deletePrompt(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  const db = ctx.db.kysely;
  const row = await getReadablePromptOrThrow(db, scope, id);
  authorizeChange(scope, row);
  await repo.deletePrompt(db, row.workspace_id, row.id);
}

// ---------------------------------------------------------------------------------------------
// Versions

export async function listPromptVersions(
  ctx: AppContext,
  scope: WorkspaceScope,
  id: string,
  page: PageRequest,
): Promise<PageResult<PromptVersionResource>> {
  const db = ctx.db.kysely;
  const prompt = await getReadablePromptOrThrow(db, scope, id);
  const result = await fetchPage(page, {
    base: repo.promptVersionsQuery(db, prompt.workspace_id, prompt.id),
    select: (q) => q.selectAll('v').select(sql.ref(page.sort.column).as('sort_value')),
    idColumn: 'v.id',
    sortField: 'sort_value',
    idField: 'id',
    map: (row: PromptVersionRow & { sort_value?: unknown }) => {
      const { sort_value: _sort, ...version } = row;
      return version as PromptVersionRow;
    },
  });
  return { ...result, items: await toVersionResources(db, result.items) };
}

export async function getPromptVersion(ctx: AppContext, scope: WorkspaceScope, id: string, version: number): Promise<PromptVersionResource> {
  const db = ctx.db.kysely;
  const prompt = await getReadablePromptOrThrow(db, scope, id);
  const row = await repo.findPromptVersion(db, prompt.workspace_id, prompt.id, version);
  if (!row) throw new AppError('NOT_FOUND');
  const [resource] = await toVersionResources(db, [row]);
  return resource!;
}

// ---------------------------------------------------------------------------------------------
// Running (the model call itself is the run contract's, in src/modules/runs)

export interface PromptRunInput {
  variables?: Record<string, unknown>;
  version?: number;
  llm_uuid?: string;
  account_uuid?: string;
}

export interface PreparedPromptRun {
  prompt: PromptRow;
  /** The version rendered: the one asked for, else the current one. */
  version: number;
  rendered: string;
  settings: { temperature: number | null; max_tokens: number | null; json_output: boolean };
  /**
   * The model to call: the request's ids, else the rendered version's defaults. Unchecked here
   * (resolveModelTarget checks the pair). A public prompt of another workspace lends no
   * defaults, since its account belongs to that workspace.
   */
  model: { llmId: string | null; accountId: string | null };
}

/**
 * Everything a prompt run needs before the model call: the caller must see the prompt and have
 * write role in the acting workspace (a run creates records); the version defaults to the
 * current one; required variables without value or default are a 422 naming each
 * (`variables.<name>`); unknown variables are ignored; rendering failures are a 422 on `variables`.
 */
export async function preparePromptRun(
  ctx: AppContext,
  scope: WorkspaceScope,
  promptId: string,
  input: PromptRunInput,
): Promise<PreparedPromptRun> {
  const db = ctx.db.kysely;
  const prompt = await getReadablePromptOrThrow(db, scope, promptId);
  authorize(scope.role, 'write');
  let source: Pick<PromptRow, 'version' | 'content' | 'variables' | 'settings' | 'llm_id' | 'account_id'> = prompt;
  if (input.version !== undefined && input.version !== prompt.version) {
    const row = await repo.findPromptVersion(db, prompt.workspace_id, prompt.id, input.version);
    if (!row) throw fieldError('version', 'The selected version is invalid.');
    source = row;
  }
  const values = bindVariables(variablesOf(source.variables), input.variables ?? {});
  const rendered = await renderTemplate(source.content, values);
  const lends = prompt.workspace_id === scope.workspaceId;
  return {
    prompt,
    version: source.version,
    rendered,
    settings: settingsOf(source.settings),
    model: {
      llmId: input.llm_uuid?.toLowerCase() ?? (lends ? source.llm_id : null),
      accountId: input.account_uuid?.toLowerCase() ?? (lends ? source.account_id : null),
    },
  };
}
