import { Type } from 'typebox';
import { output, type NodeTypeDefinition } from '../node-type.js';

export const promptNode: NodeTypeDefinition<{ prompt_uuid: string; variables?: Record<string, unknown> }> = {
  type: 'prompt',
  category: 'ai',
  label: 'Run a prompt',
  description: 'Runs a prompt of the workspace with `variables` (its Liquid template variables). Output: `{ text, json (the reply parsed when the prompt asks for JSON, else null), usage, run_uuid }`.',
  parameters: Type.Object(
    {
      prompt_uuid: Type.String({ format: 'uuid' }),
      variables: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    },
    { additionalProperties: false },
  ),
  outputs: ['main'],
  run: async ({ params, services, signal }) => output(await services.runPrompt({ prompt_uuid: params.prompt_uuid, variables: params.variables ?? {} }, signal)),
};

export const agentNode: NodeTypeDefinition<{ agent_uuid: string; message: unknown; thread_uuid?: string | null }> = {
  type: 'agent',
  category: 'ai',
  label: 'Ask an agent',
  description:
    'Sends `message` to an agent (with its tools and memory) in a new thread, or in `thread_uuid` to continue one. Output: `{ text, thread_uuid, run_uuid, usage }`.',
  parameters: Type.Object(
    {
      agent_uuid: Type.String({ format: 'uuid' }),
      message: Type.Unknown({ description: 'Text (objects are sent as JSON).' }),
      thread_uuid: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
    },
    { additionalProperties: false },
  ),
  outputs: ['main'],
  run: async ({ params, services, signal }) =>
    output(
      await services.runAgent(
        {
          agent_uuid: params.agent_uuid,
          message: typeof params.message === 'string' ? params.message : JSON.stringify(params.message ?? null),
          thread_uuid: params.thread_uuid ?? null,
        },
        signal,
      ),
    ),
};
