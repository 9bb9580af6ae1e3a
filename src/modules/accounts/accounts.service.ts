import { sql } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { newId, now } from '../../db/values.js';
import { AppError, type FieldErrors } from '../../errors.js';
import { findUsersByIds } from '../users/users.repository.js';
import { toUserResource } from '../users/users.service.js';
import { can } from '../workspaces/permissions.js';
import { getMembershipOrThrow, toWorkspaceResource, type WorkspaceScope } from '../workspaces/workspaces.service.js';
import { findProviderById } from '../providers/providers.repository.js';
import { getVisibleProviderOrThrow, providerMetadata, providerResourcesByIds, toProviderResources } from '../providers/providers.service.js';
import type { ProviderRow } from '../providers/providers.table.js';
import { MASKED, secretsOf } from '../secrets/secrets.service.js';
import * as repo from './accounts.repository.js';
import { noKnownResources, type KnownResources } from '../providers/viewer.js';
import type { AccountDetailsResource, AccountResource, CreateAccountInput, UpdateAccountInput } from './accounts.schemas.js';
import type { AccountRow } from './accounts.table.js';

export const SORT_COLUMNS = {
  provider_display_name: 'a.provider_display_name',
  created_at: 'a.created_at',
  updated_at: 'a.updated_at',
} as const;

/** Account resources for the caller; providers, owners and the workspace are looked up once per list. */
export async function toAccountResources(
  db: Executor,
  rows: AccountRow[],
  viewerId: number,
  known: KnownResources = noKnownResources(),
  providerRowsKnown?: ProviderRow[],
): Promise<AccountResource[]> {
  if (rows.length === 0) return [];
  const providers = providerRowsKnown
    ? new Map((await toProviderResources(db, providerRowsKnown, viewerId, known)).map((p) => [p.uuid, p]))
    : await providerResourcesByIds(db, rows.map((r) => r.provider_id), viewerId, known);
  const owners = new Map<number, AccountResource['user']>(known.users);
  const missingOwners = rows.map((r) => r.user_id).filter((id) => !owners.has(id));
  for (const user of await findUsersByIds(db, missingOwners)) owners.set(user.id, await toUserResource(db, user, viewerId));
  const workspaces = new Map<string, AccountResource['workspace']>(known.workspaces);
  for (const workspaceId of new Set(rows.map((r) => r.workspace_id))) {
    if (workspaces.has(workspaceId)) continue;
    workspaces.set(workspaceId, await toWorkspaceResource(db, await getMembershipOrThrow(db, workspaceId, viewerId)));
  }
  return rows.map((row) => ({
    uuid: row.id,
    provider_display_name: row.provider_display_name,
    created_at: row.created_at,
    updated_at: row.updated_at,
    provider_account_id: row.provider_account_id,
    provider_authentication_strategy: row.provider_authentication_strategy,
    provider: providers.get(row.provider_id)!,
    workspace: workspaces.get(row.workspace_id)!,
    user: owners.get(row.user_id)!,
  }));
}

/** The account's details beside the seed shape; secrets only as `********` or null. */
export function accountDetailsOf(row: AccountRow): AccountDetailsResource {
  return {
    scope: row.scope,
    base_url: row.base_url,
    username: row.username,
    token: row.token_encrypted !== null || row.access_token_encrypted !== null ? MASKED : null,
    password: row.password_encrypted !== null ? MASKED : null,
    is_verified: row.verification_status === 'verified',
    verification_status: row.verification_status,
    verification_error: row.verification_error,
    verified_at: row.verified_at,
    expires_at: row.token_expires_at,
  };
}

/** One account as `{data, meta}`: the seed's Account and its details. */
export async function toAccountWithDetails(db: Executor, row: AccountRow, viewerId: number, known?: KnownResources) {
  return { data: await toAccountResource(db, row, viewerId, known), meta: accountDetailsOf(row) };
}

export async function toAccountResource(db: Executor, row: AccountRow, viewerId: number, known?: KnownResources): Promise<AccountResource> {
  const [resource] = await toAccountResources(db, [row], viewerId, known);
  return resource!;
}

export async function listAccounts(
  ctx: AppContext,
  scope: WorkspaceScope,
  page: PageRequest,
  filter: repo.AccountListFilter,
  known?: KnownResources,
): Promise<PageResult<AccountResource>> {
  const result = await fetchPage(page, {
    base: repo.listAccountsQuery(ctx.db.kysely, scope.workspaceId, scope.userId, filter),
    select: (q) => q.selectAll('a').select(sql.ref(page.sort.column).as('sort_value')),
    idColumn: 'a.id',
    sortField: 'sort_value',
    idField: 'id',
    map: (row: AccountRow & { sort_value?: unknown }) => {
      const { sort_value: _sort, ...account } = row;
      return account as AccountRow;
    },
  });
  return { ...result, items: await toAccountResources(ctx.db.kysely, result.items, scope.userId, known) };
}

