import { describe, expect, it } from 'vitest';
import { loopBackEdges } from '../../src/engine/graph/index.js';
import { catalog, graph } from './graph-fixtures.js';


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
