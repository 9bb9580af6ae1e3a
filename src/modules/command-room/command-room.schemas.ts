import { Type, type Static } from 'typebox';
import { DEFAULT_PER_PAGE, MAX_PER_PAGE } from '../../http/pagination.js';
import { Body, Envelope, NullableInteger, NullableString, NullableTimestamp, StringEnum, Timestamp, Uuid, named } from '../../http/schemas.js';
import { UserLeaf } from '../users/user.shape.js';
import { TASK_LINK_TYPES, TASK_STATUSES } from './command-room.table.js';

export const MAX_TITLE = 255;
export const MAX_DESCRIPTION = 10_000;
/** Positions past either end are clamped; this only bounds the number. */
const MAX_POSITION = 1_000_000_000;

export const TaskStatusSchema = StringEnum(TASK_STATUSES, {
  description: 'The board column. A task that follows a run gets it from the run (see docs/command-room.md).',
});
export const TaskLinkTypeSchema = StringEnum(TASK_LINK_TYPES);

export const CommandRoomTaskLink = Type.Object(
  {
    type: TaskLinkTypeSchema,
    uuid: Uuid,
    name: NullableString({
      description: 'The linked agent’s, thread’s or workflow’s name (an execution’s: its workflow’s). null for a private item the caller may not see.',
    }),
    status: NullableString({
      description: 'Status of the execution or run the task follows now (an execution’s: queued…canceled; a run’s: running, completed…); null before one started or when hidden.',
    }),
  },
  { description: 'What the task follows.' },
);

export const CommandRoomTask = named(
  'CommandRoomTask',
  Type.Object(
    {
      uuid: Uuid,
      title: Type.String({ examples: ['Ship the onboarding flow'] }),
      description: NullableString(),
      status: TaskStatusSchema,
      position: Type.Integer({ minimum: 0, description: 'Place in its status column, 0 first; the positions of a column are always 0..n-1.' }),
      progress: NullableInteger({ minimum: 0, maximum: 100, description: 'Percent done of the followed run; null while nothing is followed.' }),
      assignee: Type.Union([UserLeaf, Type.Null()]),
      due_at: NullableTimestamp,
      link: Type.Union([CommandRoomTaskLink, Type.Null()]),
      created_at: Timestamp,
      updated_at: Timestamp,
    },
    { description: 'A task on the workspace’s command room board.' },
  ),
);
export type CommandRoomTaskResource = Static<typeof CommandRoomTask>;

export const CommandRoomTaskEnvelope = Envelope(CommandRoomTask);

const LinkInput = Body({ type: TaskLinkTypeSchema, uuid: Uuid });

export const CreateTaskBody = Body({
  title: Type.String({ minLength: 1, maxLength: MAX_TITLE }),
  description: Type.Optional(NullableString({ maxLength: MAX_DESCRIPTION })),
  status: Type.Optional(TaskStatusSchema),
  position: Type.Optional(
    Type.Integer({ minimum: -MAX_POSITION, maximum: MAX_POSITION, description: 'Default: the end of the column. Clamped to 0..n.' }),
  ),
  assignee_id: Type.Optional(NullableInteger({ description: 'A member of the workspace.' })),
  due_at: Type.Optional(NullableString({ format: 'date-time' })),
  link: Type.Optional(
    Type.Union([LinkInput, Type.Null()], {
      description: 'An agent, thread, workflow or execution of the workspace that the caller can see; the task follows its runs.',
    }),
  ),
});
export type CreateTaskInput = Static<typeof CreateTaskBody>;

export const UpdateTaskBody = Body({
  title: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_TITLE })),
  description: Type.Optional(NullableString({ maxLength: MAX_DESCRIPTION })),
  status: Type.Optional(TaskStatusSchema),
  position: Type.Optional(
    Type.Integer({ minimum: -MAX_POSITION, maximum: MAX_POSITION, description: 'In the (new) column; clamped to 0..n-1.' }),
  ),
  assignee_id: Type.Optional(NullableInteger()),
  due_at: Type.Optional(NullableString({ format: 'date-time' })),
  link: Type.Optional(Type.Union([LinkInput, Type.Null()])),
});
export type UpdateTaskInput = Static<typeof UpdateTaskBody>;

export const TaskParams = Type.Object({ task_uuid: Type.String({ maxLength: 64 }) });

export const TaskListQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
  per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PER_PAGE, default: DEFAULT_PER_PAGE })),
  search: Type.Optional(Type.String({ maxLength: 255, description: 'Matches title and description.' })),
  filter: Type.Optional(
    Type.Object(
      {
        status: Type.Optional(TaskStatusSchema),
        assignee_id: Type.Optional(Type.Integer()),
        link_type: Type.Optional(TaskLinkTypeSchema),
      },
      { additionalProperties: false },
    ),
  ),
});
export type TaskListQueryValues = Static<typeof TaskListQuery>;

export const StreamQuery = Type.Object({
  last_event_id: Type.Optional(Type.String({ maxLength: 20, description: 'As the `Last-Event-ID` header, for EventSource clients that cannot send it.' })),
});
