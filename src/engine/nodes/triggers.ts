import { Type } from 'typebox';
import { output, type NodeTypeDefinition } from '../node-type.js';

/** A trigger's output is the data that started the execution. */
const passTrigger = async ({ input }: { input: unknown }) => output(input);

export const manualTrigger: NodeTypeDefinition = {
  type: 'manual',
  category: 'trigger',
  label: 'Manual trigger',
  description: 'Starts the workflow from `execute` (the API, the UI, another workflow). Its output is the input given to execute.',
  parameters: Type.Object({}, { additionalProperties: false }),
  outputs: ['main'],
  run: passTrigger,
};

export const WEBHOOK_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
export const WEBHOOK_RESPOND_MODES = ['immediately', 'last_node', 'respond_node'] as const;

export const webhookTrigger: NodeTypeDefinition = {
  type: 'webhook',
  category: 'trigger',
  label: 'Webhook',
  description:
    'Starts the workflow on a call to its webhook URL (authenticated by the workflow’s webhook secret). Output: `{ body, query, headers, method }`. `respond`: `immediately` (202 with the execution uuid), `last_node` (the last node’s output, when the run ends within the timeout) or `respond_node` (what a respond node answers).',
  parameters: Type.Object(
    {
      method: Type.Optional(Type.Union(WEBHOOK_METHODS.map((method) => Type.Literal(method)), { default: 'POST' })),
      respond: Type.Optional(Type.Union(WEBHOOK_RESPOND_MODES.map((mode) => Type.Literal(mode)), { default: 'last_node' })),
    },
    { additionalProperties: false },
  ),
  outputs: ['main'],
  run: passTrigger,
};

export const scheduleTrigger: NodeTypeDefinition = {
  type: 'schedule',
  category: 'trigger',
  label: 'Schedule',
  description:
    'Starts the workflow on a cron schedule in a time zone while the workflow is active. Output: `{ scheduled_at, cron, timezone }`. Missed times while no process ran are not replayed one by one: the latest missed one fires once.',
  parameters: Type.Object(
    {
      cron: Type.String({ minLength: 1, maxLength: 120, description: '5 fields (minute precision) or 6 (seconds first).' }),
      timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, default: 'UTC', description: 'IANA time zone.' })),
    },
    { additionalProperties: false },
  ),
  outputs: ['main'],
  run: passTrigger,
};

export const agentToolTrigger: NodeTypeDefinition = {
  type: 'agent_tool',
  category: 'trigger',
  label: 'Agent tool call',
  description:
    'Makes the workflow a tool agents can call: `name` and `description` are what the model sees, `input_schema` (JSON Schema of an object) what it must send. Output: the tool call’s arguments; the tool’s result is the last node’s output.',
  parameters: Type.Object(
    {
      name: Type.Optional(Type.String({ pattern: '^[a-zA-Z0-9_-]{1,64}$' })),
      description: Type.Optional(Type.String({ maxLength: 1024 })),
      input_schema: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    },
    { additionalProperties: false },
  ),
  outputs: ['main'],
  run: passTrigger,
};
