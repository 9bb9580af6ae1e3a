import { Type, type Static } from 'typebox';
import { ListQuery } from '../../http/pagination.js';
import { Body, Envelope, NullableString, NullableTimestamp, StringEnum, Timestamp, Uuid, named } from '../../http/schemas.js';
import { AgentLeaf } from '../agents/agents.schemas.js';
import { UserLeaf } from '../users/user.shape.js';
import { THREAD_VISIBILITIES } from './threads.table.js';

export const ThreadVisibilitySchema = StringEnum(THREAD_VISIBILITIES, {
  description: '`private`: its owner only; `workspace`: every member of the workspace may read it (only its owner changes it).',
});

/** Free-form key/value pairs the client keeps on a thread or message; replaced as a whole. */
export const Metadata = Type.Record(Type.String(), Type.Unknown(), { maxProperties: 100, description: 'Free-form key/value pairs.' });

export const Thread = named(
  'Thread',
  Type.Object({
    uuid: Uuid,
    name: NullableString({ examples: ['Refund for order 1042'] }),
    agent_uuid: NullableString({ format: 'uuid' }),
    agent: Type.Union([AgentLeaf, Type.Null()], { description: 'The agent that answers in this thread, if any.' }),
    visibility: ThreadVisibilitySchema,
    metadata: Metadata,
    message_count: Type.Integer({ minimum: 0 }),
    last_message_at: NullableTimestamp,
    active_run_uuid: NullableString({ format: 'uuid', description: 'The run in progress on this thread, if any.' }),
    is_owner: Type.Boolean({ description: 'Whether the caller started this thread.' }),
    user: UserLeaf,
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
);
export type ThreadResource = Static<typeof Thread>;

const Name = NullableString({ minLength: 1, maxLength: 255 });

export const CreateThreadBody = Body({
  agent_uuid: Type.Optional(NullableString({ format: 'uuid' })),
  name: Type.Optional(Name),
  visibility: Type.Optional(ThreadVisibilitySchema),
  metadata: Type.Optional(Metadata),
});
export type CreateThreadInput = Static<typeof CreateThreadBody>;

export const UpdateThreadBody = CreateThreadBody;
export type UpdateThreadInput = Static<typeof UpdateThreadBody>;

export const ThreadParams = Type.Object({ thread_uuid: Uuid });

export const ThreadListQuery = ListQuery(['updated_at', 'created_at', 'last_message_at'], {
  agent: Type.Optional(Uuid),
  visibility: Type.Optional(ThreadVisibilitySchema),
  mine: Type.Optional(Type.Boolean({ description: 'Only the threads the caller started.' })),
});

export const ThreadEnvelope = Envelope(Thread);
