import { Type, type Static } from 'typebox';
import { ListQuery } from '../../http/pagination.js';
import { Body, Envelope, NullableString, StringEnum, Timestamp, Uuid, named } from '../../http/schemas.js';
import { User } from '../users/users.schemas.js';
import { AUTHENTICATION_STRATEGIES, PROVIDER_TYPES, PROVIDER_VISIBILITIES } from './providers.table.js';

const StringMap = Type.Record(Type.String(), Type.Unknown(), { description: 'Free-form key/value pairs.' });

export const ProfilePhotoConfig = named(
  'ProfilePhotoConfig',
  Type.Object(
    {
      emoji: Type.Optional(NullableString({ maxLength: 32, examples: ['🤖'] })),
      background_color: Type.Optional(NullableString({ maxLength: 32, examples: ['#3B82F6'] })),
      preference: Type.Optional(NullableString({ maxLength: 32, examples: ['emoji'] })),
    },
    { additionalProperties: true, maxProperties: 20 },
  ),
);

const TokenConfig = Type.Object(
  {
    url: Type.Optional(NullableString({ maxLength: 2048, description: 'URL called to verify a token (`{base_url}` is replaced).' })),
    body: Type.Optional(StringMap),
    params: Type.Optional(StringMap),
    headers: Type.Optional(StringMap),
    key: Type.Optional(NullableString({ maxLength: 255, description: 'Header (or query parameter) that carries the token.' })),
    type: Type.Optional(NullableString({ maxLength: 32, description: '`bearer`, `header`, `query` or `basic`.' })),
  },
  { additionalProperties: true },
);

const OAuth2Config = Type.Object(
  {
    url: Type.Optional(NullableString({ maxLength: 2048 })),
    client_id: Type.Optional(NullableString({ maxLength: 1024 })),
    client_secret: Type.Optional(
      NullableString({ maxLength: 4096, description: 'Write-only: `********` when set; sending `********` back keeps it.' }),
    ),
    redirect_url: Type.Optional(NullableString({ maxLength: 2048 })),
    authorize_url: Type.Optional(NullableString({ maxLength: 2048 })),
    token_url: Type.Optional(NullableString({ maxLength: 2048 })),
    user_url: Type.Optional(NullableString({ maxLength: 2048 })),
    scopes: Type.Optional(Type.Array(Type.String({ maxLength: 255 }), { maxItems: 100 })),
    scope_separator: Type.Optional(NullableString({ maxLength: 16, examples: ['space'] })),
    headers: Type.Optional(StringMap),
    parameters: Type.Optional(StringMap),
  },
  { additionalProperties: true },
);

const BasicConfig = Type.Object(
  {
    url: Type.Optional(NullableString({ maxLength: 2048 })),
    headers: Type.Optional(StringMap),
    params: Type.Optional(StringMap),
    body: Type.Optional(StringMap),
  },
  { additionalProperties: true },
);

export const AuthenticationConfig = named(
  'AuthenticationConfig',
  Type.Object(
    { token: Type.Optional(TokenConfig), oauth2: Type.Optional(OAuth2Config), basic: Type.Optional(BasicConfig) },
    { additionalProperties: true, description: 'How the provider authenticates, per strategy.' },
  ),
);
export type AuthenticationConfigValue = Static<typeof AuthenticationConfig>;

const ToolGroup = Type.Object({
  label: Type.String({ maxLength: 255 }),
  tools: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 500 }),
});

export const ProviderMetadata = Type.Object(
  {
    tool_groups: Type.Optional(Type.Array(ToolGroup, { maxItems: 100 })),
    is_official: Type.Optional(Type.Boolean({ description: 'Shipped with the product (read-only).' })),
    is_featured: Type.Optional(Type.Boolean()),
    api: Type.Optional(NullableString({ description: 'Wire protocol: `openai`, `anthropic`, `gemini`, `ollama`, `http` or `mcp`.' })),
    default_base_url: Type.Optional(NullableString({ description: 'Base URL of an account that gives none.' })),
    base_url_required: Type.Optional(Type.Boolean({ description: 'Accounts must give a `base_url`.' })),
  },
  { additionalProperties: true, maxProperties: 100 },
);
export type ProviderMetadataValue = Static<typeof ProviderMetadata>;

export const ProviderType = StringEnum(PROVIDER_TYPES);
export const Strategy = StringEnum(AUTHENTICATION_STRATEGIES);
export const ProviderVisibility = StringEnum(PROVIDER_VISIBILITIES);

/** Seed 004's Provider, as nested in the account example, field for field. */
export const Provider = named(
  'Provider',
  Type.Object({
    uuid: Uuid,
    slug: Type.String({ examples: ['openai'] }),
    name: Type.String({ examples: ['OpenAI'] }),
    description: NullableString(),
    website: NullableString(),
    profile_photo_url: NullableString(),
    profile_photo_config: ProfilePhotoConfig,
    authentication_strategy: Strategy,
    authentication_config: AuthenticationConfig,
    is_enabled: Type.Boolean(),
    type: ProviderType,
    is_owner: Type.Boolean({ description: 'Whether the caller created this provider.' }),
    visibility: ProviderVisibility,
    created_at: Timestamp,
    updated_at: Timestamp,
    metadata: ProviderMetadata,
    user: Type.Union([User, Type.Null()], { description: 'Creator of a custom provider; null for official ones.' }),
    tools_count: Type.Integer({ minimum: 0 }),
  }),
);
export type ProviderResource = Static<typeof Provider>;

const Slug = Type.String({ minLength: 1, maxLength: 100, pattern: '^[a-z0-9]+(?:-[a-z0-9]+)*$' });

const writable = {
  slug: Type.Optional(Slug),
  name: Type.String({ minLength: 1, maxLength: 255 }),
  description: Type.Optional(NullableString({ maxLength: 5000 })),
  website: Type.Optional(NullableString({ format: 'uri', maxLength: 2048 })),
  profile_photo_url: Type.Optional(NullableString({ format: 'uri', maxLength: 2048 })),
  profile_photo_config: Type.Optional(ProfilePhotoConfig),
  authentication_strategy: Strategy,
  authentication_config: Type.Optional(AuthenticationConfig),
  is_enabled: Type.Optional(Type.Boolean()),
  type: ProviderType,
  visibility: Type.Optional(ProviderVisibility),
  metadata: Type.Optional(ProviderMetadata),
};

export const CreateProviderBody = Body(writable);
export type CreateProviderInput = Static<typeof CreateProviderBody>;

export const UpdateProviderBody = Body({
  ...writable,
  name: Type.Optional(writable.name),
  authentication_strategy: Type.Optional(Strategy),
  type: Type.Optional(ProviderType),
});
export type UpdateProviderInput = Static<typeof UpdateProviderBody>;

export const ProviderParams = Type.Object({ provider_uuid: Uuid });

const listQuery = ListQuery(['name', 'created_at', 'updated_at'], {
  type: Type.Optional(ProviderType),
  is_official: Type.Optional(Type.Boolean()),
  authentication_strategy: Type.Optional(Strategy),
});
export const ProviderListQuery = Type.Object({
  ...listQuery.properties,
  type: Type.Optional(ProviderType),
});

export const ProviderEnvelope = Envelope(Provider);
