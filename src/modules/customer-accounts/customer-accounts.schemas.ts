import { Type, type Static } from 'typebox';
import { named, NullableInteger, NullableNumber, NullableString } from '../../http/schemas.js';
import { ThenaListQuery } from '../../http/thena.js';
import { AttributeRef, CustomFieldValues, Metadata, NullableConfiguration } from './records.js';

const Address = Type.Record(Type.String(), Type.Unknown(), { description: 'Street, city, state, postal code, country…' });
const NullableAddress = Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'], additionalProperties: true, description: 'Street, city, postal code, country…' });
const NullableMetadata = Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true });

const Domain = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: '^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$',
  description: 'A domain name, e.g. acme.com',
  examples: ['acme.com'],
});

const accountFields = {
  description: Type.Optional(Type.String({ maxLength: 10_000 })),
  source: Type.Optional(Type.String({ maxLength: 100, description: 'Where the account came from (manual, hubspot, …)' })),
  logo: Type.Optional(Type.String({ maxLength: 2048 })),
  website: Type.Optional(Type.String({ maxLength: 2048 })),
  secondaryDomain: Type.Optional(Domain),
  accountOwnerId: Type.Optional(Type.String({ maxLength: 20, description: 'A workspace member’s user id' })),
  status: Type.Optional(AttributeRef('account_status')),
  classification: Type.Optional(AttributeRef('account_classification')),
  health: Type.Optional(AttributeRef('account_health')),
  industry: Type.Optional(AttributeRef('account_industry')),
  annualRevenue: Type.Optional(Type.Number({ minimum: 0 })),
  employees: Type.Optional(Type.Integer({ minimum: 0 })),
  billingAddress: Type.Optional(Address),
  shippingAddress: Type.Optional(Address),
  customFieldValues: Type.Optional(CustomFieldValues),
  metadata: Type.Optional(Metadata),
};

export const CreateAccountDto = named(
  'CreateAccountDto',
  Type.Object(
    {
      name: Type.String({ minLength: 1, maxLength: 255, examples: ['Acme Inc'] }),
      primaryDomain: Domain,
      ...accountFields,
    },
    { additionalProperties: false },
  ),
);
export type CreateAccountInput = Static<typeof CreateAccountDto>;

export const UpdateAccountDto = named(
  'UpdateAccountDto',
  Type.Object(
    {
      name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
      primaryDomain: Type.Optional(Domain),
      ...accountFields,
    },
    { additionalProperties: false, minProperties: 1 },
  ),
);
export type UpdateAccountInput = Static<typeof UpdateAccountDto>;

export const BulkCreateAccountsDto = named(
  'BulkCreateAccountsDto',
  Type.Object({ accounts: Type.Array(CreateAccountDto, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false }),
);

export const BulkCreateResponseDto = named(
  'BulkCreateResponseDto',
  Type.Object({
    total: Type.Integer({ description: 'Items in the request' }),
    created: Type.Integer({ description: 'Items created' }),
    skipped: Type.Integer({ description: 'Items skipped because they already exist' }),
  }),
);

export const FilterAccountsByIdsDto = named(
  'FilterAccountsByIdsDto',
  Type.Object({ ids: Type.Array(Type.String({ maxLength: 100 }), { minItems: 1, maxItems: 500 }) }, { additionalProperties: false }),
);

export const FilterAccountsByPrimaryDomainsDto = named(
  'FilterAccountsByPrimaryDomainsDto',
  Type.Object({ primaryDomains: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1, maxItems: 500 }) }, { additionalProperties: false }),
);

export const AccountResponseDto = named(
  'AccountResponseDto',
  Type.Object({
    id: Type.String(),
    name: Type.String(),
    description: NullableString(),
    source: NullableString(),
    logo: NullableString(),
    statusId: NullableString(),
    status: NullableString(),
    statusConfiguration: NullableConfiguration,
    classificationId: NullableString(),
    classification: NullableString(),
    classificationConfiguration: NullableConfiguration,
    healthId: NullableString(),
    health: NullableString(),
    healthConfiguration: NullableConfiguration,
    industryId: NullableString(),
    industry: NullableString(),
    industryConfiguration: NullableConfiguration,
    primaryDomain: Type.String(),
    secondaryDomain: NullableString(),
    accountOwner: NullableString({ description: 'The owner’s name' }),
    accountOwnerId: NullableString(),
    accountOwnerEmail: NullableString(),
    accountOwnerAvatarUrl: NullableString(),
    annualRevenue: NullableNumber(),
    employees: NullableInteger(),
    website: NullableString(),
    billingAddress: NullableAddress,
    shippingAddress: NullableAddress,
    customFieldValues: CustomFieldValues,
    metadata: NullableMetadata,
    createdAt: Type.String(),
    updatedAt: Type.String(),
  }),
);
export type AccountResponse = Static<typeof AccountResponseDto>;

export const AccountListQuery = ThenaListQuery({
  status: Type.Optional(Type.String({ maxLength: 100, description: 'An account_status id or value' })),
  classification: Type.Optional(Type.String({ maxLength: 100 })),
  health: Type.Optional(Type.String({ maxLength: 100 })),
  industry: Type.Optional(Type.String({ maxLength: 100 })),
  accountOwnerId: Type.Optional(Type.String({ maxLength: 20 })),
  search: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Part of the name or of a domain' })),
});
export type AccountListQueryValue = Static<typeof AccountListQuery>;

export const AccountParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
