import { Type, type Static } from 'typebox';
import { NestingStop, NullableString, Timestamp } from '../../http/schemas.js';
import type { UserRow } from './users.table.js';

/** The User fields of seed 004, without the nested primary workspace. */
export const userProperties = {
  id: Type.Integer({ examples: [123] }),
  name: Type.String({ examples: ['John Doe'] }),
  first_name: NullableString({ examples: ['John'] }),
  last_name: NullableString({ examples: ['Doe'] }),
  email: Type.String({ format: 'email', examples: ['john.doe@example.com'] }),
  profile_photo_url: NullableString({ format: 'uri' }),
  multiplai_id: NullableString({ description: 'Subject of the external identity provider that signs in this user.' }),
  created_at: Timestamp,
  updated_at: Timestamp,
};

/** A user nested inside another resource: its own `primary_workspace` stops at `{}`. */
export const UserLeaf = Type.Object({ ...userProperties, primary_workspace: NestingStop });
export type UserLeafResource = Static<typeof UserLeaf>;

export function userFields(user: UserRow) {
  return {
    id: user.id,
    name: user.name,
    first_name: user.first_name,
    last_name: user.last_name,
    email: user.email,
    profile_photo_url: user.profile_photo_url,
    multiplai_id: user.multiplai_id,
    created_at: user.created_at,
    updated_at: user.updated_at,
  };
}

export function toUserLeaf(user: UserRow): UserLeafResource {
  return { ...userFields(user), primary_workspace: {} };
}
