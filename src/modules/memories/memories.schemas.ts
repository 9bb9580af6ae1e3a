import { Type, type Static } from 'typebox';
import { ListQuery } from '../../http/pagination.js';
import { Body, Envelope, NullableNumber, NullableString, NullableTimestamp, StringEnum, Timestamp, Uuid, named } from '../../http/schemas.js';
import { UserLeaf } from '../users/user.shape.js';
import { MEMORY_SOURCES, MEMORY_TYPES } from './memories.table.js';

const MemoryTypeSchema = StringEnum(MEMORY_TYPES, {
  description: '`fact`: something to remember; `example`: an input/output pair shown as a few-shot example; `document`: reference material.',
});
const MemorySourceSchema = StringEnum(MEMORY_SOURCES, {
  description: '`tool`: saved by an agent during a run; `training`: from `POST /agents/{uuid}/train`; `api`: created through this API.',
});
const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'Free-form JSON object.' });

const memoryProperties = {
  uuid: Uuid,
  type: MemoryTypeSchema,
  source: MemorySourceSchema,
  content: Type.String(),
  metadata: Metadata,
  agent_uuid: NullableString({ format: 'uuid' }),
  thread_uuid: NullableString({ format: 'uuid', description: 'The conversation it was saved in, if any.' }),
  user: Type.Union([UserLeaf, Type.Null()], { description: 'Whose memory it is; null: the agent’s own knowledge, used for everyone who runs it.' }),
  has_embedding: Type.Boolean({ description: 'Whether a vector of the workspace’s embedding model is stored.' }),
  created_at: Timestamp,
  updated_at: Timestamp,
};

/** Something an agent remembers: a fact, a few-shot example or a piece of a document. */
export const Memory = named('Memory', Type.Object(memoryProperties));
export type MemoryResource = Static<typeof Memory>;

/** A list item: the memory and, when the list was searched, its rank (higher is better). */
export const MemoryListItem = named(
  'MemoryListItem',
  Type.Object({ ...memoryProperties, score: NullableNumber({ description: 'Full-text rank when `search` was given; null otherwise.' }) }),
);
export type MemoryListItemResource = Static<typeof MemoryListItem>;

export const MemoryEnvelope = Envelope(Memory);
export const MemoryParams = Type.Object({ memory_uuid: Uuid });

export const MemoryListQuery = ListQuery(['created_at', 'updated_at', 'score'], {
  agent: Type.Optional(Uuid),
  thread: Type.Optional(Uuid),
  type: Type.Optional(MemoryTypeSchema),
  source: Type.Optional(MemorySourceSchema),
});

/** Longest memory accepted through the API (training splits documents into smaller pieces). */
export const MAX_MEMORY_LENGTH = 20_000;

export const CreateMemoryBody = Body({
  agent_uuid: Type.Optional(NullableString({ format: 'uuid' })),
  thread_uuid: Type.Optional(NullableString({ format: 'uuid' })),
  content: Type.String({ minLength: 1, maxLength: MAX_MEMORY_LENGTH }),
  type: Type.Optional(MemoryTypeSchema),
  metadata: Type.Optional(Metadata),
});
export type CreateMemoryInput = Static<typeof CreateMemoryBody>;

export const UpdateMemoryBody = Body({
  content: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_MEMORY_LENGTH })),
  type: Type.Optional(MemoryTypeSchema),
  metadata: Type.Optional(Metadata),
});
export type UpdateMemoryInput = Static<typeof UpdateMemoryBody>;

/** The workspace's embedding model: memories are then also found by meaning, not only by words. */
export const WorkspaceAiSettings = named(
  'WorkspaceAiSettings',
  Type.Object({
    workspace_uuid: Uuid,
    embedding_account_uuid: NullableString({ format: 'uuid', description: 'The connected account embedding calls use; null: no embeddings.' }),
    embedding_model: NullableString({ examples: ['text-embedding-3-small'], description: 'The model id at the provider.' }),
    embeddings_enabled: Type.Boolean(),
    updated_at: NullableTimestamp,
  }),
);
export type WorkspaceAiSettingsResource = Static<typeof WorkspaceAiSettings>;
export const WorkspaceAiSettingsEnvelope = Envelope(WorkspaceAiSettings);

export const UpdateWorkspaceAiSettingsBody = Body({
  embedding_account_uuid: Type.Optional(NullableString({ format: 'uuid' })),
  embedding_model: Type.Optional(NullableString({ minLength: 1, maxLength: 255 })),
});
export type UpdateWorkspaceAiSettingsInput = Static<typeof UpdateWorkspaceAiSettingsBody>;

export const WorkspaceParams = Type.Object({ workspace_uuid: Uuid });
