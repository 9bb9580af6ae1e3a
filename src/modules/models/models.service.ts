import { sql } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { newId, now, toBool } from '../../db/values.js';
import { AppError } from '../../errors.js';
import { providerResourcesByIds } from '../providers/providers.service.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import * as repo from './models.repository.js';
import type { LargeLanguageModelResource } from './models.schemas.js';
import type { ModelRow } from './models.table.js';

export const SORT_COLUMNS = {
  name: 'm.name',
  model_id: 'm.model_id',
  context_window: 'm.context_window',
  input_price_per_million: 'm.input_price_per_million',
  output_price_per_million: 'm.output_price_per_million',
  created_at: 'm.created_at',
} as const;

async function toModelResources(db: Executor, rows: ModelRow[], viewerId: number): Promise<LargeLanguageModelResource[]> {
  const providers = await providerResourcesByIds(db, rows.map((r) => r.provider_id), viewerId);
  return rows.map((row) => ({
    uuid: row.id,
    model_id: row.model_id,
    name: row.name,
    description: row.description,
    provider: providers.get(row.provider_id)!,
    context_window: row.context_window,
    max_output_tokens: row.max_output_tokens,
    input_price_per_million: row.input_price_per_million === null ? null : Number(row.input_price_per_million),
    output_price_per_million: row.output_price_per_million === null ? null : Number(row.output_price_per_million),
    capabilities: {
      tools: toBool(row.supports_tools),
      vision: toBool(row.supports_vision),
      json: toBool(row.supports_json),
      streaming: toBool(row.supports_streaming),
    },
    is_official: toBool(row.is_official),
    account_uuid: row.account_id,
    created_at: row.created_at,
    updated_at: row.updated_at,
  }));
}

export async function listModels(
  ctx: AppContext,
  scope: WorkspaceScope,
  page: PageRequest,
  filter: repo.ModelListFilter,
): Promise<PageResult<LargeLanguageModelResource>> {
  const result = await fetchPage(page, {
    base: repo.listModelsQuery(ctx.db.kysely, scope.workspaceId, scope.userId, filter),
    select: (q) => q.selectAll('m').select(sql.ref(page.sort.column).as('sort_value')),
    idColumn: 'm.id',
    sortField: 'sort_value',
    idField: 'id',
    map: (row: ModelRow & { sort_value?: unknown }) => {
      const { sort_value: _sort, ...model } = row;
      return model as ModelRow;
    },
  });
  return { ...result, items: await toModelResources(ctx.db.kysely, result.items, scope.userId) };
}

export async function getModel(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<LargeLanguageModelResource> {
  const row = await repo.findVisibleModel(ctx.db.kysely, scope.workspaceId, scope.userId, id);
  if (!row) throw new AppError('NOT_FOUND');
  const [resource] = await toModelResources(ctx.db.kysely, [row], scope.userId);
  return resource!;
}

export interface DiscoveredModel {
  modelId: string;
  name: string;
  contextWindow: number | null;
  maxOutputTokens: number | null;
}

/** Replaces the models an account's server listed, in the caller's transaction. */
export async function replaceDiscoveredModels(
  trx: Executor,
  owner: { workspaceId: string; accountId: string; providerId: string },
  models: DiscoveredModel[],
): Promise<void> {
  await repo.deleteModelsOfAccount(trx, owner.workspaceId, owner.accountId);
  const at = now();
  const seen = new Set<string>();
  const rows = models
    .filter((m) => !seen.has(m.modelId) && seen.add(m.modelId))
    .map((m) => ({
      id: newId(),
      provider_id: owner.providerId,
      workspace_id: owner.workspaceId,
      account_id: owner.accountId,
      model_id: m.modelId,
      name: m.name,
      description: null,
      context_window: m.contextWindow,
      max_output_tokens: m.maxOutputTokens,
      input_price_per_million: null,
      output_price_per_million: null,
      // Servers do not say what their models can do. Runs offer them tools (the common case for
      // chat models an OpenAI-compatible server lists); vision and JSON mode stay off until known.
      supports_tools: true,
      supports_vision: false,
      supports_json: false,
      supports_streaming: true,
      is_official: false,
      created_at: at,
      updated_at: at,
    }));
  await repo.insertModels(trx, rows);
}
