import { Type, type Static } from 'typebox';
import { named, NullableString } from '../../http/schemas.js';
import { ThenaListQuery } from '../../http/thena.js';
import { AttributeRef, BodyId, ResponseMetadata } from './records.js';
import { AttachmentDto, AttachmentUrls, Metadata, NullableConfiguration } from './records.js';

const DueDate = { format: 'date-time', description: 'When the task is due', examples: ['2024-02-01T17:00:00.000Z'] };

const taskFields = {
  description: Type.Optional(Type.String({ maxLength: 10_000 })),
  type: Type.Optional(AttributeRef('task_type')),
  status: Type.Optional(AttributeRef('task_status')),
  priority: Type.Optional(AttributeRef('task_priority')),
  attachmentUrls: Type.Optional(AttachmentUrls),
  metadata: Type.Optional(Metadata),
};

const Title = Type.String({ minLength: 1, maxLength: 255 });

export const CreateTaskDto = named(
  'CreateTaskDto',
  Type.Object(
    {
      accountId: BodyId('The account the task belongs to'),
      title: Title,
      assigneeId: Type.Optional(Type.String({ maxLength: 20, description: 'A workspace member’s user id' })),
      activityId: Type.Optional(BodyId('An activity of the same account')),
      dueDate: Type.Optional(Type.String(DueDate)),
      ...taskFields,
    },
    { additionalProperties: false },
  ),
);
export type CreateTaskInput = Static<typeof CreateTaskDto>;

export const UpdateTaskDto = named(
  'UpdateTaskDto',
  Type.Object(
    {
      title: Type.Optional(Title),
      assigneeId: Type.Optional(NullableString({ maxLength: 20, description: 'A workspace member’s user id; null unassigns' })),
      activityId: Type.Optional(NullableString({ minLength: 1, maxLength: 100, description: 'An activity of the same account; null unlinks' })),
      dueDate: Type.Optional(NullableString({ ...DueDate, description: 'When the task is due; null clears it' })),
      ...taskFields,
      attachmentUrls: Type.Optional({ ...AttachmentUrls, description: 'Replaces the attachments: URLs already attached keep their ids' }),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
);
export type UpdateTaskInput = Static<typeof UpdateTaskDto>;

export const TaskResponseDto = named(
  'TaskResponseDto',
  Type.Object({
    id: Type.String(),
    accountId: Type.String(),
    account: NullableString({ description: 'The account’s name' }),
    title: Type.String(),
    description: NullableString(),
    activityId: NullableString(),
    typeId: NullableString(),
    type: NullableString(),
    typeConfiguration: NullableConfiguration,
    statusId: NullableString(),
    status: NullableString(),
    statusConfiguration: NullableConfiguration,
    isClosed: Type.Boolean({ description: 'Whether the status is a closed one (its configuration’s isClosed)' }),
    priorityId: NullableString(),
    priority: NullableString(),
    priorityConfiguration: NullableConfiguration,
    dueDate: NullableString(),
    creatorId: NullableString(),
    creator: NullableString({ description: 'The creator’s name' }),
    creatorEmail: NullableString(),
    assigneeId: NullableString(),
    assignee: NullableString({ description: 'The assignee’s name' }),
    assigneeEmail: NullableString(),
    attachments: Type.Array(AttachmentDto),
    metadata: ResponseMetadata,
    createdAt: Type.String(),
    updatedAt: Type.String(),
  }),
);
export type TaskResponse = Static<typeof TaskResponseDto>;

export const TaskListQuery = ThenaListQuery({
  accountId: Type.Optional(Type.String({ maxLength: 100, description: 'The account whose tasks to list (the whole workspace when omitted)' })),
  taskId: Type.Optional(Type.String({ maxLength: 100, description: 'One task: the list holds it alone' })),
  assigneeId: Type.Optional(Type.String({ maxLength: 20, description: 'Tasks assigned to this user' })),
  status: Type.Optional(Type.String({ maxLength: 100, description: 'A task_status id or value' })),
  priority: Type.Optional(Type.String({ maxLength: 100, description: 'A task_priority id or value' })),
});
export type TaskListQueryValue = Static<typeof TaskListQuery>;

export const TaskParams = Type.Object({ taskId: Type.String({ maxLength: 100 }) });
export const TaskAttachmentParams = Type.Object({ taskId: Type.String({ maxLength: 100 }), attachmentId: Type.String({ maxLength: 100 }) });
