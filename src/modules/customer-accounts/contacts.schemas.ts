import { Type, type Static } from 'typebox';
import { named, NullableString, StringEnum } from '../../http/schemas.js';
import { ThenaListQuery } from '../../http/thena.js';
import { AttributeRef, BodyId, CustomFieldValues, Metadata, NullableConfiguration, ResponseMetadata } from './records.js';

export const SINK_SOURCES = ['MANUAL', 'SLACK', 'TEAMS', 'INTERCOM', 'ZENDESK'] as const;

const Email = Type.String({ format: 'email', maxLength: 320, examples: ['jane@acme.com'] });
const AccountIds = Type.Array(BodyId('An account of the workspace'), { maxItems: 100, description: 'Accounts the contact belongs to' });

const contactFields = {
  lastName: Type.Optional(Type.String({ maxLength: 100 })),
  phoneNumber: Type.Optional(Type.String({ maxLength: 50 })),
  contactType: Type.Optional(AttributeRef('contact_type')),
  avatarUrl: Type.Optional(Type.String({ format: 'uri', maxLength: 2048 })),
  accountIds: Type.Optional(AccountIds),
  customFieldValues: Type.Optional(CustomFieldValues),
  metadata: Type.Optional(Metadata),
};

export const CreateContactDto = named(
  'CreateContactDto',
  Type.Object({ firstName: Type.String({ minLength: 1, maxLength: 100 }), email: Email, ...contactFields }, { additionalProperties: false }),
);
export type CreateContactInput = Static<typeof CreateContactDto>;

export const UpdateContactDto = named(
  'UpdateContactDto',
  Type.Object(
    {
      firstName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
      email: Type.Optional(Email),
      ...contactFields,
      accountIds: Type.Optional({ ...AccountIds, description: 'Replaces the accounts the contact belongs to' }),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
);
export type UpdateContactInput = Static<typeof UpdateContactDto>;

const ContactAccount = Type.Object({ id: Type.String(), name: Type.String(), primaryDomain: Type.String() });

export const ContactResponseDto = named(
  'ContactResponseDto',
  Type.Object({
    id: Type.String(),
    firstName: Type.String(),
    lastName: NullableString(),
    email: Type.String(),
    phoneNumber: NullableString(),
    avatarUrl: NullableString(),
    accounts: Type.Array(ContactAccount),
    contactTypeId: NullableString(),
    contactType: NullableString(),
    contactTypeConfiguration: NullableConfiguration,
    customFieldValues: CustomFieldValues,
    metadata: ResponseMetadata,
    createdAt: Type.String(),
    updatedAt: Type.String(),
  }),
);
export type ContactResponse = Static<typeof ContactResponseDto>;

export const ContactListQuery = ThenaListQuery({
  accountId: Type.Optional(Type.String({ maxLength: 100, description: 'Contacts of this account' })),
  contactType: Type.Optional(Type.String({ maxLength: 100, description: 'A contact_type id or value' })),
});
export type ContactListQueryValue = Static<typeof ContactListQuery>;

export const SearchContactsQuery = Type.Object(
  {
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: 'Part of the email address' })),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Part of the name or the email address' })),
  },
  { additionalProperties: false },
);

export const FilterContactsByIdsDto = named(
  'FilterContactsByIdsDto',
  Type.Object({ ids: Type.Array(Type.String({ maxLength: 100 }), { minItems: 1, maxItems: 500 }) }, { additionalProperties: false }),
);

export const BulkCreateContactsDto = named(
  'BulkCreateContactsDto',
  Type.Object(
    {
      contacts: Type.Array(CreateContactDto, { minItems: 1, maxItems: 1000 }),
      accountIds: Type.Optional({ ...AccountIds, description: 'Accounts every contact of the request belongs to' }),
      contactType: Type.Optional({ ...AttributeRef('contact_type'), description: 'The contact type of contacts that name none' }),
    },
    { additionalProperties: false },
  ),
);
export type BulkCreateContactsInput = Static<typeof BulkCreateContactsDto>;

export const IngestUserDto = named(
  'IngestUserDto',
  Type.Object(
    {
      email: Email,
      firstName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
      lastName: Type.Optional(Type.String({ maxLength: 100 })),
      name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Full name, split when firstName is absent' })),
      phoneNumber: Type.Optional(Type.String({ maxLength: 50 })),
      avatarUrl: Type.Optional(Type.String({ format: 'uri', maxLength: 2048 })),
      metadata: Type.Optional(Metadata),
    },
    { additionalProperties: false },
  ),
);
export type IngestUserInput = Static<typeof IngestUserDto>;

export const IngestContactsDto = named(
  'IngestContactsDto',
  Type.Object(
    {
      users: Type.Array(IngestUserDto, { minItems: 1, maxItems: 1000 }),
      sinkSource: StringEnum(SINK_SOURCES, { description: 'Where the users come from' }),
    },
    { additionalProperties: false },
  ),
);
export type IngestContactsInput = Static<typeof IngestContactsDto>;

export const IngestContactsResponseDto = named(
  'IngestContactsResponseDto',
  Type.Object({
    statusCode: Type.Integer({ examples: [201] }),
    message: Type.String({ examples: ['Contacts ingested successfully'] }),
    data: Type.Object({
      total: Type.Integer({ description: 'Users in the request (each email once)' }),
      created: Type.Integer({ description: 'Contacts created' }),
      updated: Type.Integer({ description: 'Existing contacts completed or linked' }),
      accountsCreated: Type.Integer({ description: 'Accounts created for new email domains' }),
      contacts: Type.Array(ContactResponseDto),
    }),
  }),
);

export const ContactParams = Type.Object({ contactId: Type.String({ maxLength: 100 }) });
