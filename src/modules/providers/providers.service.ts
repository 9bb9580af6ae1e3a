import { sql } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { fromJson, isUniqueViolation, newId, now, toBool, toJson } from '../../db/values.js';
import { AppError, fieldError } from '../../errors.js';
import { findUsersByIds } from '../users/users.repository.js';
import { toUserResource } from '../users/users.service.js';
import type { UserResource } from '../users/users.schemas.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { can } from '../workspaces/permissions.js';
import { MASKED, secretsOf } from '../secrets/secrets.service.js';
import * as repo from './providers.repository.js';
import { noKnownResources, type KnownResources } from './viewer.js';
import type {
  AuthenticationConfigValue,
  CreateProviderInput,
  ProviderMetadataValue,
  ProviderResource,
  UpdateProviderInput,
} from './providers.schemas.js';
import type { AuthenticationStrategy, ProviderRow, ProviderType } from './providers.table.js';

export const SORT_COLUMNS = { name: 'p.name', created_at: 'p.created_at', updated_at: 'p.updated_at' } as const;

/** Wire protocols Athena speaks to model vendors. */
export const MODEL_APIS = ['openai', 'anthropic', 'gemini', 'ollama'] as const;
export type ModelApi = (typeof MODEL_APIS)[number];

function viewerOf(scope: WorkspaceScope): repo.ProviderViewer {
  return { workspaceId: scope.workspaceId, userId: scope.userId };
}

export function providerMetadata(row: ProviderRow): ProviderMetadataValue {
  return fromJson<ProviderMetadataValue>(row.metadata) ?? {};
}

export function providerAuthConfig(row: ProviderRow): AuthenticationConfigValue {
  return fromJson<AuthenticationConfigValue>(row.authentication_config) ?? {};
}

/** The provider's wire protocol for model calls, when it is a model provider. */
export function modelApiOf(row: ProviderRow): ModelApi | undefined {
  if (row.type !== 'large_language_model') return undefined;
  const api = providerMetadata(row).api;
  return (MODEL_APIS as readonly string[]).includes(api ?? '') ? (api as ModelApi) : 'openai';
}

function countTools(metadata: ProviderMetadataValue): number {
  const tools = new Set<string>();
  for (const group of metadata.tool_groups ?? []) for (const tool of group.tools) tools.add(tool);
  return tools.size;
}

/**
 * Official providers look the same to every viewer and change only by migration: their
 * resources are built once per row version.
 */
const officialResources = new Map<string, { updatedAt: string; resource: ProviderResource }>();

/** Provider resources for a viewer; the creators are looked up once for the whole list. */
export async function toProviderResources(
  db: Executor,
  rows: ProviderRow[],
  viewerId: number,
  known: KnownResources = noKnownResources(),
): Promise<ProviderResource[]> {
  const creatorIds = [...new Set(rows.map((r) => r.user_id).filter((id): id is number => id !== null && !known.users.has(id)))];
  const creators = new Map<number, UserResource>(known.users);
  for (const user of await findUsersByIds(db, creatorIds)) creators.set(user.id, await toUserResource(db, user, viewerId));
  return rows.map((row) => {
    if (row.workspace_id === null) {
      const cached = officialResources.get(row.id);
      if (cached && cached.updatedAt === row.updated_at) return cached.resource;
    }
    const resource = buildProviderResource(row, viewerId, creators);
    if (row.workspace_id === null) officialResources.set(row.id, { updatedAt: row.updated_at, resource });
    return resource;
  });
}

function buildProviderResource(row: ProviderRow, viewerId: number, creators: Map<number, UserResource>): ProviderResource {
  const metadata = providerMetadata(row);
  const config = providerAuthConfig(row);
  const authentication_config: AuthenticationConfigValue = { ...config };
  if (config.oauth2 || row.client_secret_encrypted !== null) {
    authentication_config.oauth2 = { ...config.oauth2, client_secret: row.client_secret_encrypted === null ? null : MASKED };
  }
  return {
    uuid: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    website: row.website,
    profile_photo_url: row.profile_photo_url,
    profile_photo_config: fromJson<Record<string, string | null>>(row.profile_photo_config) ?? {},
    authentication_strategy: row.authentication_strategy,
    authentication_config,
    is_enabled: toBool(row.is_enabled),
    type: row.type,
    is_owner: row.user_id !== null && row.user_id === viewerId,
    visibility: row.visibility,
    created_at: row.created_at,
    updated_at: row.updated_at,
    metadata: { ...metadata, tool_groups: metadata.tool_groups ?? [], is_official: toBool(row.is_official), is_featured: toBool(row.is_featured) },
    user: row.user_id === null ? null : (creators.get(row.user_id) ?? null),
    tools_count: countTools(metadata),
  };
}

