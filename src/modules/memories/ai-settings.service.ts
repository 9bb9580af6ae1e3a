import { EmbeddingsUnsupportedError } from '../../ai/model-factory.js';
import { isApiCallError } from '../../ai/sdk.js';
import type { AppContext } from '../../context.js';
import { now } from '../../db/values.js';
import { AppError, fieldError } from '../../errors.js';
import { findUsableAccount } from '../accounts/accounts.repository.js';
import { findProviderById } from '../providers/providers.repository.js';
import { modelApiOf } from '../providers/providers.service.js';
import { can } from '../workspaces/permissions.js';
import { getMembershipOrThrow } from '../workspaces/workspaces.service.js';
import { embedderOver, embeddingFailureOf, embeddingModelForAccount } from './memories.embeddings.js';
import * as repo from './memories.repository.js';
import type { UpdateWorkspaceAiSettingsInput, WorkspaceAiSettingsResource } from './memories.schemas.js';
import type { WorkspaceAiSettingsRow } from './memories.table.js';

function toResource(workspaceId: string, row: WorkspaceAiSettingsRow | undefined): WorkspaceAiSettingsResource {
  const accountId = row?.embedding_account_id ?? null;
  const model = row?.embedding_model ?? null;
  return {
    workspace_uuid: workspaceId,
    embedding_account_uuid: accountId,
    embedding_model: model,
    embeddings_enabled: accountId !== null && model !== null,
    updated_at: row?.updated_at ?? null,
  };
}

/** Any member reads the workspace's AI settings. */
export async function getAiSettings(ctx: AppContext, userId: number, workspaceId: string): Promise<WorkspaceAiSettingsResource> {
  const membership = await getMembershipOrThrow(ctx.db.kysely, workspaceId.toLowerCase(), userId);
  const id = membership.workspace.id;
  return toResource(id, await repo.findAiSettings(ctx.db.kysely, id));
}

/**
 * Admins and owners set the embedding model: an account the caller may use, of a
 * language-model provider with an embeddings API, and a model id that answers a test call
 * (422 naming the field otherwise; 502 when the provider cannot be reached). Memories stored
 * before keep their vectors; retrieval compares only vectors of the current model.
 */
export async function updateAiSettings(
  ctx: AppContext,
  userId: number,
  workspaceId: string,
  input: UpdateWorkspaceAiSettingsInput,
): Promise<WorkspaceAiSettingsResource> {
  const db = ctx.db.kysely;
  const membership = await getMembershipOrThrow(db, workspaceId.toLowerCase(), userId);
  if (!can(membership.role, 'configure')) throw new AppError('FORBIDDEN');
  const id = membership.workspace.id;
  const current = await repo.findAiSettings(db, id);
  const accountId = input.embedding_account_uuid !== undefined ? input.embedding_account_uuid?.toLowerCase() ?? null : (current?.embedding_account_id ?? null);
  const model = input.embedding_model !== undefined ? input.embedding_model?.trim() || null : (current?.embedding_model ?? null);
  if (accountId !== null && model === null) {
    throw fieldError('embedding_model', 'The embedding model field is required when embedding account uuid is present.');
  }
  if (model !== null && accountId === null) {
    throw fieldError('embedding_account_uuid', 'The embedding account uuid field is required when embedding model is present.');
  }
  const changed = accountId !== (current?.embedding_account_id ?? null) || model !== (current?.embedding_model ?? null);
  if (accountId !== null && model !== null && changed) {
    const account = await findUsableAccount(db, id, userId, accountId);
    if (!account) throw fieldError('embedding_account_uuid', 'The selected embedding account uuid is invalid.');
    const provider = await findProviderById(db, account.provider_id);
    if (!provider || !modelApiOf(provider)) {
      throw fieldError('embedding_account_uuid', 'The selected embedding account is not connected to a language-model provider.');
    }
    await checkEmbeddingModel(ctx, account, model);
  }
  const saved = await repo.saveAiSettings(db, { workspace_id: id, embedding_account_id: accountId, embedding_model: model, updated_at: now() });
  return toResource(id, saved);
}

/** One embedding call, so a mistyped model or a provider without embeddings is told now rather than logged later. */
async function checkEmbeddingModel(ctx: AppContext, account: Parameters<typeof embeddingModelForAccount>[1], model: string): Promise<void> {
  try {
    const check = embedderOver(ctx, await embeddingModelForAccount(ctx, account, model, 'query'), model, 'query');
    const [vector] = await check.embed(['Athena embedding check']);
    if (!vector || vector.length === 0) throw fieldError('embedding_model', `The embedding model ${model} returned no vector.`);
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (error instanceof EmbeddingsUnsupportedError) throw fieldError('embedding_model', error.message);
    if (isApiCallError(error) && error.statusCode !== undefined) {
      throw fieldError('embedding_model', `The embedding model ${model} could not be used: ${embeddingFailureOf(error)}.`);
    }
    throw new AppError('BAD_GATEWAY', `The embedding model ${model} could not be used: ${embeddingFailureOf(error)}.`);
  }
}
