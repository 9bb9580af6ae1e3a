import { Type, type Static } from 'typebox';
import { ListQuery } from '../../http/pagination.js';
import { Body, Envelope, NullableString, NullableTimestamp, StringEnum, Timestamp, Uuid, named } from '../../http/schemas.js';
import { Provider, Strategy } from '../providers/providers.schemas.js';
import { User } from '../users/users.schemas.js';
import { Workspace } from '../workspaces/workspaces.schemas.js';
import { ACCOUNT_SCOPES } from './accounts.table.js';

export const AccountScopeSchema = StringEnum(ACCOUNT_SCOPES, {
  description: '`private`: its owner only; `public`: every member of the workspace may use it, only its owner sees or changes it.',
});

const Secret = NullableString({
  description: 'Write-only: `********` when set, null when not. Sending `********` back keeps the stored value.',
  examples: ['********'],
});

/** Seed 004's Account, key for key: the "Update an Account" response, nested `provider`, `workspace` and `user`. */
export const Account = named(
  'Account',
  Type.Object({
    uuid: Uuid,
    provider_display_name: Type.String({ examples: ['My OpenAI Account'] }),
    created_at: Timestamp,
    updated_at: Timestamp,
    provider_account_id: NullableString({ description: 'The account’s id at the provider, filled by verification.', examples: ['user-abc123def456'] }),
    provider_authentication_strategy: Strategy,
    provider: Provider,
    workspace: Workspace,
    user: User,
  }),
);
export type AccountResource = Static<typeof Account>;

const BaseUrl = NullableString({ format: 'uri', maxLength: 2048 });
const SecretInput = NullableString({ maxLength: 8192 });

export const CreateAccountBody = Body({
  provider_uuid: Uuid,
  provider_display_name: Type.String({ minLength: 1, maxLength: 255 }),
  provider_authentication_strategy: Type.Optional(Strategy),
  token: Type.Optional(SecretInput),
  username: Type.Optional(NullableString({ maxLength: 1024 })),
  password: Type.Optional(SecretInput),
  scope: Type.Optional(AccountScopeSchema),
  base_url: Type.Optional(BaseUrl),
});
export type CreateAccountInput = Static<typeof CreateAccountBody>;

/** Seed 004's "Update an Account" body, plus `base_url`. */
export const UpdateAccountBody = Body({
  provider_display_name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  provider_authentication_strategy: Type.Optional(Strategy),
  token: Type.Optional(SecretInput),
  username: Type.Optional(NullableString({ maxLength: 1024 })),
  password: Type.Optional(SecretInput),
  scope: Type.Optional(AccountScopeSchema),
  base_url: Type.Optional(BaseUrl),
});
export type UpdateAccountInput = Static<typeof UpdateAccountBody>;

export const AccountParams = Type.Object({ account_uuid: Uuid });

export const AccountListQuery = ListQuery(['provider_display_name', 'created_at', 'updated_at'], {
  provider: Type.Optional(Uuid),
  scope: Type.Optional(AccountScopeSchema),
  mine: Type.Optional(Type.Boolean()),
});

/**
 * What the seed's Account leaves out, given beside it (`meta`) where one account is created,
 * retrieved or verified: its scope, base URL, which secrets are set (masked), the last verification.
 */
export const AccountDetails = named(
  'AccountDetails',
  Type.Object({
    scope: AccountScopeSchema,
    base_url: NullableString({ description: 'Where the provider is called (a proxy, a self-hosted server); null: the provider’s default.' }),
    username: NullableString(),
    token: Secret,
    password: Secret,
    is_verified: Type.Boolean(),
    verification_status: StringEnum(['unverified', 'verified', 'failed'] as const),
    verification_error: NullableString({ description: 'The provider’s reason when it rejected the credentials.' }),
    verified_at: NullableTimestamp,
    expires_at: NullableTimestamp,
  }),
);
export type AccountDetailsResource = Static<typeof AccountDetails>;

/** `PUT /api/v1/accounts/{uuid}`: exactly seed 004's response. */
export const AccountEnvelope = Envelope(Account);
/** One account with its details in `meta`. */
export const AccountWithDetailsEnvelope = Type.Object({ data: Account, meta: AccountDetails });

export const AuthorizeQuery = Type.Object({
  scope: Type.Optional(AccountScopeSchema),
  provider_display_name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
});

export const AuthorizeResponse = Type.Object({
  data: Type.Object({
    authorization_url: Type.String({ format: 'uri', description: 'Send the user’s browser here.' }),
    state: Type.String(),
    expires_at: Timestamp,
  }),
});

export const CallbackQuery = Type.Object({
  state: Type.Optional(Type.String({ maxLength: 512 })),
  code: Type.Optional(Type.String({ maxLength: 4096 })),
  error: Type.Optional(Type.String({ maxLength: 255 })),
  error_description: Type.Optional(Type.String({ maxLength: 2048 })),
});
