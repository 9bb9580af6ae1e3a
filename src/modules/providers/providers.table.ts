import type { ColumnType, Selectable, SqlBool } from 'kysely';

export const PROVIDER_TYPES = ['large_language_model', 'tool', 'mcp_server'] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

export const AUTHENTICATION_STRATEGIES = ['none', 'token', 'basic', 'oauth2'] as const;
export type AuthenticationStrategy = (typeof AUTHENTICATION_STRATEGIES)[number];

export const PROVIDER_VISIBILITIES = ['private', 'workspace', 'public'] as const;
export type ProviderVisibility = (typeof PROVIDER_VISIBILITIES)[number];

type Json = ColumnType<unknown, string, string>;
type Bool = ColumnType<SqlBool, boolean | undefined, boolean>;

export interface ProvidersTable {
  id: string;
  /** null for the official catalog. */
  workspace_id: string | null;
  /** Creator of a custom provider; null for official ones. */
  user_id: number | null;
  slug: string;
  name: string;
  description: string | null;
  website: string | null;
  profile_photo_url: string | null;
  profile_photo_config: Json;
  authentication_strategy: AuthenticationStrategy;
  /** The seed's AuthenticationConfig without `oauth2.client_secret` (kept encrypted below). */
  authentication_config: Json;
  client_secret_encrypted: string | null;
  is_enabled: Bool;
  type: ProviderType;
  visibility: ProviderVisibility;
  metadata: Json;
  is_official: Bool;
  is_featured: Bool;
  created_at: string;
  updated_at: string;
}

export type ProviderRow = Selectable<ProvidersTable>;
