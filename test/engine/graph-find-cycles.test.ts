import { describe, expect, it } from 'vitest';
import { findCycles } from '../../src/engine/graph/index.js';
import { catalog, graph } from './graph-fixtures.js';


describe('findCycles', () => {
  //       ┌──► b ──┐
  // t ──► a        ├──► d
  //       └──► c ──┘
  it('finds none in a graph without cycles', () => {
    const g = graph(['t:manual', 'a:set', 'b:set', 'c:set', 'd:set'], ['t -> a', 'a -> b', 'a -> c', 'b -> d', 'c -> d']);
    expect(findCycles(g, catalog)).toEqual([]);
  });

  // t ──► a ──► b ──► c
  //       ▲           │
  //       └───────────┘
  it('returns a cycle with its nodes and the edges that join them, the back edge last', () => {
    const g = graph(['t:manual', 'a:set', 'b:set', 'c:set'], ['t -> a', 'a -> b', 'b -> c', 'c -> a']);
    expect(findCycles(g, catalog)).toEqual([{ nodeIds: ['a', 'b', 'c'], edgeIndexes: [1, 2, 3] }]);
  });

  // c ──► b ──► a ◄── t     a ──► c   (nodes listed downstream first)
  //       ▲                 │
  //       └─────────────────┘
  it('starts at the triggers, so the back edge is the one returning upstream', () => {
    const g = graph(['c:set', 'b:set', 'a:set', 't:manual'], ['c -> b', 'b -> a', 't -> a', 'a -> c']);
    // From the trigger: a → c → b, then b → a (edge 1) closes the cycle.
    expect(findCycles(g, catalog)).toEqual([{ nodeIds: ['a', 'c', 'b'], edgeIndexes: [3, 0, 1] }]);
  });

  //             ┌─done─► d
  // t ──► l ────┤
  //       ▲     └─item─► a ──► b
  //       └────────────────────┘
  it('drops the edges into a node that allows cycles', () => {
    const g = graph(['t:manual', 'l:loop', 'a:set', 'b:set', 'd:set'], ['t -> l', 'l.item -> a', 'a -> b', 'b -> l', 'l.done -> d']);
    expect(findCycles(g, catalog)).toEqual([]);
  });

  // t ──► l ──item──► a ──► b ──► l       b ──► a   (the inner cycle a ⇄ b skips the loop)
  it('finds a cycle inside a loop body that skips the loop node', () => {
    const g = graph(['t:manual', 'l:loop', 'a:set', 'b:set'], ['t -> l', 'l.item -> a', 'a -> b', 'b -> l', 'b -> a']);
    expect(findCycles(g, catalog)).toEqual([{ nodeIds: ['a', 'b'], edgeIndexes: [2, 4] }]);
  });

  // ┌──┐
  // a ◄┘ ◄── t
  it('finds a node with an edge to itself', () => {
    const g = graph(['t:manual', 'a:set'], ['t -> a', 'a -> a']);
    expect(findCycles(g, catalog)).toEqual([{ nodeIds: ['a'], edgeIndexes: [1] }]);
  });

  // t ──► a ⇄ b     a ⇄ c     x ⇄ y (no trigger reaches them)
  it('finds one cycle per back edge, in parts no trigger reaches too', () => {
    const g = graph(
      ['t:manual', 'a:set', 'b:set', 'c:set', 'x:set', 'y:set'],
      ['t -> a', 'a -> b', 'b -> a', 'a -> c', 'c -> a', 'x -> y', 'y -> x'],
    );
    expect(findCycles(g, catalog)).toEqual([
      { nodeIds: ['a', 'b'], edgeIndexes: [1, 2] },
      { nodeIds: ['a', 'c'], edgeIndexes: [3, 4] },
      { nodeIds: ['x', 'y'], edgeIndexes: [5, 6] },
    ]);
  });

  // t ──► a ──► ghost ──► a   (edges to and from a missing node are not followed)
  it('ignores edges whose ends do not exist', () => {
    const g = graph(['t:manual', 'a:set'], ['t -> a', 'a -> ghost', 'ghost -> a']);
    expect(findCycles(g, catalog)).toEqual([]);
  });

  // t ──► n0 ──► n1 ──► … ──► n19999 ──► n0
  it('walks a long chain without running out of stack', () => {
    const count = 20_000;
    const ids = Array.from({ length: count }, (_, index) => `n${index}`);
    const g = graph(
      ['t:manual', ...ids.map((id) => `${id}:set`)],
      [...ids.map((id, index) => `${index === 0 ? 't' : ids[index - 1]} -> ${id}`), `n${count - 1} -> n0`],
    );
    const cycles = findCycles(g, catalog);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]!.nodeIds).toHaveLength(count);
    expect(cycles[0]!.edgeIndexes.at(-1)).toBe(count);
  });
});
