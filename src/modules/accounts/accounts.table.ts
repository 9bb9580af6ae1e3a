import type { ColumnType, Selectable } from 'kysely';
import type { AuthenticationStrategy } from '../providers/providers.table.js';

export const ACCOUNT_SCOPES = ['private', 'public'] as const;
export type AccountScope = (typeof ACCOUNT_SCOPES)[number];

export type VerificationStatus = 'unverified' | 'verified' | 'failed';

/** A user's credentials for a provider (`connected_accounts`; `accounts` is the CRM's). */
export interface ConnectedAccountsTable {
  id: string;
  workspace_id: string;
  user_id: number;
  provider_id: string;
  provider_display_name: string;
  provider_authentication_strategy: AuthenticationStrategy;
  provider_account_id: string | null;
  scope: AccountScope;
  base_url: string | null;
  username: string | null;
  /** Secrets, encrypted by the workspace's data key (`ath1:<key id>:…`). */
  token_encrypted: string | null;
  password_encrypted: string | null;
  access_token_encrypted: string | null;
  refresh_token_encrypted: string | null;
  token_expires_at: string | null;
  oauth_scopes: string | null;
  verification_status: ColumnType<VerificationStatus, VerificationStatus | undefined, VerificationStatus>;
  verification_error: string | null;
  verified_at: string | null;
  created_at: string;
  updated_at: string;
}

/** One pending OAuth2 authorization: single use, short-lived, bound to the user who started it. */
export interface OAuth2StatesTable {
  /** SHA-256 (hex) of the state value. */
  id: string;
  workspace_id: string;
  user_id: number;
  provider_id: string;
  code_verifier_encrypted: string | null;
  redirect_uri: string;
  scope: AccountScope;
  provider_display_name: string | null;
  expires_at: string;
  created_at: string;
}

export type AccountRow = Selectable<ConnectedAccountsTable>;
export type OAuth2StateRow = Selectable<OAuth2StatesTable>;
