import { Type, type Static } from 'typebox';
import { ListQuery } from '../../http/pagination.js';
import { NullableInteger, NullableString, NullableTimestamp, StringEnum, Timestamp, Uuid, named } from '../../http/schemas.js';
import { EXECUTION_STATUSES, EXECUTION_TRIGGERS } from './executions.table.js';

export const ExecutionError = Type.Union([
  Type.Object({
    message: Type.String(),
    kind: Type.String({ description: '`node` (the node’s own failure), `expression`, `sandbox`, `limit`, `canceled`, `internal`.' }),
    node_id: NullableString({ description: 'The node that failed.' }),
    details: Type.Optional(Type.Unknown()),
  }),
  Type.Null(),
]);

/** One execution, without its per-node data (lists). */
const executionFields = {
  uuid: Uuid,
  workflow_uuid: Uuid,
  workflow: Type.Object({ uuid: Uuid, name: Type.String() }, { description: 'The workflow (its current name; `data.workflow_data` has the version the execution ran).' }),
  status: StringEnum(EXECUTION_STATUSES, {
    description: '`queued`, `running`, `waiting` (on a wait node), `succeeded`, `failed`, `canceled`.',
  }),
  trigger: StringEnum(EXECUTION_TRIGGERS),
  trigger_node_id: Type.String(),
  workflow_version: Type.Integer({ description: 'The workflow version the execution runs.' }),
  node_runs: Type.Integer({ minimum: 0 }),
  error: ExecutionError,
  output: Type.Unknown({ description: 'The last node’s output (null until the execution ends; large outputs: see `data`).' }),
  retry_of_uuid: NullableString({ format: 'uuid' }),
  parent_execution_uuid: NullableString({ format: 'uuid', description: 'The execution that started this one (sub-workflow, error workflow).' }),
  wake_at: NullableTimestamp,
  started_at: NullableTimestamp,
  finished_at: NullableTimestamp,
  duration_ms: NullableInteger(),
  user_id: NullableInteger(),
  created_at: Timestamp,
  updated_at: Timestamp,
};

export const WorkflowExecutionDataWorkflowData = named(
  'WorkflowExecutionDataWorkflowData',
  Type.Object(
    {
      name: Type.String(),
      version: Type.Integer(),
      nodes: Type.Array(Type.Unknown()),
      edges: Type.Array(Type.Unknown()),
      variables: Type.Array(Type.Object({ name: Type.String(), secret: Type.Boolean(), value: Type.Unknown({ description: '"********" for a secret.' }) })),
      settings: Type.Unknown(),
    },
    { description: 'The graph as the execution ran it.' },
  ),
);

export const NodeRunData = Type.Object({
  seq: Type.Integer({ description: 'Order of the run within the execution (a node in a loop runs several times).' }),
  node_id: Type.String(),
  node_type: Type.String(),
  node_name: NullableString(),
  status: StringEnum(['succeeded', 'failed'] as const),
  input: Type.Unknown(),
  output: Type.Unknown(),
  /** Set when input or output was larger than the per-node cap and is kept in a file. */
  data_file_bytes: NullableInteger({ description: 'Size of input/output kept in a file (larger than the per-node cap): fetch them from `data_url`.' }),
  data_url: NullableString({ description: 'Where the full input and output of this run can be read.' }),
  handle: NullableString({ description: 'The output handle the run left by.' }),
  error: Type.Union([Type.Object({ message: Type.String(), kind: Type.String(), details: Type.Optional(Type.Unknown()) }), Type.Null()]),
  attempts: Type.Integer(),
  started_at: Timestamp,
  finished_at: Timestamp,
  duration_ms: Type.Integer(),
});

export const WorkflowExecutionData = named(
  'WorkflowExecutionData',
  Type.Object({
    workflow_data: WorkflowExecutionDataWorkflowData,
    trigger_data: Type.Unknown({ description: 'What started the execution (for a webhook: body, query, headers, method).' }),
    nodes: Type.Array(NodeRunData, { description: 'Each node run in order, with its input, output, error, attempts and timing.' }),
    response: Type.Unknown({ description: 'What a respond node answered, if any.' }),
  }),
);

export const WorkflowExecution = named('WorkflowExecution', Type.Object(executionFields));
export type WorkflowExecutionResource = Static<typeof WorkflowExecution>;

export const WorkflowExecutionWithData = Type.Object({ ...executionFields, data: WorkflowExecutionData });

export const ExecutionParams = Type.Object({ execution_uuid: Uuid });

export const ExecutionListQuery = ListQuery(['created_at', 'started_at', 'finished_at'], {
  workflow_uuid: Type.Optional(Uuid),
  status: Type.Optional(StringEnum(EXECUTION_STATUSES)),
  trigger: Type.Optional(StringEnum(EXECUTION_TRIGGERS)),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Created at or after.' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Created before.' })),
});

export const ExecutionCountsQuery = Type.Object({
  workflow_uuid: Type.Optional(Uuid),
  by: Type.Optional(StringEnum(['status', 'workflow'] as const, { default: 'status' })),
  from: Type.Optional(Type.String({ format: 'date-time' })),
  to: Type.Optional(Type.String({ format: 'date-time' })),
});

const statusCounts = Type.Object(Object.fromEntries(EXECUTION_STATUSES.map((status) => [status, Type.Integer()])) as Record<(typeof EXECUTION_STATUSES)[number], ReturnType<typeof Type.Integer>>);

export const ExecutionCounts = Type.Object({
  total: Type.Integer(),
  by_status: statusCounts,
  by_workflow: Type.Optional(Type.Array(Type.Object({ workflow_uuid: Uuid, total: Type.Integer(), by_status: statusCounts }))),
});

export const ExecuteBody = Type.Object(
  {
    input: Type.Optional(Type.Unknown({ description: 'The trigger data: what the trigger node outputs.' })),
    trigger_node_id: Type.Optional(Type.String({ maxLength: 64, description: 'Start at this trigger node (default: the first manual trigger, else the first trigger).' })),
    wait: Type.Optional(Type.Boolean({ description: 'Wait for the end (up to the webhook timeout) and answer with the execution; default false: 202 at once.' })),
  },
  { additionalProperties: false },
);

export const ResumeBody = Type.Object({ data: Type.Optional(Type.Unknown({ description: 'Becomes the wait node’s output.' })) }, { additionalProperties: false });