export async function toProviderResource(db: Executor, row: ProviderRow, viewerId: number, known?: KnownResources): Promise<ProviderResource> {
  const [resource] = await toProviderResources(db, [row], viewerId, known);
  return resource!;
}

export async function listProviders(
  ctx: AppContext,
  scope: WorkspaceScope,
  page: PageRequest,
  filter: repo.ProviderListFilter,
  known?: KnownResources,
): Promise<PageResult<ProviderResource>> {
  const db = ctx.db.kysely;
  // The page is read as ids first: official providers' resources are cached, so only the
  // rows not in the cache (custom providers, mostly) are read in full.
  const result = await fetchPage(page, {
    base: repo.listProvidersQuery(db, viewerOf(scope), filter),
    select: (q) => q.select(['p.id', 'p.workspace_id', 'p.updated_at', sql.ref(page.sort.column).as('sort_value')]),
    idColumn: 'p.id',
    sortField: 'sort_value',
    idField: 'id',
    map: (row: { id: string; workspace_id: string | null; updated_at: string }) => row,
  });
  const resources = await resourcesOfVersions(db, result.items, scope.userId, known);
  const items = result.items.map((row) => resources.get(row.id)).filter((r): r is ProviderResource => r !== undefined);
  return { ...result, items };
}

type ProviderVersion = { id: string; workspace_id: string | null; updated_at: string };

function cachedResource(row: ProviderVersion): ProviderResource | undefined {
  if (row.workspace_id !== null) return undefined;
  const entry = officialResources.get(row.id);
  return entry && entry.updatedAt === row.updated_at ? entry.resource : undefined;
}

async function resourcesOfVersions(
  db: Executor,
  versions: ProviderVersion[],
  viewerId: number,
  known?: KnownResources,
): Promise<Map<string, ProviderResource>> {
  const resources = new Map<string, ProviderResource>();
  const missing: string[] = [];
  for (const row of versions) {
    const resource = cachedResource(row);
    if (resource) resources.set(row.id, resource);
    else missing.push(row.id);
  }
  const fullRows = await repo.findProvidersByIds(db, missing);
  for (const resource of await toProviderResources(db, fullRows, viewerId, known)) resources.set(resource.uuid, resource);
  return resources;
}

/** Provider resources by id; only the rows whose resource is not cached are read in full. */
export async function providerResourcesByIds(
  db: Executor,
  ids: readonly string[],
  viewerId: number,
  known?: KnownResources,
): Promise<Map<string, ProviderResource>> {
  return resourcesOfVersions(db, await repo.findProviderVersions(db, ids), viewerId, known);
}

