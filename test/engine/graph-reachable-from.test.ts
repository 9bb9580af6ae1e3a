import { describe, expect, it } from 'vitest';
import { reachableFrom } from '../../src/engine/graph/index.js';
import type { WorkflowGraph } from '../../src/engine/types.js';

/** Node ids; edges as `a -> b` or `a.handle -> b`, the edge at index i with id `e<i>`. */
function graph(nodes: string[], edges: string[]): WorkflowGraph {
  return {
    nodes: nodes.map((id) => ({ id, type: 'set', name: id, position: { x: 0, y: 0 }, parameters: {} })),
    edges: edges.map((spec, index) => {
      const [from, target] = spec.split(' -> ') as [string, string];
      const [source, handle] = from.split('.') as [string, string | undefined];
      return { id: `e${index}`, source, target, source_handle: handle ?? null };
    }),
  };
}

describe('reachableFrom', () => {
  //       ┌─true──► b ──► d
  // a ────┤
  //       └─error─► c        x ──► y
  it('follows every edge, whatever its handle, and includes the start', () => {
    const g = graph(['a', 'b', 'c', 'd', 'x', 'y'], ['a.true -> b', 'a.error -> c', 'b -> d', 'x -> y']);
    expect(reachableFrom(g, ['a'])).toEqual(new Set(['a', 'b', 'c', 'd']));
  });

  // a ──► b ──► c
  // ▲           │
  // └───────────┘
  it('stops on a cycle', () => {
    const g = graph(['a', 'b', 'c'], ['a -> b', 'b -> c', 'c -> a']);
    expect(reachableFrom(g, ['b'])).toEqual(new Set(['a', 'b', 'c']));
  });

  // a ──► b     c ──► d
  it('starts from several nodes', () => {
    const g = graph(['a', 'b', 'c', 'd', 'e'], ['a -> b', 'c -> d']);
    expect(reachableFrom(g, ['a', 'c'])).toEqual(new Set(['a', 'b', 'c', 'd']));
  });

  // a ──► ghost ──► b
  it('ignores start ids that name no node and edges through a missing node', () => {
    const g = graph(['a', 'b'], ['a -> ghost', 'ghost -> b']);
    expect(reachableFrom(g, ['a', 'nobody'])).toEqual(new Set(['a']));
  });
});
