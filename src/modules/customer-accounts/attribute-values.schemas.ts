import { Type, type Static } from 'typebox';
import { named, StringEnum } from '../../http/schemas.js';
import { ATTRIBUTES } from './attributes.js';

const Attribute = StringEnum(ATTRIBUTES, { description: 'Attribute type', example: 'account_status', examples: ['account_status'] });

export const AttributeValueConfiguration = named(
  'AttributeValueConfigurationDto',
  Type.Object(
    {
      icon: Type.Optional(Type.String({ maxLength: 100, description: 'Icon name shown beside the value' })),
      color: Type.Optional(Type.String({ maxLength: 50, description: 'Display colour, e.g. #22c55e' })),
      isClosed: Type.Optional(Type.Boolean({ description: 'task_status only: a task with this status is closed' })),
    },
    { additionalProperties: false },
  ),
);
export type AttributeValueConfigurationValue = Static<typeof AttributeValueConfiguration>;

/** Seed 000's response DTO, plus the value's display configuration. */
export const AccountAttributeValueResponseDto = named(
  'AccountAttributeValueResponseDto',
  Type.Object({
    id: Type.String({ description: 'The unique identifier of the attribute value' }),
    attribute: Attribute,
    value: Type.String({ description: 'Attribute value', example: 'PROSPECT', examples: ['PROSPECT'] }),
    isDefault: Type.Boolean({ description: 'Whether this value is default for the attribute' }),
    configuration: AttributeValueConfiguration,
    createdAt: Type.String({ description: 'The creation date of the attribute value' }),
    updatedAt: Type.String({ description: 'The update date of the attribute value' }),
  }),
);
export type AttributeValueResponse = Static<typeof AccountAttributeValueResponseDto>;

// `example` as seed 000 (OpenAPI 3.0) writes it, `examples` as JSON Schema 2020-12 does.
const Value = Type.String({ minLength: 1, maxLength: 100, description: 'Attribute value', example: 'PROSPECT', examples: ['PROSPECT'] });
const configurationFields = {
  icon: Type.Optional(Type.String({ maxLength: 100, description: 'Icon name shown beside the value' })),
  color: Type.Optional(Type.String({ maxLength: 50, description: 'Display colour' })),
  isClosed: Type.Optional(Type.Boolean({ description: 'task_status only: a task with this status is closed' })),
};

/** Seed 000's request DTO; the display fields are ours and optional. */
export const UpdateAccountAttributeValueDto = named(
  'UpdateAccountAttributeValueDto',
  Type.Object(
    {
      value: Type.Optional(Value),
      isDefault: Type.Optional(Type.Boolean({ description: 'Whether the attribute is default', example: false, examples: [false] })),
      ...configurationFields,
    },
    { additionalProperties: false },
  ),
);
export type UpdateAttributeValueInput = Static<typeof UpdateAccountAttributeValueDto>;

export const CreateAccountAttributeValueDto = named(
  'CreateAccountAttributeValueDto',
  Type.Object(
    {
      attribute: Attribute,
      value: Value,
      isDefault: Type.Optional(Type.Boolean({ description: 'Make this the attribute’s default (the previous default stops being one)' })),
      ...configurationFields,
    },
    { additionalProperties: false },
  ),
);
export type CreateAttributeValueInput = Static<typeof CreateAccountAttributeValueDto>;

export const AttributeValueListQuery = Type.Object(
  { attribute: Attribute },
  { additionalProperties: false },
);

export const AttributeValueParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

export const DeleteAttributeValueQuery = Type.Object(
  {
    replaceWith: Type.Optional(
      Type.String({ maxLength: 100, description: 'Another value of the same attribute; records using the deleted value move to it' }),
    ),
  },
  { additionalProperties: false },
);
