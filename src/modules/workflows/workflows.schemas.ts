import { Type, type Static } from 'typebox';
import { MAX_ATTEMPTS, MAX_RETRY_DELAY_MS } from '../../engine/graph/index.js';
import { NODE_CATEGORIES } from '../../engine/node-type.js';
import { ON_ERROR_POLICIES } from '../../engine/types.js';
import { ListQuery } from '../../http/pagination.js';
import {
  Body,
  Envelope,
  NullableInteger,
  NullableString,
  NullableTimestamp,
  StringEnum,
  Timestamp,
  Uuid,
  named,
} from '../../http/schemas.js';
import { UserLeaf } from '../users/user.shape.js';
import { WorkspaceLeaf } from '../workspaces/workspace.shape.js';
import { WORKFLOW_VISIBILITIES } from './workflows.table.js';

export const MAX_NODES = 500;
export const MAX_EDGES = 2000;
export const MAX_VARIABLES = 100;
export const MAX_NODE_RUNS_LIMIT = 100_000;
/** Used when neither the workflow nor the instance says. */
export const FALLBACK_MAX_NODE_RUNS = 1000;
export const MIN_WEBHOOK_TIMEOUT_MS = 1000;
export const MAX_WEBHOOK_TIMEOUT_MS = 300_000;
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 30_000;
export const MAX_RETENTION_DAYS = 36_500;
export const MAX_RETENTION_COUNT = 100_000_000;

const ID_PATTERN = '^[A-Za-z0-9_-]+$';
const NodeId = Type.String({ minLength: 1, maxLength: 64, pattern: ID_PATTERN, examples: ['http_1'] });
const EdgeId = Type.String({ minLength: 1, maxLength: 128, pattern: ID_PATTERN, examples: ['webhook_1-http_1'] });
const Handle = NullableString({ minLength: 1, maxLength: 64, pattern: ID_PATTERN, description: 'null: `main`.' });

export const WorkflowVisibilitySchema = StringEnum(WORKFLOW_VISIBILITIES, {
  description:
    '`private`: its creator (and the workspace’s admins and owners); `workspace`: members may run it (viewers see it); `public`: every signed-in user may run it.',
});

export const WorkflowPermissionSchema = StringEnum(['view', 'run', 'edit', 'owner'] as const, {
  description: 'What the caller may do with the workflow: `view` < `run` < `edit` < `owner` (its creator).',
});

const Position = Type.Object({ x: Type.Number(), y: Type.Number() }, { description: 'Where the editor draws the node.' });

const RetryPolicy = Type.Object(
  {
    max_attempts: Type.Integer({ minimum: 1, maximum: MAX_ATTEMPTS, description: 'Attempts in all, the first included.' }),
    delay_ms: Type.Integer({ minimum: 0, maximum: MAX_RETRY_DELAY_MS, description: 'Wait before the second attempt.' }),
    backoff: StringEnum(['fixed', 'exponential'] as const, { description: '`exponential` doubles the wait per attempt.' }),
  },
  { additionalProperties: false },
);

const OnError = StringEnum(ON_ERROR_POLICIES, {
  description:
    'After the node fails (and its retries): `stop` fails the execution; `continue` goes on by the usual handle with `{error}` as output; `error_output` leaves by the `error` handle.',
});

const Parameters = Type.Record(Type.String(), Type.Unknown(), {
  description: 'As the node type’s parameter schema says (`GET /api/v1/workflow-nodes`); strings may hold `{{ }}` expressions.',
});

export const Node = named(
  'Node',
  Type.Object(
    {
      id: NodeId,
      type: Type.String({ examples: ['http_request'], description: 'A type of the node catalog.' }),
      name: Type.String({ examples: ['Fetch orders'] }),
      position: Position,
      parameters: Parameters,
      retry: Type.Union([RetryPolicy, Type.Null()], { description: 'null: one attempt.' }),
      on_error: OnError,
      disabled: Type.Boolean({ description: 'A disabled node passes its input through unchanged.' }),
      notes: NullableString(),
    },
    { description: 'One step of a workflow.' },
  ),
);
export type NodeResource = Static<typeof Node>;

export const Edge = named(
  'Edge',
  Type.Object(
    {
      id: EdgeId,
      source: NodeId,
      target: NodeId,
      source_handle: Handle,
      target_handle: Handle,
    },
    { description: 'A connection from one node’s output handle to another node.' },
  ),
);
export type EdgeResource = Static<typeof Edge>;