/** An account the caller may use (their own, or a public one of the workspace); NOT_FOUND otherwise. */
export async function getUsableAccountOrThrow(db: Executor, scope: WorkspaceScope, id: string): Promise<AccountRow> {
  const row = await repo.findUsableAccount(db, scope.workspaceId, scope.userId, id);
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

/** Only the owner of an account changes or deletes it; members see a public one but get 403. */
async function getOwnAccountOrThrow(db: Executor, scope: WorkspaceScope, id: string): Promise<AccountRow> {
  const row = await getUsableAccountOrThrow(db, scope, id);
  if (row.user_id !== scope.userId) throw new AppError('FORBIDDEN');
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  return row;
}

export async function getAccount(ctx: AppContext, scope: WorkspaceScope, id: string, known?: KnownResources) {
  return toAccountWithDetails(ctx.db.kysely, await getUsableAccountOrThrow(ctx.db.kysely, scope, id), scope.userId, known);
}

function failValidation(errors: FieldErrors): never {
  const first = Object.values(errors)[0]![0]!;
  throw new AppError('VALIDATION', first, { fields: errors });
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

interface CredentialState {
  strategy: ProviderRow['authentication_strategy'];
  token: string | null | undefined;
  username: string | null | undefined;
  password: string | null | undefined;
  baseUrl: string | null | undefined;
}

/**
 * The credential must fit its provider: the provider's strategy, a token for a token provider,
 * a username and password for basic, a base URL where the provider needs one. 422 naming the field.
 * `undefined` secrets mean "kept as stored" and count as set when `stored` says so.
 */
function validateCredentials(
  provider: ProviderRow,
  input: CredentialState,
  stored: { token: boolean; password: boolean },
  requested: ProviderRow['authentication_strategy'] | undefined,
): void {
  const errors: FieldErrors = {};
  const add = (field: string, message: string) => (errors[field] ??= []).push(message);
  const strategy = provider.authentication_strategy;
  if (requested !== undefined && requested !== strategy) {
    add('provider_authentication_strategy', `The provider authentication strategy must be ${strategy} for the ${provider.name} provider.`);
  }
  const has = (value: string | null | undefined, kept: boolean) => (value === undefined ? kept : value !== null && value !== '');
  if (strategy === 'token' && !has(input.token, stored.token)) {
    add('token', 'The token field is required when provider authentication strategy is token.');
  }
  if (strategy === 'basic') {
    if (!has(input.username, false)) add('username', 'The username field is required when provider authentication strategy is basic.');
    if (!has(input.password, stored.password)) add('password', 'The password field is required when provider authentication strategy is basic.');
  }
  const metadata = providerMetadata(provider);
  if (input.baseUrl !== undefined && input.baseUrl !== null && !isHttpUrl(input.baseUrl)) {
    add('base_url', 'The base url field must be a valid URL.');
  } else if ((input.baseUrl === null || input.baseUrl === undefined) && metadata.base_url_required && !metadata.default_base_url) {
    add('base_url', `The base url field is required for the ${provider.name} provider.`);
  }
  if (Object.keys(errors).length > 0) failValidation(errors);
}

/** `********` sent back means "keep what is stored". */
function secretChange(value: string | null | undefined): string | null | undefined {
  return value === MASKED ? undefined : value;
}

export async function createAccount(
  ctx: AppContext,
  scope: WorkspaceScope,
  input: CreateAccountInput,
  known?: KnownResources,
): Promise<{ data: AccountResource; meta: AccountDetailsResource }> {
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  const db = ctx.db.kysely;
  let provider: ProviderRow;
  try {
    provider = await getVisibleProviderOrThrow(db, scope, input.provider_uuid);
  } catch (error) {
    if (error instanceof AppError && error.code === 'NOT_FOUND') failValidation({ provider_uuid: ['The selected provider uuid is invalid.'] });
    throw error;
  }
  if (!provider.is_enabled) failValidation({ provider_uuid: ['The selected provider is disabled.'] });
  if (provider.authentication_strategy === 'oauth2') {
    failValidation({
      provider_authentication_strategy: [
        `Accounts of the ${provider.name} provider are connected through GET /api/v1/providers/${provider.id}/oauth2/authorize.`,
      ],
    });
  }
  const token = secretChange(input.token);
  const password = secretChange(input.password);
  validateCredentials(
    provider,
    { strategy: provider.authentication_strategy, token, username: input.username, password, baseUrl: input.base_url },
    { token: false, password: false },
    input.provider_authentication_strategy,
  );
  const box = secretsOf(ctx);
  const at = now();
  const row = await repo.insertAccount(db, {
    id: newId(),
    workspace_id: scope.workspaceId,
    user_id: scope.userId,
    provider_id: provider.id,
    provider_display_name: input.provider_display_name.trim(),
    provider_authentication_strategy: provider.authentication_strategy,
    provider_account_id: null,
    scope: input.scope ?? 'private',
    base_url: input.base_url?.replace(/\/+$/, '') ?? null,
    username: input.username ?? null,
    token_encrypted: await box.encryptOptional(db, scope.workspaceId, token || null),
    password_encrypted: await box.encryptOptional(db, scope.workspaceId, password || null),
    access_token_encrypted: null,
    refresh_token_encrypted: null,
    token_expires_at: null,
    oauth_scopes: null,
    verification_status: 'unverified',
    verification_error: null,
    verified_at: null,
    created_at: at,
    updated_at: at,
  });
  return toAccountWithDetails(db, row, scope.userId, known);
}

export async function updateAccount(
  ctx: AppContext,
  scope: WorkspaceScope,
  id: string,
  input: UpdateAccountInput,
  known?: KnownResources,
): Promise<AccountResource> {
  const db = ctx.db.kysely;
  const current = await getOwnAccountOrThrow(db, scope, id);
  const provider = await findProviderById(db, current.provider_id);
  if (!provider) throw new AppError('NOT_FOUND');
  const token = secretChange(input.token);
  const password = secretChange(input.password);
  if (current.provider_authentication_strategy === 'oauth2' && (token || password)) {
    failValidation({ [token ? 'token' : 'password']: ['The tokens of an oauth2 account come from its authorization: connect it again to change them.'] });
  }
  validateCredentials(
    provider,
    {
      strategy: provider.authentication_strategy,
      token,
      username: input.username !== undefined ? input.username : current.username,
      password,
      baseUrl: input.base_url !== undefined ? input.base_url : current.base_url,
    },
    { token: current.token_encrypted !== null, password: current.password_encrypted !== null },
    input.provider_authentication_strategy,
  );
  const box = secretsOf(ctx);
  const changes: Parameters<typeof repo.updateAccount>[3] = {};
  if (input.provider_display_name !== undefined) changes.provider_display_name = input.provider_display_name.trim();
  if (input.scope !== undefined) changes.scope = input.scope;
  if (input.username !== undefined) changes.username = input.username;
  if (input.base_url !== undefined) changes.base_url = input.base_url?.replace(/\/+$/, '') ?? null;
  if (token !== undefined) changes.token_encrypted = await box.encryptOptional(db, scope.workspaceId, token || null);
  if (password !== undefined) changes.password_encrypted = await box.encryptOptional(db, scope.workspaceId, password || null);
  const credentialsChanged =
    token !== undefined || password !== undefined || (input.username !== undefined && input.username !== current.username) ||
    (input.base_url !== undefined && changes.base_url !== current.base_url);
  if (credentialsChanged) {
    // New credentials have not been checked yet.
    changes.verification_status = 'unverified';
    changes.verification_error = null;
  }
  if (Object.keys(changes).length === 0) return toAccountResource(db, current, scope.userId, known);
  changes.updated_at = now();
  const row = await repo.updateAccount(db, scope.workspaceId, id, changes);
  const [resource] = await toAccountResources(db, [row], scope.userId, known, [provider]);
  return resource!;
}

export async function deleteAccount(
  ctx: AppContext,
  scope: WorkspaceScope,
  id: string,
  revoke: (account: AccountRow, provider: ProviderRow) => Promise<void>,
): Promise<void> {
  const db = ctx.db.kysely;
  const account = await getOwnAccountOrThrow(db, scope, id);
  const provider = await findProviderById(db, account.provider_id);
  if (provider && account.provider_authentication_strategy === 'oauth2') await revoke(account, provider);
  await repo.deleteAccount(db, scope.workspaceId, id);
}

/** The decrypted credentials of an account, for a call to its provider. Never leaves the server. */
export interface AccountCredentials {
  token: string | null;
  username: string | null;
  password: string | null;
  accessToken: string | null;
  refreshToken: string | null;
}

export async function credentialsOf(ctx: AppContext, account: AccountRow): Promise<AccountCredentials> {
  const box = secretsOf(ctx);
  const db = ctx.db.kysely;
  return {
    token: await box.decryptOptional(db, account.workspace_id, account.token_encrypted),
    username: account.username,
    password: await box.decryptOptional(db, account.workspace_id, account.password_encrypted),
    accessToken: await box.decryptOptional(db, account.workspace_id, account.access_token_encrypted),
    refreshToken: await box.decryptOptional(db, account.workspace_id, account.refresh_token_encrypted),
  };
}
