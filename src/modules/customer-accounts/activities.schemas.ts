import { Type, type Static } from 'typebox';
import { named, NullableInteger, NullableString } from '../../http/schemas.js';
import { ThenaListQuery } from '../../http/thena.js';
import { AttachmentDto, AttachmentUrls, AttributeRef, BodyId, Metadata, NullableConfiguration, ResponseMetadata } from './records.js';

const activityFields = {
  activityTimestamp: Type.Optional(Type.String({ format: 'date-time', description: 'When the activity happened or will happen', examples: ['2024-01-15T10:30:00.000Z'] })),
  duration: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Minutes' })),
  location: Type.Optional(Type.String({ maxLength: 500 })),
  title: Type.Optional(Type.String({ maxLength: 255 })),
  description: Type.Optional(Type.String({ maxLength: 10_000 })),
  type: Type.Optional(AttributeRef('activity_type')),
  status: Type.Optional(AttributeRef('activity_status')),
  participants: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 200, description: 'Who took part (emails, names)' })),
  attachmentUrls: Type.Optional(AttachmentUrls),
  metadata: Type.Optional(Metadata),
};

export const CreateActivityDto = named(
  'CreateActivityDto',
  Type.Object({ accountId: BodyId('The account the activity belongs to'), ...activityFields }, { additionalProperties: false }),
);
export type CreateActivityInput = Static<typeof CreateActivityDto>;

export const UpdateActivityDto = named(
  'UpdateActivityDto',
  Type.Object(
    {
      ...activityFields,
      attachmentUrls: Type.Optional({ ...AttachmentUrls, description: 'Replaces the attachments: URLs already attached keep their ids' }),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
);
export type UpdateActivityInput = Static<typeof UpdateActivityDto>;

export const ActivityResponseDto = named(
  'ActivityResponseDto',
  Type.Object({
    id: Type.String(),
    accountId: Type.String(),
    account: NullableString({ description: 'The account’s name' }),
    activityTimestamp: NullableString(),
    duration: NullableInteger({ description: 'Minutes' }),
    location: NullableString(),
    title: NullableString(),
    description: NullableString(),
    typeId: NullableString(),
    type: NullableString(),
    typeConfiguration: NullableConfiguration,
    statusId: NullableString(),
    status: NullableString(),
    statusConfiguration: NullableConfiguration,
    participants: Type.Array(Type.String()),
    creatorId: NullableString(),
    creator: NullableString({ description: 'The creator’s name' }),
    creatorEmail: NullableString(),
    attachments: Type.Array(AttachmentDto),
    metadata: ResponseMetadata,
    createdAt: Type.String(),
    updatedAt: Type.String(),
  }),
);
export type ActivityResponse = Static<typeof ActivityResponseDto>;

export const ActivityListQuery = ThenaListQuery({
  accountId: Type.Optional(Type.String({ maxLength: 100, description: 'The account whose activities to list (the whole workspace when omitted)' })),
  activityId: Type.Optional(Type.String({ maxLength: 100, description: 'One activity: the list holds it alone' })),
});
export type ActivityListQueryValue = Static<typeof ActivityListQuery>;

export const ActivityParams = Type.Object({ activityId: Type.String({ maxLength: 100 }) });
export const ActivityAttachmentParams = Type.Object({ activityId: Type.String({ maxLength: 100 }), attachmentId: Type.String({ maxLength: 100 }) });
