import { Type, type Static } from 'typebox';
import { ListQuery } from '../../http/pagination.js';
import {
  Body,
  Envelope,
  NullableInteger,
  NullableNumber,
  NullableString,
  PaginationLinks,
  PaginationMeta,
  StringEnum,
  Timestamp,
  Uuid,
  named,
} from '../../http/schemas.js';
import { ProfilePhotoConfig } from '../providers/providers.schemas.js';
import { UserLeaf } from '../users/user.shape.js';
import { AGENT_VISIBILITIES } from './agents.table.js';

/** The most tools one agent may list. */
export const MAX_AGENT_TOOLS = 64;
/** Steps of the tool loop when an agent does not say (capped by ATHENA_AGENT_MAX_STEPS). */
export const DEFAULT_MAX_STEPS = 8;
export const DEFAULT_RETRIEVE_LIMIT = 5;

export const AgentVisibilitySchema = StringEnum(AGENT_VISIBILITIES, {
  description:
    '`private`: its creator (and the workspace’s admins and owners); `workspace`: members may run it (viewers see it); `public`: every signed-in user may run it.',
});

export const AgentPermissionSchema = StringEnum(['view', 'run', 'edit', 'owner'] as const, {
  description: 'What the caller may do with the agent: `view` < `run` < `edit` < `owner` (its creator).',
});

const Metadata = Type.Record(Type.String(), Type.Unknown(), { maxProperties: 100, description: 'Free-form key/value pairs.' });

const MemorySettings = Type.Object({
  enabled: Type.Boolean({ description: 'Whether runs retrieve the agent’s memories into the conversation.' }),
  retrieve_limit: Type.Integer({ minimum: 1, maximum: 50, description: 'How many memories a run retrieves at most.' }),
});

const RunSettings = Type.Object({
  temperature: NullableNumber({ minimum: 0, maximum: 2, description: 'null: the model’s default.' }),
  max_tokens: NullableInteger({ minimum: 1, description: 'Output tokens per model call; null: the model’s default.' }),
  max_steps: Type.Integer({ minimum: 1, description: 'Model calls of one run’s tool loop, at most ATHENA_AGENT_MAX_STEPS.' }),
});

/** An agent nested in another resource (a thread, the leaderboard): its relations left out. */
export const AgentLeaf = Type.Object({
  uuid: Uuid,
  name: Type.String({ examples: ['Support Agent'] }),
  description: NullableString(),
  profile_photo_url: NullableString({ format: 'uri' }),
  profile_photo_config: ProfilePhotoConfig,
  visibility: AgentVisibilitySchema,
});
export type AgentLeafResource = Static<typeof AgentLeaf>;

