import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { loopBackEdges } from '../../src/engine/graph/index.js';
import { output, type NodeTypeDefinition } from '../../src/engine/node-type.js';
import type { WorkflowGraph } from '../../src/engine/types.js';

const run = async () => output(null);
const definition = (type: string, extra: Partial<NodeTypeDefinition>): NodeTypeDefinition => ({
  type,
  category: 'data',
  label: type,
  description: '',
  parameters: Type.Object({}),
  outputs: ['main'],
  run,
  ...extra,
});
const TYPES = new Map([
  ['manual', definition('manual', { category: 'trigger' })],
  ['set', definition('set', {})],
  ['merge', definition('merge', { category: 'flow', joinsInputs: true })],
  ['loop', definition('loop', { category: 'flow', outputs: ['item', 'done'], allowsCycles: true })],
]);
const catalog = { get: (type: string) => TYPES.get(type) };

/** Nodes as `id:type`; edges as `a -> b` or `a.handle -> b`, the edge at index i with id `e<i>`. */
function graph(nodes: string[], edges: string[]): WorkflowGraph {
  return {
    nodes: nodes.map((spec) => {
      const [id, type] = spec.split(':') as [string, string];
      return { id, type, name: id, position: { x: 0, y: 0 }, parameters: {} };
    }),
    edges: edges.map((spec, index) => {
      const [from, target] = spec.split(' -> ') as [string, string];
      const [source, handle] = from.split('.') as [string, string | undefined];
      return { id: `e${index}`, source, target, source_handle: handle ?? null };
    }),
  };
}

describe('loopBackEdges', () => {
  //             ┌─done─► d
  // t ──► l ────┤
  //       ▲     └─item─► a ──► b
  //       └────────────────────┘  (e3: b ──► l)
  it('gives the edge that returns to the loop, not the one that leads into it', () => {
    const g = graph(['t:manual', 'l:loop', 'a:set', 'b:set', 'd:set'], ['t -> l', 'l.item -> a', 'a -> b', 'b -> l', 'l.done -> d']);
    expect(loopBackEdges(g, catalog)).toEqual(new Set([3]));
  });

  //                          ┌─done─► z ──► outer (e5)
  // t ──► outer ─item─► x ──► inner
  //                          └─item─► y ──► inner (e4)
  //       outer ─done─► end
  it('tells an inner loop entered from an outer loop body from its own loop-back', () => {
    const g = graph(
      ['t:manual', 'outer:loop', 'x:set', 'inner:loop', 'y:set', 'z:set', 'end:set'],
      ['t -> outer', 'outer.item -> x', 'x -> inner', 'inner.item -> y', 'y -> inner', 'inner.done -> z', 'z -> outer', 'outer.done -> end'],
    );
    expect(loopBackEdges(g, catalog)).toEqual(new Set([4, 6]));
  });

  // t ──► a ──► b ──► a   (a cycle without a loop node has no loop-back)
  it('gives no edge for a cycle that skips every loop node', () => {
    const g = graph(['t:manual', 'a:set', 'b:set'], ['t -> a', 'a -> b', 'b -> a']);
    expect(loopBackEdges(g, catalog)).toEqual(new Set());
  });
});
