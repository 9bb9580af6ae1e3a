import { createHash } from 'node:crypto';
import type { AppContext } from '../../context.js';
import { now } from '../../db/values.js';
import { AppError, fieldError } from '../../errors.js';
import {
  OutboundBlockedError,
  OutboundNetworkError,
  OutboundTimeoutError,
  outboundClientOf,
  type OutboundRequest,
  type OutboundResponse,
} from '../../lib/outbound/outbound-client.js';
import { findProviderById } from '../providers/providers.repository.js';
import { modelApiOf, providerAuthConfig, providerMetadata, type ModelApi } from '../providers/providers.service.js';
import type { ProviderRow } from '../providers/providers.table.js';
import { replaceDiscoveredModels, type DiscoveredModel } from '../models/models.service.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { accessTokenOf, identityOf, reasonOf, refreshAccessToken } from './accounts.oauth2.js';
import * as repo from './accounts.repository.js';
import { credentialsOf, getUsableAccountOrThrow, type AccountCredentials } from './accounts.service.js';
import type { AccountRow } from './accounts.table.js';
import { injectCredentials } from './credential-injection.js';
import { dropMcpClient, listMcpServerTools, McpRejectedError, McpServerError, type McpServerListing } from '../tools/mcp-client.js';
import { replaceMcpTools } from '../tools/tools.service.js';

interface ProbeResult {
  response: OutboundResponse;
  providerAccountId: () => string | null;
  models?: () => DiscoveredModel[];
}

function baseUrlOf(account: AccountRow, provider: ProviderRow): string | null {
  const base = account.base_url ?? providerMetadata(provider).default_base_url ?? null;
  return base === null ? null : base.replace(/\/+$/, '');
}

/** A short, one-way fingerprint: identifies "the same key at the same server" without revealing it. */
function fingerprint(...parts: Array<string | null>): string {
  return `key_${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 16)}`;
}

function header(response: OutboundResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The request that checks a model vendor's credentials: its list-models endpoint. */
function modelProbe(api: ModelApi, base: string, credentials: AccountCredentials): OutboundRequest {
  const token = credentials.token ?? '';
  switch (api) {
    case 'anthropic':
      return { url: `${base}/models`, headers: { 'x-api-key': token, 'anthropic-version': '2023-06-01', accept: 'application/json' } };
    case 'gemini':
      return { url: `${base}/models`, headers: { 'x-goog-api-key': token, accept: 'application/json' } };
    case 'ollama':
      return { url: `${base}/api/tags`, headers: { accept: 'application/json' } };
    case 'openai':
      return { url: `${base}/models`, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), accept: 'application/json' } };
  }
}

