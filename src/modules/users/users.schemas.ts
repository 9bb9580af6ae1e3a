import { Type, type Static } from 'typebox';
import { Body, NullableString, named } from '../../http/schemas.js';
import { WorkspaceLeaf } from '../workspaces/workspace.shape.js';
import { userProperties } from './user.shape.js';

/** Seed 004's User: its primary workspace nested one level, whose `user` stops at `{}`. */
export const User = named(
  'User',
  Type.Object({ ...userProperties, primary_workspace: WorkspaceLeaf }),
);
export type UserResource = Static<typeof User>;

const Name = Type.String({ minLength: 1, maxLength: 255 });
export const Password = Type.String({ minLength: 8, maxLength: 256 });
const Email = Type.String({ format: 'email', maxLength: 255 });

export const UpdateProfileBody = Body({
  name: Type.Optional(Name),
  first_name: Type.Optional(NullableString({ maxLength: 255 })),
  last_name: Type.Optional(NullableString({ maxLength: 255 })),
  email: Type.Optional(Email),
  profile_photo_url: Type.Optional(NullableString({ format: 'uri', maxLength: 2048 })),
  password: Type.Optional(Password),
  current_password: Type.Optional(Type.String({ maxLength: 256 })),
});
export type UpdateProfileInput = Static<typeof UpdateProfileBody>;

export const CreateUserBody = Body({
  name: Name,
  email: Email,
  password: Password,
  is_admin: Type.Optional(Type.Boolean({ description: 'Make the new user an instance administrator.' })),
});
export type CreateUserInput = Static<typeof CreateUserBody>;

export const UserEnvelope = Type.Object({ data: User });
