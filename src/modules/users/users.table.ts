import type { ColumnType, Generated, Selectable, SqlBool } from 'kysely';

export interface UsersTable {
  id: Generated<number>;
  name: string;
  first_name: string | null;
  last_name: string | null;
  /** Stored lower-cased; unique. */
  email: string;
  /** scrypt hash; null for users provisioned by an external identity provider. */
  password_hash: string | null;
  profile_photo_url: string | null;
  /** Subject of the external identity provider's tokens. */
  multiplai_id: string | null;
  primary_workspace_id: string | null;
  /** Instance administrator: may create users. Not part of the public User shape. */
  is_admin: ColumnType<SqlBool, boolean | undefined, boolean>;
  created_at: string;
  updated_at: string;
}

export type UserRow = Selectable<UsersTable>;
