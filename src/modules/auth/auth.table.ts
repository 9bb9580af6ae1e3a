import type { Selectable } from 'kysely';

export type AccessTokenKind = 'session' | 'personal';

export interface AccessTokensTable {
  id: string;
  user_id: number;
  /** `session`: issued by sign-in, revoked by logout. `personal`: a named, long-lived API token. */
  kind: AccessTokenKind;
  name: string;
  /** SHA-256 of the token; the token itself is never stored. */
  token_hash: string;
  /** The token's prefix and last four characters, to recognise it in a list. */
  token_hint: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  created_at: string;
}

/** Failed sign-ins counted per key (`account:<email>` or `ip:<address>`) in a fixed window. */
export interface AuthThrottlesTable {
  key: string;
  failures: number;
  window_started_at: string;
}

export type AccessTokenRow = Selectable<AccessTokensTable>;
