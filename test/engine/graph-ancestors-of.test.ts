import { describe, expect, it } from 'vitest';
import { ancestorsOf } from '../../src/engine/graph/index.js';
import { catalog, graph } from './graph-fixtures.js';


const sets = (map: Map<string, Set<string>>) => Object.fromEntries([...map].map(([id, set]) => [id, [...set].sort()]));

describe('ancestorsOf', () => {
  //       ┌──► a ──┐
  // t ────┤        ├──► m ──► z
  //       └──► b ──┘
  it('gives each node the nodes with a path to it', () => {
    const g = graph(['t:manual', 'a:set', 'b:set', 'm:merge', 'z:set'], ['t -> a', 't -> b', 'a -> m', 'b -> m', 'm -> z']);
    expect(sets(ancestorsOf(g, catalog))).toEqual({
      t: [],
      a: ['t'],
      b: ['t'],
      m: ['a', 'b', 't'],
      z: ['a', 'b', 'm', 't'],
    });
  });

  //             ┌─done─────────────► m
  // t ──► l ────┤                    ▲
  //       ▲     └─item─► a ──► b ────┘
  //       └──────────────────┘ (b ──► l)
  it('leaves out the edges back into a loop node', () => {
    const g = graph(['t:manual', 'l:loop', 'a:set', 'b:set', 'm:merge'], ['t -> l', 'l.item -> a', 'a -> b', 'b -> l', 'l.done -> m', 'b -> m']);
    const ancestors = ancestorsOf(g, catalog);
    // Without the loop-back, the loop's body is not upstream of the loop.
    expect([...ancestors.get('l')!]).toEqual(['t']);
    expect([...ancestors.get('m')!].sort()).toEqual(['a', 'b', 'l', 't']);
  });

  // t ──► a ──► l ─done─► m ◄── b ◄── t
  //             ▲         (l.item ──► c ──► l)
  //             └── c ◄─┘
  it('keeps what comes before a loop upstream of what comes after it', () => {
    const g = graph(['t:manual', 'a:set', 'l:loop', 'c:set', 'b:set', 'm:merge'], ['t -> a', 'a -> l', 'l.item -> c', 'c -> l', 'l.done -> m', 't -> b', 'b -> m']);
    const ancestors = ancestorsOf(g, catalog, ['m', 'l', 'c']);
    // The loop body returns to the loop; only the loop's done output leads on.
    expect([...ancestors.get('m')!].sort()).toEqual(['a', 'b', 'l', 't']);
    expect([...ancestors.get('l')!].sort()).toEqual(['a', 't']);
    expect([...ancestors.get('c')!].sort()).toEqual(['a', 'l', 't']);
  });

  // t ──► a ──► b ──► m     t ──► c ──► m
  it('computes only the nodes asked for', () => {
    const g = graph(['t:manual', 'a:set', 'b:set', 'c:set', 'm:merge'], ['t -> a', 'a -> b', 'b -> m', 't -> c', 'c -> m']);
    expect(sets(ancestorsOf(g, catalog, ['m', 'nobody']))).toEqual({ m: ['a', 'b', 'c', 't'] });
  });

  // t ──► a ──► b ──► c
  //       ▲           │
  //       └───────────┘   (a cycle that skips every loop node: each node on it is its own ancestor)
  it('still answers for a graph with a cycle that validation rejects', () => {
    const g = graph(['t:manual', 'a:set', 'b:set', 'c:set', 'd:set'], ['t -> a', 'a -> b', 'b -> c', 'c -> a', 'c -> d']);
    expect(sets(ancestorsOf(g, catalog))).toEqual({
      t: [],
      a: ['a', 'b', 'c', 't'],
      b: ['a', 'b', 'c', 't'],
      c: ['a', 'b', 'c', 't'],
      d: ['a', 'b', 'c', 't'],
    });
  });

  // random DAGs: n0 … n29, edges only from lower to higher index
  it('gives the same sets for all nodes at once as for each node asked for alone', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    for (let round = 0; round < 20; round++) {
      const ids = Array.from({ length: 30 }, (_, index) => `n${index}`);
      const edges: string[] = [];
      for (let to = 1; to < ids.length; to++) for (let from = 0; from < to; from++) if (random() < 0.1) edges.push(`n${from} -> n${to}`);
      const g = graph(ids.map((id) => `${id}:set`), edges);
      const all = ancestorsOf(g, catalog);
      for (const id of ids) expect([...all.get(id)!].sort(), id).toEqual([...ancestorsOf(g, catalog, [id]).get(id)!].sort());
    }
  });
});
