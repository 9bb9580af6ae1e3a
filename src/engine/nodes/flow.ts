import { Type } from 'typebox';
import { NodeError, output, type NodeTypeDefinition } from '../node-type.js';

export const ifNode: NodeTypeDefinition<{ condition: unknown }> = {
  type: 'if',
  category: 'flow',
  label: 'If',
  description: 'Leaves by the `true` or `false` handle by the truth of `condition` (an expression). The output is the input.',
  parameters: Type.Object({ condition: Type.Unknown({ description: 'An expression, e.g. `{{ input.score > 0.5 }}`.' }) }, { additionalProperties: false }),
  outputs: ['true', 'false'],
  run: async ({ params, input }) => output(input, truthy(params.condition) ? 'true' : 'false'),
};

interface SwitchParams {
  cases: Array<{ handle: string; condition: unknown }>;
  fallback?: boolean;
}

export const switchNode: NodeTypeDefinition<SwitchParams> = {
  type: 'switch',
  category: 'flow',
  label: 'Switch',
  description:
    'Leaves by the handle of the first case whose `condition` is true, else by `default` (when `fallback` is on, the default), else by no edge. The output is the input.',
  parameters: Type.Object(
    {
      cases: Type.Array(
        Type.Object(
          { handle: Type.String({ pattern: '^[a-zA-Z0-9_-]{1,64}$' }), condition: Type.Unknown() },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: 64 },
      ),
      fallback: Type.Optional(Type.Boolean({ default: true })),
    },
    { additionalProperties: false },
  ),
  outputs: (parameters) => {
    const cases = Array.isArray(parameters.cases) ? (parameters.cases as Array<{ handle?: unknown }>) : [];
    return [...cases.map((entry) => String(entry?.handle ?? '')), 'default'];
  },
  run: async ({ params, input }) => {
    const match = params.cases.find((entry) => truthy(entry.condition));
    if (match) return output(input, match.handle);
    return output(input, params.fallback === false ? null : 'default');
  },
};

export const MERGE_MODES = ['array', 'object', 'merge', 'first'] as const;

export const mergeNode: NodeTypeDefinition<{ mode?: (typeof MERGE_MODES)[number] }> = {
  type: 'merge',
  category: 'flow',
  label: 'Merge',
  description:
    'Waits for every incoming branch that can still arrive (a branch an `if` did not take does not hold it up), then outputs: `array` (the inputs in edge order), `object` (keyed by source node id), `merge` (the input objects merged, later edges win) or `first` (the first input).',
  parameters: Type.Object(
    { mode: Type.Optional(Type.Union(MERGE_MODES.map((mode) => Type.Literal(mode)), { default: 'array' })) },
    { additionalProperties: false },
  ),
  outputs: ['main'],
  joinsInputs: true,
  run: async ({ params, inputs }) => {
    switch (params.mode ?? 'array') {
      case 'object':
        return output(Object.fromEntries(inputs.map((entry) => [entry.source, entry.data])));
      case 'merge':
        return output(Object.assign({}, ...inputs.map((entry) => (isObject(entry.data) ? entry.data : {}))));
      case 'first':
        return output(inputs[0]?.data ?? null);
      default:
        return output(inputs.map((entry) => entry.data));
    }
  },
};

interface LoopState {
  items: unknown[];
  index: number;
  results: unknown[];
}

export const loopNode: NodeTypeDefinition<{ items?: unknown }> = {
  type: 'loop',
  category: 'flow',
  label: 'Loop over items',
  description:
    'Runs the branch on its `item` handle once per element of `items` (default: the input, which must be an array); the branch’s last node connects back to the loop. When all are done, the results (the output that came back for each item) leave by `done`. Edges back into a loop are the only cycles a workflow may have.',
  parameters: Type.Object({ items: Type.Optional(Type.Unknown({ description: 'An array, usually an expression.' })) }, { additionalProperties: false }),
  outputs: ['item', 'done'],
  allowsCycles: true,
  run: async ({ params, input, state, node }) => {
    const current = state as LoopState | undefined;
    if (!current) {
      const items = params.items === undefined ? input : params.items;
      if (!Array.isArray(items)) throw new NodeError(`Node "${node.id}": items must be an array, got ${describe(items)}.`);
      if (items.length === 0) return output([], 'done', null);
      return output(items[0], 'item', { items, index: 0, results: [] } satisfies LoopState);
    }
    // Back from the branch: keep what it produced for the current item, then go on.
    const results = [...current.results, input];
    const index = current.index + 1;
    if (index >= current.items.length) return output(results, 'done', null);
    return output(current.items[index], 'item', { items: current.items, index, results } satisfies LoopState);
  },
};

export const WAIT_MODES = ['delay', 'until', 'resume'] as const;

interface WaitParams {
  mode: (typeof WAIT_MODES)[number];
  seconds?: number;
  until?: string;
  timeout_seconds?: number;
}

export const waitNode: NodeTypeDefinition<WaitParams> = {
  type: 'wait',
  category: 'flow',
  label: 'Wait',
  description:
    'Parks the execution (no process is held): `delay` for `seconds`, `until` a time (ISO 8601), or `resume` until a call to `POST /api/v1/workflow-executions/{uuid}/resume` (human in the loop), whose body becomes the output; `timeout_seconds` bounds a resume wait (then the output is the input). After a delay or time, the output is the input.',
  parameters: Type.Object(
    {
      mode: Type.Union(WAIT_MODES.map((mode) => Type.Literal(mode))),
      seconds: Type.Optional(Type.Number({ minimum: 0, maximum: 31_536_000 })),
      until: Type.Optional(Type.String({ maxLength: 64 })),
      timeout_seconds: Type.Optional(Type.Number({ minimum: 1, maximum: 31_536_000 })),
    },
    { additionalProperties: false },
  ),
  outputs: ['main'],
  run: async ({ params, node }) => {
    if (params.mode === 'resume') {
      const until = params.timeout_seconds === undefined ? null : new Date(Date.now() + params.timeout_seconds * 1000).toISOString();
      return { kind: 'wait', until };
    }
    if (params.mode === 'delay') {
      if (typeof params.seconds !== 'number' || !(params.seconds >= 0)) throw new NodeError(`Node "${node.id}": seconds must be a number of seconds.`);
      return { kind: 'wait', until: new Date(Date.now() + params.seconds * 1000).toISOString() };
    }
    const until = typeof params.until === 'string' ? new Date(params.until) : new Date(Number.NaN);
    if (Number.isNaN(until.getTime())) throw new NodeError(`Node "${node.id}": until must be an ISO 8601 time, got ${describe(params.until)}.`);
    return { kind: 'wait', until: until.toISOString() };
  },
};

/** JavaScript truth, except that the strings "false" and "0" are false (conditions written as text). */
export function truthy(value: unknown): boolean {
  if (typeof value === 'string') return value !== '' && value !== 'false' && value !== '0';
  return Boolean(value);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `"${value.slice(0, 40)}"` : `a ${typeof value}`;
}
