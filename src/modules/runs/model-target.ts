import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { toBool } from '../../db/values.js';
import { fieldError } from '../../errors.js';
import { accessTokenOf } from '../accounts/accounts.oauth2.js';
import { findUsableAccount } from '../accounts/accounts.repository.js';
import { credentialsOf } from '../accounts/accounts.service.js';
import type { AccountRow } from '../accounts/accounts.table.js';
import { findVisibleModel } from '../models/models.repository.js';
import type { ModelRow } from '../models/models.table.js';
import { findProviderById } from '../providers/providers.repository.js';
import { modelApiOf, providerMetadata, type ModelApi } from '../providers/providers.service.js';
import type { ProviderRow } from '../providers/providers.table.js';

/** Whose credentials a model call uses: the workspace and user an account must be usable by. */
export interface CredentialOwner {
  workspaceId: string;
  userId: number;
}

export interface ModelChoice {
  llmId: string | null | undefined;
  accountId: string | null | undefined;
}

/** Request field names the choice came from, so a 422 names what the client sent. */
export interface ModelChoiceFields {
  llm: string;
  account: string;
}

const DEFAULT_FIELDS: ModelChoiceFields = { llm: 'llm_uuid', account: 'account_uuid' };

/**
 * The official catalog (models and providers without a workspace) changes only by migration,
 * so a process reads each row once: every run needs them before its model call.
 */
const officialModels = new Map<string, ModelRow>();
const officialProviders = new Map<string, ProviderRow>();

async function modelRowOf(db: Executor, owner: CredentialOwner, id: string): Promise<ModelRow | undefined> {
  const cached = officialModels.get(id);
  if (cached) return cached;
  const row = await findVisibleModel(db, owner.workspaceId, owner.userId, id);
  if (row && row.workspace_id === null && row.account_id === null) officialModels.set(id, row);
  return row;
}

async function providerRowOf(db: Executor, id: string): Promise<ProviderRow | undefined> {
  const cached = officialProviders.get(id);
  if (cached) return cached;
  const row = await findProviderById(db, id);
  if (row && row.workspace_id === null) officialProviders.set(id, row);
  return row;
}

/** A checked pair of catalog model and connected account of the same provider. */
export interface ModelSelection {
  llm: ModelRow;
  account: AccountRow;
  provider: ProviderRow;
  api: ModelApi;
}

/** Everything a model call needs, credentials included. Never leaves the server. */
export interface ModelTarget extends ModelSelection {
  baseUrl: string;
  apiKey: string | null;
  capabilities: { tools: boolean; vision: boolean; json: boolean };
  prices: { inputPerMillion: number | null; outputPerMillion: number | null };
}

/**
 * Checks that the model is in the catalog the owner sees, that the account is usable by them,
 * and that both belong to the same provider. 422 naming the field otherwise. Either id may be
 * absent only when `required` is false (then undefined is returned).
 */
export async function selectModel(
  db: Executor,
  owner: CredentialOwner,
  choice: ModelChoice,
  fields: ModelChoiceFields = DEFAULT_FIELDS,
): Promise<ModelSelection> {
  if (!choice.llmId) throw fieldError(fields.llm, `The ${words(fields.llm)} field is required.`);
  if (!choice.accountId) throw fieldError(fields.account, `The ${words(fields.account)} field is required.`);
  const [llm, account] = await Promise.all([
    modelRowOf(db, owner, choice.llmId.toLowerCase()),
    findUsableAccount(db, owner.workspaceId, owner.userId, choice.accountId.toLowerCase()),
  ]);
  if (!llm) throw fieldError(fields.llm, `The selected ${words(fields.llm)} is invalid.`);
  if (!account) throw fieldError(fields.account, `The selected ${words(fields.account)} is invalid.`);
  const provider = await providerRowOf(db, llm.provider_id);
  const api = provider ? modelApiOf(provider) : undefined;
  if (!provider || !api) throw fieldError(fields.llm, `The selected ${words(fields.llm)} is not a language model.`);
  const listedByAccount = llm.account_id !== null && llm.account_id === account.id;
  if (!listedByAccount && account.provider_id !== llm.provider_id) {
    throw fieldError(fields.account, `The selected account is not connected to ${provider.name}, the provider of ${llm.name}.`);
  }
  return { llm, account, provider, api };
}

/** Validates an optional default model choice of a saved prompt or agent (both or neither). */
export async function checkOptionalModelChoice(
  db: Executor,
  owner: CredentialOwner,
  choice: ModelChoice,
  fields: ModelChoiceFields = DEFAULT_FIELDS,
): Promise<void> {
  if (!choice.llmId && !choice.accountId) return;
  await selectModel(db, owner, choice, fields);
}

/** Resolves the selection and decrypts what the call needs (refreshing an OAuth2 token if due). */
export async function resolveModelTarget(
  ctx: AppContext,
  owner: CredentialOwner,
  choice: ModelChoice,
  fields: ModelChoiceFields = DEFAULT_FIELDS,
): Promise<ModelTarget> {
  const selection = await selectModel(ctx.db.kysely, owner, choice, fields);
  const { llm, account, provider } = selection;
  const base = account.base_url ?? providerMetadata(provider).default_base_url ?? null;
  if (!base) throw fieldError(fields.account, `The selected account has no base url for ${provider.name}.`);
  let apiKey: string | null;
  if (account.provider_authentication_strategy === 'oauth2') {
    apiKey = await accessTokenOf(ctx, account, provider);
  } else {
    const credentials = await credentialsOf(ctx, account);
    apiKey = credentials.token;
  }
  return {
    ...selection,
    baseUrl: base.replace(/\/+$/, ''),
    apiKey,
    capabilities: { tools: toBool(llm.supports_tools), vision: toBool(llm.supports_vision), json: toBool(llm.supports_json) },
    prices: {
      inputPerMillion: llm.input_price_per_million === null ? null : Number(llm.input_price_per_million),
      outputPerMillion: llm.output_price_per_million === null ? null : Number(llm.output_price_per_million),
    },
  };
}

function words(field: string): string {
  return field.replace(/_/g, ' ');
}