function modelsOf(api: ModelApi, response: OutboundResponse): DiscoveredModel[] {
  const body = response.json<Record<string, unknown>>();
  if (!body) return [];
  const list = (api === 'ollama' || api === 'gemini' ? body.models : body.data) as Array<Record<string, unknown>> | undefined;
  if (!Array.isArray(list)) return [];
  return list
    .map((item) => {
      const raw = item.id ?? item.name ?? item.model;
      if (typeof raw !== 'string' || raw === '') return undefined;
      const id = api === 'gemini' ? raw.replace(/^models\//, '') : raw;
      const name = typeof item.display_name === 'string' ? item.display_name : typeof item.displayName === 'string' ? item.displayName : id;
      const context = Number(item.context_length ?? item.context_window ?? item.inputTokenLimit ?? item.max_model_len);
      const output = Number(item.outputTokenLimit ?? item.max_output_tokens);
      return {
        modelId: id.slice(0, 255),
        name: name.slice(0, 255),
        contextWindow: Number.isInteger(context) && context > 0 ? context : null,
        maxOutputTokens: Number.isInteger(output) && output > 0 ? output : null,
      };
    })
    .filter((m): m is DiscoveredModel => m !== undefined)
    .slice(0, 1000);
}

function openAiAccountId(response: OutboundResponse): string | null {
  const organization = header(response, 'openai-organization');
  if (organization) return organization;
  const body = response.json<{ data?: Array<{ owned_by?: unknown }> }>();
  const owner = body?.data?.map((m) => m.owned_by).find((o): o is string => typeof o === 'string' && /^(user|org)-/.test(o));
  return owner ?? null;
}

/** Calls the provider with the account's credentials in the way its protocol wants. */
async function probe(ctx: AppContext, account: AccountRow, provider: ProviderRow, accessToken: string | null): Promise<ProbeResult> {
  const client = outboundClientOf(ctx.config);
  const credentials = await credentialsOf(ctx, account);
  const base = baseUrlOf(account, provider);
  const api = modelApiOf(provider);

  if (api && account.provider_authentication_strategy !== 'oauth2') {
    if (base === null) throw fieldError('base_url', `The base url field is required for the ${provider.name} provider.`);
    // Model vendors' base URLs may point anywhere members choose, loopback included (Ollama).
    const response = await client.request({ ...modelProbe(api, base, credentials), guard: false });
    const discover = provider.slug === 'openai-compatible' || provider.slug === 'ollama' || provider.workspace_id !== null;
    return {
      response,
      providerAccountId: () => {
        if (api === 'ollama') return new URL(base).host;
        const id =
          api === 'openai'
            ? openAiAccountId(response)
            : api === 'anthropic'
              ? (header(response, 'anthropic-organization-id') ?? null)
              : null;
        return id ?? fingerprint(base, credentials.token);
      },
      models: discover ? () => modelsOf(api, response) : undefined,
    };
  }

  const config = providerAuthConfig(provider);
  if (account.provider_authentication_strategy === 'oauth2') {
    const userUrl = config.oauth2?.user_url ?? null;
    if (!userUrl) throw fieldError('provider', `The ${provider.name} provider has no user url to verify accounts with.`);
    const response = await client.request({ url: userUrl, headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } });
    return { response, providerAccountId: () => identityOf(response) };
  }

  // Tools and MCP servers: every call goes through the outbound guard.
  const template = account.provider_authentication_strategy === 'basic' ? config.basic?.url : config.token?.url;
  const url = (template ?? base ?? '').replace('{base_url}', base ?? '');
  if (!url) throw fieldError('base_url', `The base url field is required to verify an account of the ${provider.name} provider.`);
  const headers: Record<string, string> = { accept: 'application/json' };
  const target = new URL(url);
  injectCredentials({ url: target, headers }, account.provider_authentication_strategy, config, credentials);
  const response = await client.request({ url: target.toString(), headers });
  return {
    response,
    providerAccountId: () =>
      account.provider_authentication_strategy === 'basic' ? credentials.username : (identityOf(response) ?? fingerprint(url, credentials.token)),
  };
}

const REJECTED = new Set([401, 403]);

/** Some servers echo the rejected key in their message: it is masked before it is stored or shown. */
function scrub(reason: string, credentials: AccountCredentials): string {
  let text = reason;
  for (const secret of [credentials.token, credentials.password, credentials.accessToken, credentials.refreshToken]) {
    if (secret && secret.length >= 4) text = text.split(secret).join('********');
  }
  return text;
}

/**
 * Calls the provider with the stored credentials and records the outcome. A rejected credential
 * is a 422 with the provider's reason (the account stays, marked failed); an unreachable
 * provider is a 502 after the outbound timeout, and changes nothing.
 */