export const Agent = named(
  'Agent',
  Type.Object({
    uuid: Uuid,
    name: Type.String({ examples: ['Support Agent'] }),
    description: NullableString({ examples: ['Answers customers about orders and refunds.'] }),
    instructions: Type.String({ description: 'The system prompt of every run.', examples: ['You are a friendly support agent…'] }),
    llm_uuid: NullableString({ format: 'uuid', description: 'The catalog model runs use by default.' }),
    account_uuid: NullableString({ format: 'uuid', description: 'The connected account whose credentials runs use by default.' }),
    tools: Type.Array(Uuid, { description: 'Tool uuids, in the order the model sees them.' }),
    memory: MemorySettings,
    settings: RunSettings,
    profile_photo_url: NullableString({ format: 'uri' }),
    profile_photo_config: ProfilePhotoConfig,
    visibility: AgentVisibilitySchema,
    metadata: Metadata,
    workspace_uuid: Uuid,
    is_owner: Type.Boolean({ description: 'Whether the caller created this agent.' }),
    permission: AgentPermissionSchema,
    user: Type.Union([UserLeaf, Type.Null()], { description: 'Its creator; null once that user is deleted.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
);
export type AgentResource = Static<typeof Agent>;

const Name = Type.String({ minLength: 1, maxLength: 255 });
const Description = NullableString({ maxLength: 2000 });
const Instructions = Type.String({ maxLength: 100_000 });
const ToolIds = Type.Array(Uuid, { maxItems: MAX_AGENT_TOOLS });
const PhotoUrl = NullableString({ format: 'uri', maxLength: 2048 });

const MemoryInput = Body({
  enabled: Type.Optional(Type.Boolean()),
  retrieve_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
});

const SettingsInput = Body({
  temperature: Type.Optional(NullableNumber({ minimum: 0, maximum: 2 })),
  max_tokens: Type.Optional(NullableInteger({ minimum: 1, maximum: 1_000_000 })),
  // The instance's ATHENA_AGENT_MAX_STEPS is checked by the service (the schema is built once).
  max_steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
});

export const CreateAgentBody = Body({
  name: Name,
  description: Type.Optional(Description),
  instructions: Type.Optional(Instructions),
  llm_uuid: Type.Optional(NullableString({ format: 'uuid' })),
  account_uuid: Type.Optional(NullableString({ format: 'uuid' })),
  tools: Type.Optional(ToolIds),
  memory: Type.Optional(MemoryInput),
  settings: Type.Optional(SettingsInput),
  profile_photo_url: Type.Optional(PhotoUrl),
  profile_photo_config: Type.Optional(ProfilePhotoConfig),
  visibility: Type.Optional(AgentVisibilitySchema),
  metadata: Type.Optional(Metadata),
});
export type CreateAgentInput = Static<typeof CreateAgentBody>;

/** Fields left out keep their value; `memory` and `settings` merge key by key. */
export const UpdateAgentBody = Body({
  name: Type.Optional(Name),
  description: Type.Optional(Description),
  instructions: Type.Optional(Instructions),
  llm_uuid: Type.Optional(NullableString({ format: 'uuid' })),
  account_uuid: Type.Optional(NullableString({ format: 'uuid' })),
  tools: Type.Optional(ToolIds),
  memory: Type.Optional(MemoryInput),
  settings: Type.Optional(SettingsInput),
  profile_photo_url: Type.Optional(PhotoUrl),
  profile_photo_config: Type.Optional(ProfilePhotoConfig),
  visibility: Type.Optional(AgentVisibilitySchema),
  metadata: Type.Optional(Metadata),
});
export type UpdateAgentInput = Static<typeof UpdateAgentBody>;

export const AgentParams = Type.Object({ agent_uuid: Uuid });
export const AgentShareParams = Type.Object({ agent_uuid: Uuid, share_uuid: Uuid });

export const AGENT_SOURCES = ['workspace', 'shared', 'public'] as const;
export type AgentSource = (typeof AGENT_SOURCES)[number];

export const AgentListQuery = ListQuery(['name', 'created_at', 'updated_at'], {
  visibility: Type.Optional(AgentVisibilitySchema),
  mine: Type.Optional(Type.Boolean({ description: 'Only agents the caller created.' })),
  source: Type.Optional(
    StringEnum(AGENT_SOURCES, {
      description:
        '`workspace`: agents of the acting workspace the caller can see; `shared`: agents of other workspaces shared with the caller or the acting workspace; `public`: public agents of the whole instance. Default: `workspace` and `shared`.',
    }),
  ),
});

export const AgentEnvelope = Envelope(Agent);

// ---- training ----------------------------------------------------------------------------

export const MAX_TRAINING_EXAMPLES = 200;
export const MAX_TRAINING_DOCUMENTS = 50;
export const MAX_DOCUMENT_CHARS = 200_000;

export const TrainAgentBody = Body(
  {
    examples: Type.Optional(
      Type.Array(
        Body({
          input: Type.String({ minLength: 1, maxLength: 20_000 }),
          output: Type.String({ minLength: 1, maxLength: 20_000 }),
        }),
        { maxItems: MAX_TRAINING_EXAMPLES },
      ),
    ),
    documents: Type.Optional(
      Type.Array(
        Body({
          title: Type.Optional(NullableString({ maxLength: 255 })),
          content: Type.String({ minLength: 1, maxLength: MAX_DOCUMENT_CHARS }),
        }),
        { maxItems: MAX_TRAINING_DOCUMENTS },
      ),
    ),
  },
  { description: 'At least one example or document.' },
);
export type TrainAgentInput = Static<typeof TrainAgentBody>;

export const TrainAgentResponse = Type.Object({
  data: Type.Object({
    examples: Type.Integer({ description: 'Examples stored.' }),
    documents: Type.Integer({ description: 'Documents stored.' }),
    chunks: Type.Integer({ description: 'Document chunks stored (one memory each).' }),
    memories: Type.Array(Uuid, { description: 'The memories created, examples first.' }),
  }),
});

// ---- leaderboard -------------------------------------------------------------------------

export const LEADERBOARD_SORTS = ['score', 'runs', 'success_rate', 'feedback_score', 'latency', 'tokens', 'cost'] as const;
export type LeaderboardSortField = (typeof LEADERBOARD_SORTS)[number];

export const LEADERBOARD_FORMULA =
  'score = 100 × (0.5 × success_rate + 0.3 × feedback_lower_bound + 0.2 × min(1, log10(1 + runs) / 3)), where feedback_lower_bound is the Wilson score lower bound (z = 1.96) of up / (up + down), 0.5 without feedback';

/** A date (`2025-01-31`) or an RFC 3339 date-time; checked by the service, which words the 422. */
const isoDate = (description: string) => Type.String({ maxLength: 40, description, examples: ['2025-01-01'] });

export const LeaderboardQuery = Type.Object({
  from: Type.Optional(isoDate('Start of the period (inclusive), a date or a date-time. Default: 30 days before `to`.')),
  to: Type.Optional(isoDate('End of the period (exclusive; a date alone counts the whole day). Default: now.')),
  sort: Type.Optional(
    StringEnum(
      LEADERBOARD_SORTS.flatMap((f) => [f, `-${f}`]),
      { description: '`field` ascending, `-field` descending; default `-score`. Agents without a value (no feedback) come last.' },
    ),
  ),
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
  per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 15 })),
});

export const AgentLeaderboardEntry = named(
  'AgentLeaderboardEntry',
  Type.Object({
    rank: Type.Integer({ minimum: 1, description: 'Position by score (ties: more runs first, then the older agent).' }),
    agent: AgentLeaf,
    runs: Type.Integer({ description: 'Finished runs in the period (runs still in progress are not counted).' }),
    completed: Type.Integer(),
    failed: Type.Integer({ description: 'Failed, incomplete and cancelled runs.' }),
    success_rate: Type.Number({ minimum: 0, maximum: 1, description: 'completed / runs.' }),
    feedback_up: Type.Integer(),
    feedback_down: Type.Integer(),
    feedback_score: NullableNumber({ minimum: -1, maximum: 1, description: '(up − down) / (up + down); null without feedback.' }),
    avg_latency_ms: NullableInteger({ description: 'Mean run latency; null when no run recorded one.' }),
    input_tokens: Type.Integer(),
    output_tokens: Type.Integer(),
    total_tokens: Type.Integer(),
    cost: Type.Number({ description: 'Sum of the runs’ costs, in the catalog prices’ currency (USD).' }),
    score: Type.Number({ minimum: 0, maximum: 100, description: LEADERBOARD_FORMULA }),
  }),
);
export type AgentLeaderboardEntryResource = Static<typeof AgentLeaderboardEntry>;

export const AgentLeaderboard = named(
  'AgentLeaderboard',
  Type.Object(
    {
      data: Type.Array(AgentLeaderboardEntry),
      links: PaginationLinks,
      meta: Type.Object({
        ...PaginationMeta.properties,
        period: Type.Object({ from: Timestamp, to: Timestamp }, { description: 'The period counted: [from, to).' }),
        sort: Type.String({ examples: ['-score'] }),
        formula: Type.String({ examples: [LEADERBOARD_FORMULA] }),
      }),
    },
    {
      description: `Agents the caller can see, ranked over a period by their runs and message feedback in the acting workspace. ${LEADERBOARD_FORMULA}.`,
    },
  ),
);
