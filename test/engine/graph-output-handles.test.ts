import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { outputHandlesOf, triggerNodes } from '../../src/engine/graph/index.js';
import { output, type NodeTypeDefinition } from '../../src/engine/node-type.js';
import type { WorkflowNode } from '../../src/engine/types.js';

const run = async () => output(null);
const ifType: NodeTypeDefinition = {
  type: 'if',
  category: 'flow',
  label: 'If',
  description: '',
  parameters: Type.Object({}),
  outputs: ['true', 'false'],
  run,
};
const switchType: NodeTypeDefinition = {
  ...ifType,
  type: 'switch',
  outputs: (parameters) => [...(parameters.cases as Array<{ name: string }>).map((c) => c.name), 'fallback'],
};
const manualType: NodeTypeDefinition = { ...ifType, type: 'manual', category: 'trigger', outputs: ['main'] };
const node = (id: string, type: string, extra: Partial<WorkflowNode> = {}): WorkflowNode => ({
  id,
  type,
  name: id,
  position: { x: 0, y: 0 },
  parameters: {},
  ...extra,
});

describe('outputHandlesOf', () => {
  it("gives the type's outputs, and error under the error_output policy", () => {
    expect(outputHandlesOf(node('c', 'if'), ifType)).toEqual(['true', 'false']);
    expect(outputHandlesOf(node('c', 'if', { on_error: 'continue' }), ifType)).toEqual(['true', 'false']);
    expect(outputHandlesOf(node('c', 'if', { on_error: 'error_output' }), ifType)).toEqual(['true', 'false', 'error']);
  });

  it('computes outputs that depend on the parameters', () => {
    const s = node('s', 'switch', { parameters: { cases: [{ name: 'big' }, { name: 'small' }] } });
    expect(outputHandlesOf(s, switchType)).toEqual(['big', 'small', 'fallback']);
  });

  it('gives undefined when the outputs cannot be computed from the parameters', () => {
    expect(outputHandlesOf(node('s', 'switch', { parameters: { cases: '{{ input.cases }}' } }), switchType)).toBeUndefined();
  });
});

describe('triggerNodes', () => {
  // a ──► t1     t2   (graph order: a, t1, x, t2)
  it('gives the trigger nodes in graph order', () => {
    const catalog = { get: (type: string) => [ifType, manualType].find((t) => t.type === type) };
    const graph = {
      nodes: [node('a', 'if'), node('t1', 'manual'), node('x', 'unknown'), node('t2', 'manual')],
      edges: [{ id: 'e0', source: 'a', target: 't1' }],
    };
    expect(triggerNodes(graph, catalog).map((n) => n.id)).toEqual(['t1', 't2']);
  });
});