const NodeInput = Body({
  id: NodeId,
  type: Type.String({ minLength: 1, maxLength: 64 }),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Default: the node type’s label.' })),
  position: Type.Optional(Position),
  parameters: Type.Optional(Parameters),
  retry: Type.Optional(Type.Union([RetryPolicy, Type.Null()])),
  on_error: Type.Optional(OnError),
  disabled: Type.Optional(Type.Boolean()),
  notes: Type.Optional(NullableString({ maxLength: 10_000 })),
});
export type NodeInputValue = Static<typeof NodeInput>;

const EdgeInput = Body({
  id: EdgeId,
  source: NodeId,
  target: NodeId,
  source_handle: Type.Optional(Handle),
  target_handle: Type.Optional(Handle),
});
export type EdgeInputValue = Static<typeof EdgeInput>;

const VariableName = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
  description: 'What expressions call it: `vars.<name>`.',
  examples: ['api_base_url'],
});

const Variable = Type.Object({
  name: VariableName,
  value: Type.Unknown({ description: 'Any JSON value; for a secret, `"********"` when set and null when not.' }),
  secret: Type.Boolean({ description: 'Encrypted at rest, write-only, and masked in execution data.' }),
});

const VariableInput = Body({
  name: VariableName,
  value: Type.Optional(Type.Unknown({ description: 'Default null. For a secret, `"********"` keeps the stored value.' })),
  secret: Type.Optional(Type.Boolean({ default: false })),
});
export type VariableInputValue = Static<typeof VariableInput>;

const Retention = Type.Object({
  max_age_days: NullableInteger({ minimum: 1, maximum: MAX_RETENTION_DAYS, description: 'null: the instance’s retention.' }),
  max_count: NullableInteger({ minimum: 1, maximum: MAX_RETENTION_COUNT, description: 'null: the instance’s retention.' }),
});

const Settings = Type.Object({
  error_workflow_uuid: NullableString({
    format: 'uuid',
    description: 'A workflow of the same workspace that runs when an execution of this one fails.',
  }),
  max_node_runs: Type.Integer({ minimum: 1, maximum: MAX_NODE_RUNS_LIMIT, description: 'Node runs one execution may make (runaway loops).' }),
  webhook_timeout_ms: Type.Integer({
    minimum: MIN_WEBHOOK_TIMEOUT_MS,
    maximum: MAX_WEBHOOK_TIMEOUT_MS,
    description: 'How long a webhook call waits for its answer before a 202 with the execution uuid.',
  }),
  retention: Retention,
});

const SettingsInput = Body({
  error_workflow_uuid: Type.Optional(NullableString({ format: 'uuid' })),
  max_node_runs: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_NODE_RUNS_LIMIT })),
  webhook_timeout_ms: Type.Optional(Type.Integer({ minimum: MIN_WEBHOOK_TIMEOUT_MS, maximum: MAX_WEBHOOK_TIMEOUT_MS })),
  retention: Type.Optional(
    Body({
      max_age_days: Type.Optional(NullableInteger({ minimum: 1, maximum: MAX_RETENTION_DAYS })),
      max_count: Type.Optional(NullableInteger({ minimum: 1, maximum: MAX_RETENTION_COUNT })),
    }),
  ),
});
export type SettingsInputValue = Static<typeof SettingsInput>;

const Trigger = Type.Object(
  {
    node_id: NodeId,
    type: Type.String({ examples: ['webhook'] }),
    method: Type.Optional(Type.String({ description: 'webhook: the HTTP method it answers.' })),
    respond: Type.Optional(Type.String({ description: 'webhook: `immediately`, `last_node` or `respond_node`.' })),
    cron: Type.Optional(Type.String({ description: 'schedule' })),
    timezone: Type.Optional(Type.String({ description: 'schedule' })),
    next_run_at: Type.Optional(NullableTimestamp),
  },
  { description: 'A trigger node, read from the graph.' },
);

