import type { Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { sql } from 'kysely';
import { type BuiltinToolDefinition, type JsonSchemaObject, type RunScope, type RunTool } from '../../ai/ports.js';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import type { PageRequest, PageResult } from '../../db/paging.js';
import { fromJson, isUniqueViolation, isUuid, newId, now, toBool, toJson } from '../../db/values.js';
import { AppError, type FieldErrors } from '../../errors.js';
import { getUsableAccountOrThrow } from '../accounts/accounts.service.js';
import type { AccountRow } from '../accounts/accounts.table.js';
import { findProviderById, findProvidersByIds } from '../providers/providers.repository.js';
import { getVisibleProviderOrThrow } from '../providers/providers.service.js';
import type { ProviderRow } from '../providers/providers.table.js';
import { can } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { BUILTIN_TOOLS, BUILTIN_TOOLS_AT, builtinToolOf } from './builtin-tools.js';
import { toolErrorOf } from './customer-accounts-tools.js';
import { httpConfigProblems, type HttpToolConfig } from './http-templates.js';
import { runHttpTool } from './http-tool.js';
import { inputSchemaProblem, normalizeInputSchema } from './input-schema.js';
import { runMcpTool } from './mcp-tool.js';
import * as repo from './tools.repository.js';
import type { CreateToolInput, ToolKind, ToolResource, UpdateToolInput } from './tools.schemas.js';
import type { ToolRow } from './tools.table.js';
import { findWorkflowRunTools, findWorkflowTools } from './workflow-tools.js';

export const SORT_COLUMNS = { name: 't.name', created_at: 't.created_at' } as const;

/** Serialized size of an HTTP tool's request definition. */
const MAX_HTTP_CONFIG_BYTES = 64 * 1024;
const FUNCTION_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

function viewerOf(scope: WorkspaceScope): repo.ToolViewer {
  return { workspaceId: scope.workspaceId, userId: scope.userId };
}

function failValidation(errors: FieldErrors): never {
  const first = Object.values(errors)[0]![0]!;
  throw new AppError('VALIDATION', first, { fields: errors });
}

/** `get_weather` → `Get weather`. */
function humanize(name: string): string {
  const words = name.replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').trim().toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function builtinResource(tool: BuiltinToolDefinition): ToolResource {
  return {
    uuid: tool.uuid,
    kind: 'builtin',
    group: tool.group,
    name: tool.name,
    display_name: tool.displayName,
    description: tool.description,
    input_schema: tool.inputSchema,
    provider_uuid: null,
    account_uuid: null,
    http: null,
    is_enabled: true,
    is_builtin: true,
    created_at: BUILTIN_TOOLS_AT,
    updated_at: BUILTIN_TOOLS_AT,
  };
}

/** A stored tool for the caller; another workspace's default account is not shown. */
function toToolResource(row: repo.ToolListRow, scope: WorkspaceScope): ToolResource {
  const config = fromJson<Record<string, unknown>>(row.config) ?? {};
  return {
    uuid: row.id,
    kind: row.kind,
    group: row.provider_slug,
    name: row.name,
    display_name: row.display_name,
    description: row.description,
    input_schema: fromJson<JsonSchemaObject>(row.input_schema) ?? { type: 'object' },
    provider_uuid: row.provider_id,
    account_uuid: row.kind === 'mcp' ? row.account_id : row.workspace_id === scope.workspaceId ? row.default_account_id : null,
    http:
      row.kind === 'http'
        ? {
            method: config.method as HttpToolConfig['method'],
            url: String(config.url ?? ''),
            headers: (config.headers as Record<string, string> | undefined) ?? {},
            query: (config.query as Record<string, unknown> | null | undefined) ?? null,
            body: config.body ?? null,
          }
        : null,
    is_enabled: toBool(row.is_enabled),
    is_builtin: false,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export interface ToolListFilter extends Omit<repo.ToolListFilter, 'kind'> {
  kind?: ToolKind;
}

function matchingBuiltins(filter: ToolListFilter, page: PageRequest): BuiltinToolDefinition[] {
  if (filter.providerId || filter.accountId || (filter.kind && filter.kind !== 'builtin')) return [];
  const search = filter.search?.toLowerCase();
  const tools = BUILTIN_TOOLS.filter(
    (tool) =>
      (!filter.group || tool.group === filter.group) &&
      (!search || [tool.name, tool.displayName, tool.description].some((text) => text.toLowerCase().includes(search))),
  );
  if (page.sort.column === SORT_COLUMNS.name) {
    tools.sort((a, b) => (page.sort.direction === 'asc' ? a.name.localeCompare(b.name) : b.name.localeCompare(a.name)));
  }
  return tools;
}

/**
 * The catalog: built-in tools first, then the stored tools the caller sees (HTTP tools of
 * visible providers, MCP tools of usable accounts), each part in the requested order.
 */
export async function listTools(ctx: AppContext, scope: WorkspaceScope, page: PageRequest, filter: ToolListFilter): Promise<PageResult<ToolResource>> {
  const db = ctx.db.kysely;
  const builtins = matchingBuiltins(filter, page);
  const offset = (page.page - 1) * page.perPage;
  const items: ToolResource[] = builtins.slice(offset, offset + page.perPage).map(builtinResource);

  let storedTotal = 0;
  if (filter.kind !== 'builtin') {
    const { kind, ...rest } = filter;
    const base = repo.listToolsQuery(db, viewerOf(scope), { ...rest, ...(kind === 'http' || kind === 'mcp' ? { kind } : {}) });
    const count = await base.select(sql<number>`count(*)`.as('count')).executeTakeFirst();
    storedTotal = Number(count?.count ?? 0);
    const remaining = page.perPage - items.length;
    const storedOffset = Math.max(0, offset - builtins.length);
    if (remaining > 0 && storedOffset < storedTotal) {
      const rows = (await repo
        .selectListColumns(base)
        .orderBy(sql.ref(page.sort.column), page.sort.direction)
        .orderBy('t.id', page.sort.direction)
        .limit(remaining)
        .offset(storedOffset)
        .execute()) as repo.ToolListRow[];
      items.push(...rows.map((row) => toToolResource(row, scope)));
    }
  }
  return { kind: 'offset', items, total: builtins.length + storedTotal, page: page.page, perPage: page.perPage };
}

export async function getTool(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<ToolResource> {
  const builtin = builtinToolOf(id);
  if (builtin) return builtinResource(builtin);
  const row = await repo.findVisibleTool(ctx.db.kysely, viewerOf(scope), id);
  if (!row) throw new AppError('NOT_FOUND');
  return toToolResource(row, scope);
}

/** Who may define tools on a provider: who may edit it (its creator or an admin or owner). */
function assertMayEditProvider(scope: WorkspaceScope, provider: ProviderRow): void {
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  if (provider.user_id !== scope.userId && !can(scope.role, 'manage_members')) throw new AppError('FORBIDDEN');
}

function httpConfigOf(input: NonNullable<CreateToolInput['http']>): HttpToolConfig {
  return {
    method: input.method,
    url: input.url,
    headers: input.headers ?? {},
    query: input.query ?? null,
    body: input.body === undefined ? null : input.body,
  };
}

interface ToolFields {
  name?: string;
  inputSchema?: Record<string, unknown>;
  http?: HttpToolConfig;
}

/** Field problems of a tool definition, all at once, as Laravel reports them. */
function definitionProblems(fields: ToolFields): FieldErrors {
  const errors: FieldErrors = {};
  if (fields.name !== undefined && !FUNCTION_NAME.test(fields.name)) {
    errors.name = ['The name field must start with a letter and contain only letters, numbers, underscores and dashes (at most 64).'];
  }
  if (fields.inputSchema !== undefined) {
    const problem = inputSchemaProblem(fields.inputSchema);
    if (problem) errors.input_schema = [problem];
  }
  if (fields.http !== undefined) {
    if (Buffer.byteLength(JSON.stringify(fields.http)) > MAX_HTTP_CONFIG_BYTES) {
      errors.http = [`The http field must not be larger than ${MAX_HTTP_CONFIG_BYTES / 1024} KB.`];
    } else {
      Object.assign(errors, httpConfigProblems(fields.http));
    }
  }
  return errors;
}

/** The default account of an HTTP tool: one the caller may use, of the tool's provider. */
async function defaultAccountOf(db: Executor, scope: WorkspaceScope, provider: ProviderRow, id: string, errors: FieldErrors): Promise<AccountRow | undefined> {
  let account: AccountRow;
  try {
    account = await getUsableAccountOrThrow(db, scope, id);
  } catch (error) {
    if (error instanceof AppError && error.code === 'NOT_FOUND') {
      errors.account_uuid = ['The selected account uuid is invalid.'];
      return undefined;
    }
    throw error;
  }
  if (account.provider_id !== provider.id) {
    errors.account_uuid = [`The selected account uuid is not an account of the ${provider.name} provider.`];
    return undefined;
  }
  return account;
}

function nameTaken(): AppError {
  return new AppError('VALIDATION', 'The name has already been taken.', { fields: { name: ['The name has already been taken.'] } });
}

/** Creates an HTTP tool on a custom `tool` provider of the workspace. */
export async function createTool(ctx: AppContext, scope: WorkspaceScope, input: CreateToolInput): Promise<ToolResource> {
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  const db = ctx.db.kysely;
  let provider: ProviderRow;
  try {
    provider = await getVisibleProviderOrThrow(db, scope, input.provider_uuid);
  } catch (error) {
    if (error instanceof AppError && error.code === 'NOT_FOUND') failValidation({ provider_uuid: ['The selected provider uuid is invalid.'] });
    throw error;
  }
  if (provider.workspace_id !== scope.workspaceId) {
    failValidation({ provider_uuid: ['HTTP tools can only be defined on a custom provider of this workspace.'] });
  }
  if (provider.type !== 'tool') failValidation({ provider_uuid: ['The selected provider must be of type tool.'] });
  assertMayEditProvider(scope, provider);

  const http = httpConfigOf(input.http);
  const errors = definitionProblems({ name: input.name, inputSchema: input.input_schema, http });
  const account = input.account_uuid ? await defaultAccountOf(db, scope, provider, input.account_uuid, errors) : undefined;
  if (Object.keys(errors).length > 0) failValidation(errors);

  const at = now();
  try {
    const row = await db.transaction().execute(async (trx) => {
      if (await repo.httpNameTaken(trx, scope.workspaceId, provider.id, input.name)) throw nameTaken();
      return repo.insertTool(trx, {
        id: newId(),
        workspace_id: scope.workspaceId,
        provider_id: provider.id,
        account_id: null,
        default_account_id: account?.id ?? null,
        user_id: scope.userId,
        kind: 'http',
        name: input.name,
        display_name: input.display_name?.trim() || humanize(input.name),
        description: input.description.trim(),
        input_schema: toJson(normalizeInputSchema(input.input_schema)),
        config: toJson(http),
        is_enabled: input.is_enabled ?? true,
        created_at: at,
        updated_at: at,
      });
    });
    return toToolResource({ ...row, provider_slug: provider.slug, provider_enabled: provider.is_enabled }, scope);
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken();
    throw error;
  }
}

async function getVisibleToolRowOrThrow(db: Executor, scope: WorkspaceScope, id: string): Promise<repo.ToolListRow> {
  const row = await repo.findVisibleTool(db, viewerOf(scope), id);
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

/** MCP tools are switched on and off by the owner of the account whose server listed them. */
async function assertMayToggleMcpTool(db: Executor, scope: WorkspaceScope, row: ToolRow): Promise<void> {
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  const account = row.account_id ? await repo.findWorkspaceAccount(db, scope.workspaceId, row.account_id) : undefined;
  if (!account || account.user_id !== scope.userId) throw new AppError('FORBIDDEN');
}

async function editableHttpTool(db: Executor, scope: WorkspaceScope, row: ToolRow): Promise<ProviderRow> {
  if (row.workspace_id !== scope.workspaceId) throw new AppError('FORBIDDEN');
  const provider = await findProviderById(db, row.provider_id);
  if (!provider) throw new AppError('NOT_FOUND');
  assertMayEditProvider(scope, provider);
  return provider;
}

export async function updateTool(ctx: AppContext, scope: WorkspaceScope, id: string, input: UpdateToolInput): Promise<ToolResource> {
  const db = ctx.db.kysely;
  if (builtinToolOf(id)) throw new AppError('FORBIDDEN');
  const row = await getVisibleToolRowOrThrow(db, scope, id);

  if (row.kind === 'mcp') {
    const fixed = Object.keys(input).filter((field) => field !== 'is_enabled' && (input as Record<string, unknown>)[field] !== undefined);
    await assertMayToggleMcpTool(db, scope, row);
    if (fixed.length > 0) {
      failValidation(
        Object.fromEntries(
          fixed.map((field) => [field, [`The ${field.replace(/_/g, ' ')} field cannot be changed on an MCP tool: its server defines it.`]]),
        ),
      );
    }
    if (input.is_enabled === undefined || toBool(row.is_enabled) === input.is_enabled) return toToolResource(row, scope);
    const updated = await repo.updateTool(db, scope.workspaceId, id, { is_enabled: input.is_enabled, updated_at: now() });
    return toToolResource({ ...updated, provider_slug: row.provider_slug, provider_enabled: row.provider_enabled }, scope);
  }

  const provider = await editableHttpTool(db, scope, row);
  const http = input.http ? httpConfigOf(input.http) : undefined;
  const errors = definitionProblems({ name: input.name, inputSchema: input.input_schema, http });
  const account =
    input.account_uuid === undefined || input.account_uuid === null ? undefined : await defaultAccountOf(db, scope, provider, input.account_uuid, errors);
  if (Object.keys(errors).length > 0) failValidation(errors);

  const changes: Parameters<typeof repo.updateTool>[3] = {};
  if (input.name !== undefined) changes.name = input.name;
  if (input.display_name !== undefined) changes.display_name = input.display_name.trim();
  if (input.description !== undefined) changes.description = input.description.trim();
  if (input.input_schema !== undefined) changes.input_schema = toJson(normalizeInputSchema(input.input_schema));
  if (http !== undefined) changes.config = toJson(http);
  if (input.account_uuid !== undefined) changes.default_account_id = account?.id ?? null;
  if (input.is_enabled !== undefined) changes.is_enabled = input.is_enabled;
  if (Object.keys(changes).length === 0) return toToolResource(row, scope);
  changes.updated_at = now();
  try {
    const updated = await db.transaction().execute(async (trx) => {
      if (input.name !== undefined && input.name !== row.name && (await repo.httpNameTaken(trx, scope.workspaceId, row.provider_id, input.name, id))) {
        throw nameTaken();
      }
      return repo.updateTool(trx, scope.workspaceId, id, changes);
    });
    return toToolResource({ ...updated, provider_slug: row.provider_slug, provider_enabled: row.provider_enabled }, scope);
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken();
    throw error;
  }
}

export async function deleteTool(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  const db = ctx.db.kysely;
  if (builtinToolOf(id)) throw new AppError('FORBIDDEN');
  const row = await getVisibleToolRowOrThrow(db, scope, id);
  if (row.kind === 'mcp') {
    throw new AppError(
      'CONFLICT',
      'MCP tools come from their server and are listed again whenever its account is verified: disable the tool (is_enabled: false) or delete the account instead.',
    );
  }
  await editableHttpTool(db, scope, row);
  await repo.deleteTool(db, scope.workspaceId, id);
}

// ---------------------------------------------------------------------------------------------
// Tools of agent runs
// ---------------------------------------------------------------------------------------------

/** Whether a stored tool can be offered to a model: switched on, with its provider switched on. */
function isUsable(row: repo.ToolListRow): boolean {
  return toBool(row.is_enabled) && toBool(row.provider_enabled);
}

async function usableStoredTools(db: Executor, scope: WorkspaceScope, ids: readonly string[]): Promise<Map<string, repo.ToolListRow>> {
  const stored = ids.map((id) => id.toLowerCase()).filter((id) => isUuid(id) && !builtinToolOf(id));
  const rows = await repo.findVisibleTools(db, viewerOf(scope), stored);
  return new Map(rows.filter(isUsable).map((row) => [row.id, row]));
}

/**
 * 422 `{"tools.1": ["The selected tools.1 is invalid."]}` for every id that is neither a
 * built-in tool, nor a stored tool the caller sees that is enabled, nor a workflow of the
 * workspace the caller may run that has an agent_tool trigger.
 */
export async function validateToolIds(db: Executor, scope: WorkspaceScope, toolIds: string[], field = 'tools'): Promise<void> {
  const usable = await usableStoredTools(db, scope, toolIds);
  const workflows = await findWorkflowTools(db, scope, toolIds.filter((id) => !builtinToolOf(id) && !usable.has(id.toLowerCase())));
  const errors: FieldErrors = {};
  toolIds.forEach((id, index) => {
    if (builtinToolOf(id) || usable.has(id.toLowerCase()) || workflows.has(id.toLowerCase())) return;
    errors[`${field}.${index}`] = [`The selected ${field}.${index} is invalid.`];
  });
  if (Object.keys(errors).length > 0) failValidation(errors);
}

/** `name`, else `name_2`, `name_3`…, within the 64 characters a function name may have. */
function uniqueName(name: string, used: Set<string>): string {
  let candidate = name;
  for (let n = 2; used.has(candidate); n++) {
    const suffix = `_${n}`;
    candidate = `${name.slice(0, 64 - suffix.length)}${suffix}`;
  }
  used.add(candidate);
  return candidate;
}

/** Built-in tools hand the model a ToolError for what the services refuse. */
function builtinRunTool(tool: BuiltinToolDefinition, run: RunScope, name: string): RunTool {
  return {
    uuid: tool.uuid,
    name,
    description: tool.description,
    inputSchema: tool.inputSchema,
    async execute(input, call) {
      try {
        return await tool.execute(input, run, call);
      } catch (error) {
        throw toolErrorOf(error, 'record');
      }
    },
  };
}

/**
 * The tools of a run, one per id and in order. Ids that no longer name a tool the run's user
 * sees, or whose tool (or provider) was switched off since the agent was saved, are skipped;
 * so are workflows that lost their agent_tool trigger or that the tool owner may no longer run.
 * Function names are made unique within the run (`_2`, `_3`…).
 */
export async function resolveRunTools(run: RunScope, toolIds: string[]): Promise<RunTool[]> {
  const db = run.ctx.db.kysely;
  // Stored tools belong to the agent's side: its creator's catalog and credentials.
  const owner = run.toolOwner ? { ...run.scope, ...run.toolOwner } : run.scope;
  const ownerRun: RunScope = { ...run, scope: owner };
  const stored = await usableStoredTools(db, owner, toolIds);
  const providers = new Map((await findProvidersByIds(db, [...stored.values()].map((row) => row.provider_id))).map((p) => [p.id, p]));
  const workflows = await findWorkflowRunTools(run, toolIds.filter((id) => !builtinToolOf(id) && !stored.has(id.toLowerCase())));
  const used = new Set<string>();
  const seen = new Set<string>();
  const tools: RunTool[] = [];
  for (const raw of toolIds) {
    const id = raw.toLowerCase();
    if (seen.has(id)) continue;
    seen.add(id);
    const builtin = builtinToolOf(id);
    if (builtin) {
      tools.push(builtinRunTool(builtin, run, uniqueName(builtin.name, used)));
      continue;
    }
    const workflow = workflows.get(id);
    if (workflow) {
      tools.push({ ...workflow, name: uniqueName(workflow.name, used) });
      continue;
    }
    const row = stored.get(id);
    const provider = row ? providers.get(row.provider_id) : undefined;
    if (!row || !provider) continue;
    const inputSchema = fromJson<JsonSchemaObject>(row.input_schema) ?? { type: 'object' };
    tools.push({
      uuid: row.id,
      name: uniqueName(row.name, used),
      description: row.description || row.display_name,
      inputSchema,
      execute: (input, call) => (row.kind === 'http' ? runHttpTool(ownerRun, row, provider, input, call) : runMcpTool(ownerRun, row, provider, input, call)),
    });
  }
  return tools;
}

// ---------------------------------------------------------------------------------------------
// MCP tools listed on verification
// ---------------------------------------------------------------------------------------------

/** A server's tool name as a function name: other characters become `_`, a letter first, 64 at most. */
export function functionNameOf(serverName: string): string {
  let name = serverName.replace(/[^a-zA-Z0-9_-]/g, '_');
  if (!/^[a-zA-Z]/.test(name)) name = `tool_${name}`;
  return name.slice(0, 64);
}

/**
 * Replaces the MCP tools listed for an account with what its server lists now, in the caller's
 * transaction. A tool that is listed again keeps its uuid (agents refer to it) and its
 * `is_enabled`; tools no longer listed are deleted.
 */
export async function replaceMcpTools(trx: Executor, account: AccountRow, provider: ProviderRow, tools: McpTool[]): Promise<void> {
  const existing = await repo.findMcpToolsOfAccount(trx, account.workspace_id, account.id);
  const byServerName = new Map(existing.map((row) => [repo.mcpServerNameOf(row), row]));
  const used = new Set<string>();
  const listed: Array<{ serverName: string; name: string; displayName: string; description: string; schema: JsonSchemaObject }> = [];
  for (const tool of tools) {
    if (listed.some((entry) => entry.serverName === tool.name)) continue;
    const schema = normalizeInputSchema(tool.inputSchema as JsonSchemaObject);
    const displayName = (tool.title ?? tool.annotations?.title ?? tool.name).slice(0, 255);
    listed.push({
      serverName: tool.name,
      name: uniqueName(functionNameOf(tool.name), used),
      displayName,
      description: (tool.description ?? displayName).slice(0, 4000),
      // A schema Athena cannot compile would fail every call: the server checks the input itself.
      schema: inputSchemaProblem(schema) === undefined ? schema : { type: 'object', additionalProperties: true },
    });
  }
  const kept = new Set(listed.map((entry) => entry.serverName));
  await repo.deleteToolsByIds(
    trx,
    account.workspace_id,
    existing.filter((row) => !kept.has(repo.mcpServerNameOf(row))).map((row) => row.id),
  );
  // Names may move between tools: free them all first, so the unique index never sees a clash.
  const renamed = listed.filter((entry) => {
    const row = byServerName.get(entry.serverName);
    return row !== undefined && row.name !== entry.name;
  });
  for (const entry of renamed) {
    const row = byServerName.get(entry.serverName)!;
    await repo.updateTool(trx, account.workspace_id, row.id, { name: `~${row.id}` });
  }
  const at = now();
  for (const entry of listed) {
    const row = byServerName.get(entry.serverName);
    const values = {
      name: entry.name,
      display_name: entry.displayName,
      description: entry.description,
      input_schema: toJson(entry.schema),
      config: toJson({ name: entry.serverName }),
      updated_at: at,
    };
    if (row) {
      await repo.updateTool(trx, account.workspace_id, row.id, values);
    } else {
      await repo.insertTool(trx, {
        id: newId(),
        workspace_id: account.workspace_id,
        provider_id: provider.id,
        account_id: account.id,
        default_account_id: null,
        user_id: account.user_id,
        kind: 'mcp',
        is_enabled: true,
        created_at: at,
        ...values,
      });
    }
  }
}