/** A provider the caller may see; NOT_FOUND otherwise. */
export async function getVisibleProviderOrThrow(db: Executor, scope: WorkspaceScope, id: string): Promise<ProviderRow> {
  const row = await repo.findVisibleProvider(db, viewerOf(scope), id);
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

export async function getProvider(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<ProviderResource> {
  return toProviderResource(ctx.db.kysely, await getVisibleProviderOrThrow(ctx.db.kysely, scope, id), scope.userId);
}

function slugify(name: string): string {
  return (
    name
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80)
      .replace(/-+$/g, '') || 'provider'
  );
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The rules a custom provider's configuration must follow, as field errors. */
function validateProvider(
  strategy: AuthenticationStrategy,
  type: ProviderType,
  config: AuthenticationConfigValue,
  metadata: ProviderMetadataValue,
): void {
  const errors: Record<string, string[]> = {};
  const add = (field: string, message: string) => (errors[field] ??= []).push(message);
  if (strategy === 'oauth2') {
    const oauth2 = config.oauth2;
    for (const field of ['client_id', 'authorize_url', 'token_url'] as const) {
      const value = oauth2?.[field];
      if (value === undefined || value === null || value === '') {
        add(`authentication_config.oauth2.${field}`, `The authentication config.oauth2.${field.replace(/_/g, ' ')} field is required when authentication strategy is oauth2.`);
      } else if (field !== 'client_id' && !isHttpUrl(value)) {
        add(`authentication_config.oauth2.${field}`, `The authentication config.oauth2.${field.replace(/_/g, ' ')} field must be a valid URL.`);
      }
    }
    for (const field of ['user_url', 'redirect_url'] as const) {
      const value = oauth2?.[field];
      if (value !== undefined && value !== null && value !== '' && !isHttpUrl(value)) {
        add(`authentication_config.oauth2.${field}`, `The authentication config.oauth2.${field.replace(/_/g, ' ')} field must be a valid URL.`);
      }
    }
  }
  if (type === 'large_language_model' && metadata.api !== undefined && metadata.api !== null && !(MODEL_APIS as readonly string[]).includes(metadata.api)) {
    add('metadata.api', `The metadata.api field must be one of: ${MODEL_APIS.join(', ')}.`);
  }
  if (metadata.default_base_url !== undefined && metadata.default_base_url !== null && !isHttpUrl(metadata.default_base_url)) {
    add('metadata.default_base_url', 'The metadata.default base url field must be a valid URL.');
  }
  if (Object.keys(errors).length > 0) {
    const first = Object.values(errors)[0]![0]!;
    throw new AppError('VALIDATION', first, { fields: errors });
  }
}

/** Official-only metadata is not the workspace's to set. */
function cleanMetadata(metadata: ProviderMetadataValue | undefined, type: ProviderType): ProviderMetadataValue {
  const { is_official: _official, is_featured: _featured, ...rest } = metadata ?? {};
  const cleaned: ProviderMetadataValue = { tool_groups: [], ...rest };
  if (type === 'large_language_model') {
    cleaned.api ??= 'openai';
    cleaned.default_base_url ??= null;
    cleaned.base_url_required ??= cleaned.default_base_url === null;
  }
  return cleaned;
}

/** Splits the write-only client secret out of a config: what to store and what to do with the secret. */
function splitClientSecret(config: AuthenticationConfigValue | undefined): {
  stored: AuthenticationConfigValue;
  secret: string | null | undefined;
} {
  if (!config) return { stored: {}, secret: undefined };
  const { oauth2, ...rest } = config;
  if (!oauth2) return { stored: rest, secret: undefined };
  const { client_secret, ...oauth2Rest } = oauth2;
  // `********` (or nothing) keeps what is stored; null clears it.
  const secret = client_secret === MASKED ? undefined : client_secret;
  return { stored: { ...rest, oauth2: oauth2Rest }, secret };
}

function slugConflict(): AppError {
  return fieldError('slug', 'The slug has already been taken.');
}

export async function createProvider(ctx: AppContext, scope: WorkspaceScope, input: CreateProviderInput): Promise<ProviderResource> {
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  const metadata = cleanMetadata(input.metadata, input.type);
  const { stored, secret } = splitClientSecret(input.authentication_config);
  validateProvider(input.authentication_strategy, input.type, stored, metadata);
  const slug = input.slug ?? slugify(input.name);
  const db = ctx.db.kysely;
  const clientSecret = secret ? await secretsOf(ctx).encrypt(db, scope.workspaceId, secret) : null;
  const at = now();
  try {
    const row = await db.transaction().execute(async (trx) => {
      if (await repo.slugTaken(trx, scope.workspaceId, slug)) throw slugConflict();
      return repo.insertProvider(trx, {
        id: newId(),
        workspace_id: scope.workspaceId,
        user_id: scope.userId,
        slug,
        name: input.name.trim(),
        description: input.description ?? null,
        website: input.website ?? null,
        profile_photo_url: input.profile_photo_url ?? null,
        profile_photo_config: toJson(input.profile_photo_config ?? {}),
        authentication_strategy: input.authentication_strategy,
        authentication_config: toJson(stored),
        client_secret_encrypted: clientSecret,
        is_enabled: input.is_enabled ?? true,
        type: input.type,
        visibility: input.visibility ?? 'workspace',
        metadata: toJson(metadata),
        is_official: false,
        is_featured: false,
        created_at: at,
        updated_at: at,
      });
    });
    return toProviderResource(db, row, scope.userId);
  } catch (error) {
    if (isUniqueViolation(error)) throw slugConflict();
    throw error;
  }
}

/** A custom provider of this workspace the caller may change: its creator, or an admin or owner. */
async function getEditableProviderOrThrow(db: Executor, scope: WorkspaceScope, id: string): Promise<ProviderRow> {
  const row = await getVisibleProviderOrThrow(db, scope, id);
  if (row.workspace_id === null || row.workspace_id !== scope.workspaceId) throw new AppError('FORBIDDEN');
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  if (row.user_id !== scope.userId && !can(scope.role, 'manage_members')) throw new AppError('FORBIDDEN');
  return row;
}

export async function updateProvider(
  ctx: AppContext,
  scope: WorkspaceScope,
  id: string,
  input: UpdateProviderInput,
): Promise<ProviderResource> {
  const db = ctx.db.kysely;
  const current = await getEditableProviderOrThrow(db, scope, id);
  const type = input.type ?? current.type;
  const strategy = input.authentication_strategy ?? current.authentication_strategy;
  const metadata = input.metadata !== undefined ? cleanMetadata(input.metadata, type) : providerMetadata(current);
  const { stored, secret } =
    input.authentication_config !== undefined ? splitClientSecret(input.authentication_config) : { stored: providerAuthConfig(current), secret: undefined };
  validateProvider(strategy, type, stored, metadata);
  const changes: Parameters<typeof repo.updateProvider>[3] = {
    type,
    authentication_strategy: strategy,
    authentication_config: toJson(stored),
    metadata: toJson(metadata),
  };
  if (input.name !== undefined) changes.name = input.name.trim();
  if (input.slug !== undefined) changes.slug = input.slug;
  if (input.description !== undefined) changes.description = input.description;
  if (input.website !== undefined) changes.website = input.website;
  if (input.profile_photo_url !== undefined) changes.profile_photo_url = input.profile_photo_url;
  if (input.profile_photo_config !== undefined) changes.profile_photo_config = toJson(input.profile_photo_config);
  if (input.is_enabled !== undefined) changes.is_enabled = input.is_enabled;
  if (input.visibility !== undefined) changes.visibility = input.visibility;
  if (secret === null) changes.client_secret_encrypted = null;
  else if (secret !== undefined) changes.client_secret_encrypted = await secretsOf(ctx).encrypt(db, scope.workspaceId, secret);
  changes.updated_at = now();
  try {
    const row = await db.transaction().execute(async (trx) => {
      if (input.slug !== undefined && input.slug !== current.slug && (await repo.slugTaken(trx, scope.workspaceId, input.slug, id))) {
        throw slugConflict();
      }
      return repo.updateProvider(trx, scope.workspaceId, id, changes);
    });
    return toProviderResource(db, row, scope.userId);
  } catch (error) {
    if (isUniqueViolation(error)) throw slugConflict();
    throw error;
  }
}

export async function deleteProvider(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  const db = ctx.db.kysely;
  await getEditableProviderOrThrow(db, scope, id);
  await db.transaction().execute(async (trx) => {
    if ((await repo.countAccountsOfProvider(trx, id)) > 0) {
      throw new AppError('CONFLICT', 'The provider still has connected accounts: delete them first.');
    }
    await repo.deleteProvider(trx, scope.workspaceId, id);
  });
}

/** A custom provider's OAuth2 client secret, decrypted for a token request. */
export async function providerClientSecret(ctx: AppContext, row: ProviderRow): Promise<string | null> {
  if (row.client_secret_encrypted === null || row.workspace_id === null) return null;
  return secretsOf(ctx).decrypt(ctx.db.kysely, row.workspace_id, row.client_secret_encrypted);
}
