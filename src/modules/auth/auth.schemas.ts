import { Type } from 'typebox';
import { Body, NullableTimestamp, Timestamp, Uuid, named } from '../../http/schemas.js';
import { ListQuery } from '../../http/pagination.js';
import { Password, User } from '../users/users.schemas.js';

export const SignInBody = Body({
  email: Type.String({ format: 'email', maxLength: 255 }),
  password: Type.String({ minLength: 1, maxLength: 256 }),
  device_name: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Names the issued token.' })),
});

export const SignUpBody = Body({
  name: Type.String({ minLength: 1, maxLength: 255 }),
  email: Type.String({ format: 'email', maxLength: 255 }),
  password: Password,
});

export const AccessToken = named(
  'AccessToken',
  Type.Object({
    token: Type.String({ description: 'Send as `Authorization: Bearer <token>`. Shown once.' }),
    token_type: Type.Literal('Bearer'),
    expires_at: Timestamp,
    user: User,
  }),
);
export const AccessTokenEnvelope = Type.Object({ data: AccessToken });

const personalTokenProperties = {
  uuid: Uuid,
  name: Type.String(),
  token_hint: Type.String({ description: 'Prefix and last characters, to recognise the token.' }),
  last_used_at: NullableTimestamp,
  expires_at: NullableTimestamp,
  created_at: Timestamp,
};

export const PersonalAccessToken = named('PersonalAccessToken', Type.Object(personalTokenProperties));
export const NewPersonalAccessToken = named(
  'NewPersonalAccessToken',
  Type.Object({
    ...personalTokenProperties,
    token: Type.String({ description: 'The secret: shown in this response only. Send as a Bearer token or `x-api-key`.' }),
  }),
);

export const CreatePersonalTokenBody = Body({
  name: Type.String({ minLength: 1, maxLength: 255 }),
  expires_at: Type.Optional(NullableTimestamp),
});

export const TokenParams = Type.Object({ token_uuid: Uuid });
export const TokenListQuery = ListQuery(['created_at', 'name'], {});
