import { Type } from 'typebox';
import { output, type NodeTypeDefinition } from '../node-type.js';
import { isObject } from './flow.js';

export const setNode: NodeTypeDefinition<{ values: Record<string, unknown>; keep_input?: boolean }> = {
  type: 'set',
  category: 'data',
  label: 'Set fields',
  description:
    'Outputs the input (when it is an object and `keep_input` is on, the default) with the fields of `values` set; a name with dots (`customer.name`) sets a nested field.',
  parameters: Type.Object(
    {
      values: Type.Record(Type.String({ minLength: 1, maxLength: 200 }), Type.Unknown()),
      keep_input: Type.Optional(Type.Boolean({ default: true })),
    },
    { additionalProperties: false },
  ),
  outputs: ['main'],
  run: async ({ params, input }) => {
    const result: Record<string, unknown> = params.keep_input !== false && isObject(input) ? { ...input } : {};
    for (const [name, value] of Object.entries(params.values)) setPath(result, name, value);
    return output(result);
  },
};

export const transformNode: NodeTypeDefinition<{ output: unknown }> = {
  type: 'transform',
  category: 'data',
  label: 'Transform',
  description: 'Outputs `output`: usually one expression that reshapes the input (`{{ input.items.{ "id": id, "total": price * qty } }}`).',
  parameters: Type.Object({ output: Type.Unknown() }, { additionalProperties: false }),
  outputs: ['main'],
  run: async ({ params }) => output(params.output ?? null),
};

export const codeNode: NodeTypeDefinition<{ code: string }> = {
  type: 'code',
  category: 'data',
  label: 'Code',
  description:
    'Runs JavaScript in a WebAssembly sandbox (QuickJS) with memory and time limits and no access to the host, network or files. The code is a function body that receives `input`, `nodes`, `vars`, `trigger` and `execution` and returns the output (`return { total: input.a + input.b }`); it may be async.',
  parameters: Type.Object({ code: Type.String({ minLength: 1, maxLength: 100_000 }) }, { additionalProperties: false }),
  rawParameters: ['code'],
  outputs: ['main'],
  run: async ({ params, input, services, signal, scope }) => {
    // The code sees the same scope expressions do (secrets only when the code names them).
    const context = { nodes: scope.nodes, vars: scope.vars, trigger: scope.trigger, execution: scope.execution };
    return output(await services.runCode(params.code, input, context, signal));
  },
};

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Sets `a.b.c` in `target`, creating objects on the way; unsafe keys are written as plain fields of a fresh object. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  if (parts.some((part) => part === '' || UNSAFE_KEYS.has(part))) {
    Object.defineProperty(target, path, { value, enumerable: true, writable: true, configurable: true });
    return;
  }
  let cursor = target;
  for (const part of parts.slice(0, -1)) {
    const next = cursor[part];
    cursor = cursor[part] = isObject(next) ? { ...next } : {};
  }
  cursor[parts[parts.length - 1]!] = value;
}