export async function verifyAccount(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<AccountRow> {
  const db = ctx.db.kysely;
  const account = await getUsableAccountOrThrow(db, scope, id);
  const provider = await findProviderById(db, account.provider_id);
  if (!provider) throw new AppError('NOT_FOUND');
  const field = account.provider_authentication_strategy === 'basic' ? 'password' : 'token';
  if (provider.type === 'mcp_server') return verifyMcpAccount(ctx, account, provider, field);

  let result: ProbeResult;
  try {
    if (account.provider_authentication_strategy === 'oauth2') {
      let accessToken = await accessTokenOf(ctx, account, provider);
      result = await probe(ctx, account, provider, accessToken);
      if (result.response.status === 401) {
        // The token may have been revoked or expired early: one refresh, one retry.
        accessToken = await refreshAccessToken(ctx, account, provider);
        result = await probe(ctx, account, provider, accessToken);
      }
    } else {
      result = await probe(ctx, account, provider, null);
    }
  } catch (error) {
    if (error instanceof OutboundBlockedError) throw fieldError('base_url', error.message);
    if (error instanceof OutboundTimeoutError || error instanceof OutboundNetworkError) {
      throw new AppError('BAD_GATEWAY', `The provider could not be reached: ${error.message}`, { cause: error });
    }
    throw error;
  }

  const { response } = result;
  const at = now();
  if (REJECTED.has(response.status)) {
    const reason = scrub(reasonOf(response), await credentialsOf(ctx, account));
    await repo.updateAccount(db, account.workspace_id, account.id, {
      verification_status: 'failed',
      verification_error: reason,
      verified_at: at,
      updated_at: at,
    });
    throw new AppError('VALIDATION', `The provider rejected the credentials: ${reason}`, { fields: { [field]: [reason] } });
  }
  if (response.status < 200 || response.status >= 300) {
    throw new AppError('BAD_GATEWAY', `The provider answered ${response.status}: ${scrub(reasonOf(response), await credentialsOf(ctx, account))}`);
  }
  const models = result.models?.();
  return db.transaction().execute(async (trx) => {
    const updated = await repo.updateAccount(trx, account.workspace_id, account.id, {
      provider_account_id: result.providerAccountId()?.slice(0, 255) ?? account.provider_account_id,
      verification_status: 'verified',
      verification_error: null,
      verified_at: at,
      updated_at: at,
    });
    if (models) await replaceDiscoveredModels(trx, { workspaceId: account.workspace_id, accountId: account.id, providerId: provider.id }, models);
    return updated;
  });
}

/**
 * An MCP server account: connects to its base URL with the account's credentials, initializes,
 * and lists the server's tools (every page), which replace the account's stored MCP tools in the
 * transaction that records the verification.
 */
async function verifyMcpAccount(ctx: AppContext, account: AccountRow, provider: ProviderRow, field: string): Promise<AccountRow> {
  const db = ctx.db.kysely;
  let listing: McpServerListing;
  try {
    listing = await listMcpServerTools(ctx, account, provider);
  } catch (error) {
    if (error instanceof McpRejectedError) {
      const at = now();
      await repo.updateAccount(db, account.workspace_id, account.id, {
        verification_status: 'failed',
        verification_error: error.reason,
        verified_at: at,
        updated_at: at,
      });
      throw new AppError('VALIDATION', `The provider rejected the credentials: ${error.reason}`, { fields: { [field]: [error.reason] } });
    }
    if (error instanceof OutboundBlockedError) throw fieldError('base_url', error.message);
    if (error instanceof OutboundTimeoutError || error instanceof OutboundNetworkError) {
      throw new AppError('BAD_GATEWAY', `The provider could not be reached: ${error.message}`, { cause: error });
    }
    if (error instanceof McpServerError) throw new AppError('BAD_GATEWAY', error.message, { cause: error });
    throw error;
  }
  const at = now();
  const base = account.base_url ?? providerMetadata(provider).default_base_url ?? '';
  const identity = `${listing.serverName ?? 'mcp'}@${new URL(base).host}`;
  const updated = await db.transaction().execute(async (trx) => {
    const row = await repo.updateAccount(trx, account.workspace_id, account.id, {
      provider_account_id: identity.slice(0, 255),
      verification_status: 'verified',
      verification_error: null,
      verified_at: at,
      updated_at: at,
    });
    await replaceMcpTools(trx, row, provider, listing.tools);
    return row;
  });
  dropMcpClient(ctx, account.id);
  return updated;
}