export const Workflow = named(
  'Workflow',
  Type.Object({
    uuid: Uuid,
    name: Type.String({ examples: ['Answer support emails'] }),
    description: NullableString(),
    nodes: Type.Array(Node),
    edges: Type.Array(Edge),
    variables: Type.Array(Variable, { description: 'What expressions read as `vars.<name>`.' }),
    triggers: Type.Array(Trigger, {
      description: 'Read-only: the trigger nodes, with each schedule’s next run while the workflow is active (otherwise null).',
    }),
    settings: Settings,
    is_active: Type.Boolean({ description: 'Whether its schedules fire.' }),
    visibility: WorkflowVisibilitySchema,
    version: Type.Integer({ minimum: 1, description: 'Goes up by one on every change.' }),
    webhook_url: NullableString({
      format: 'uri',
      description: 'The URL that triggers its webhook nodes, secret included; only for callers who may edit it (otherwise null).',
    }),
    webhook_secret: NullableString({
      description: 'Authenticates calls to its webhook; only for callers who may edit it (otherwise null). Rotate it with `POST …/webhook-secret`.',
    }),
    is_owner: Type.Boolean({ description: 'Whether the caller created this workflow.' }),
    permission: WorkflowPermissionSchema,
    user: Type.Union([UserLeaf, Type.Null()], { description: 'Its creator; null once that user is deleted.' }),
    workspace: WorkspaceLeaf,
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
);
export type WorkflowResource = Static<typeof Workflow>;

const Name = Type.String({ minLength: 1, maxLength: 255 });
const Description = NullableString({ maxLength: 2000 });
const Nodes = Type.Array(NodeInput, { maxItems: MAX_NODES });
const Edges = Type.Array(EdgeInput, { maxItems: MAX_EDGES });
const Variables = Type.Array(VariableInput, { maxItems: MAX_VARIABLES });

export const CreateWorkflowBody = Body({
  name: Name,
  description: Type.Optional(Description),
  nodes: Type.Optional(Nodes),
  edges: Type.Optional(Edges),
  variables: Type.Optional(Variables),
  settings: Type.Optional(SettingsInput),
  is_active: Type.Optional(Type.Boolean({ default: false })),
  visibility: Type.Optional(WorkflowVisibilitySchema),
});
export type CreateWorkflowInput = Static<typeof CreateWorkflowBody>;

/** Fields left out keep their value; `nodes`, `edges` and `variables` replace whole; `settings` merges key by key. */
export const UpdateWorkflowBody = Body({
  name: Type.Optional(Name),
  description: Type.Optional(Description),
  nodes: Type.Optional(Nodes),
  edges: Type.Optional(Edges),
  variables: Type.Optional(Variables),
  settings: Type.Optional(SettingsInput),
  is_active: Type.Optional(Type.Boolean()),
  visibility: Type.Optional(WorkflowVisibilitySchema),
});
export type UpdateWorkflowInput = Static<typeof UpdateWorkflowBody>;

export const WorkflowParams = Type.Object({ workflow_uuid: Uuid });
export const WorkflowShareParams = Type.Object({ workflow_uuid: Uuid, share_uuid: Uuid });

export const WORKFLOW_SOURCES = ['workspace', 'shared', 'public'] as const;
export type WorkflowSource = (typeof WORKFLOW_SOURCES)[number];

export const WorkflowListQuery = ListQuery(['name', 'created_at', 'updated_at'], {
  visibility: Type.Optional(WorkflowVisibilitySchema),
  is_active: Type.Optional(Type.Boolean()),
  mine: Type.Optional(Type.Boolean({ description: 'Only workflows the caller created.' })),
  source: Type.Optional(
    StringEnum(WORKFLOW_SOURCES, {
      description:
        '`workspace`: workflows of the acting workspace the caller can see; `shared`: workflows of other workspaces shared with the caller or the acting workspace; `public`: public workflows of the whole instance. Default: `workspace` and `shared`.',
    }),
  ),
});

export const WorkflowEnvelope = Envelope(Workflow);

// ---- node catalog ------------------------------------------------------------------------

export const WorkflowNodeType = named(
  'WorkflowNodeType',
  Type.Object({
    type: Type.String({ examples: ['http_request'] }),
    category: StringEnum(NODE_CATEGORIES),
    label: Type.String({ examples: ['HTTP request'] }),
    description: Type.String(),
    parameters: Type.Unsafe<Record<string, unknown>>({
      type: 'object',
      additionalProperties: true,
      description: 'JSON Schema of the node’s `parameters`; a string with `{{ }}` may stand for any value.',
    }),
    outputs: Type.Union([Type.Array(Type.String()), Type.Null()], {
      description: 'The output handles edges may leave by; null when they depend on the parameters (a switch’s cases, then `default`).',
    }),
    joins_inputs: Type.Boolean({ description: 'Waits for every incoming branch that can still arrive (merge).' }),
    allows_cycles: Type.Boolean({ description: 'Edges back into it may close a cycle (loop).' }),
  }),
);
export type WorkflowNodeTypeResource = Static<typeof WorkflowNodeType>;

export const WorkflowNodeCatalog = Type.Object({ data: Type.Array(WorkflowNodeType) });
