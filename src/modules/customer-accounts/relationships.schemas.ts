import { Type, type Static } from 'typebox';
import { named } from '../../http/schemas.js';
import { ThenaListQuery } from '../../http/thena.js';

/** An id a request names; anything that is not the id of a live record of the workspace is a 400 naming the field. */
const Id = (description: string) => Type.String({ minLength: 1, maxLength: 100, description });

const Name = Type.String({ minLength: 1, maxLength: 100, description: 'The type’s name, unique in the workspace (case-insensitive)', examples: ['Parent'] });

/** The inverse of a type, one level deep: its own inverse is not shown. */
const NullableInverse = Type.Unsafe<{ id: string; name: string } | null>({
  type: ['object', 'null'],
  properties: { id: { type: 'string' }, name: { type: 'string' } },
  required: ['id', 'name'],
  description: 'The inverse type (`{id, name}`), null when the type has none',
});

export const RelationshipTypeResponseDto = named(
  'RelationshipTypeResponseDto',
  Type.Object({
    id: Type.String({ description: 'The unique identifier of the relationship type' }),
    name: Type.String({ description: 'The name of the relationship type', examples: ['Parent'] }),
    inverseRelationshipId: Type.Unsafe<string | null>({ type: ['string', 'null'], description: 'The id of the inverse type, e.g. Child for Parent' }),
    inverseRelationship: NullableInverse,
    createdAt: Type.String({ description: 'The creation date of the relationship type' }),
    updatedAt: Type.String({ description: 'The update date of the relationship type' }),
  }),
);
export type RelationshipTypeResponse = Static<typeof RelationshipTypeResponseDto>;

/** An account as a relationship shows it. */
const RelatedAccount = (description: string) =>
  Type.Object({ id: Type.String(), name: Type.String(), primaryDomain: Type.String() }, { description });

export const AccountRelationshipResponseDto = named(
  'AccountRelationshipResponseDto',
  Type.Object({
    id: Type.String({ description: 'The unique identifier of the relationship' }),
    accountId: Type.String({ description: 'The account the relationship starts from' }),
    account: RelatedAccount('The account the relationship starts from'),
    relatedAccountId: Type.String({ description: 'The account it points to' }),
    relatedAccount: RelatedAccount('The account it points to'),
    relationshipType: RelationshipTypeResponseDto,
    createdAt: Type.String({ description: 'The creation date of the relationship' }),
    updatedAt: Type.String({ description: 'The update date of the relationship' }),
  }),
);
export type AccountRelationshipResponse = Static<typeof AccountRelationshipResponseDto>;

export const CreateAccountRelationshipDto = named(
  'CreateAccountRelationshipDto',
  Type.Object(
    {
      accountId: Id('The account the relationship starts from'),
      relatedAccountId: Id('The account it points to (not the same account)'),
      relationshipType: Id('The id of a relationship type'),
    },
    { additionalProperties: false },
  ),
);
export type CreateAccountRelationshipInput = Static<typeof CreateAccountRelationshipDto>;

export const UpdateAccountRelationshipDto = named(
  'UpdateAccountRelationshipDto',
  Type.Object({ relationshipType: Id('The id of a relationship type') }, { additionalProperties: false }),
);
export type UpdateAccountRelationshipInput = Static<typeof UpdateAccountRelationshipDto>;

export const CreateAccountRelationshipTypeDto = named(
  'CreateAccountRelationshipTypeDto',
  Type.Object(
    {
      name: Name,
      inverseRelationshipId: Type.Optional(
        Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 100, description: 'The id of the inverse type; it is linked back to this one' }),
      ),
    },
    { additionalProperties: false },
  ),
);
export type CreateRelationshipTypeInput = Static<typeof CreateAccountRelationshipTypeDto>;

export const UpdateAccountRelationshipTypeDto = named(
  'UpdateAccountRelationshipTypeDto',
  Type.Object(
    {
      name: Type.Optional(Name),
      inverseRelationshipId: Type.Optional(
        Type.Unsafe<string | null>({
          type: ['string', 'null'],
          maxLength: 100,
          description: 'The id of the inverse type (this type’s own id for a symmetric one); null clears it',
        }),
      ),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
);
export type UpdateRelationshipTypeInput = Static<typeof UpdateAccountRelationshipTypeDto>;

export const RelationshipListQuery = ThenaListQuery({
  accountId: Type.String({ minLength: 1, maxLength: 100, description: 'The account whose relationships to list (those starting from it)' }),
});
export type RelationshipListQueryValue = Static<typeof RelationshipListQuery>;

export const RelationshipParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
