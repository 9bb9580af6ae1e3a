import jsonata from 'jsonata';
import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { validateGraph } from '../../src/engine/graph/index.js';
import { output, type NodeTypeDefinition } from '../../src/engine/node-type.js';
import type { WorkflowEdge, WorkflowGraph, WorkflowNode } from '../../src/engine/types.js';

// A tiny catalog of its own: the real node types are not needed to check the graph rules.
const run = async () => output(null);
const TYPES: NodeTypeDefinition[] = [
  { type: 'manual', category: 'trigger', label: 'Manual', description: '', parameters: Type.Object({}), outputs: ['main'], run },
  {
    type: 'set',
    category: 'data',
    label: 'Set',
    description: '',
    parameters: Type.Object(
      {
        values: Type.Record(Type.String(), Type.Unknown()),
        count: Type.Optional(Type.Integer({ minimum: 1 })),
        mode: Type.Optional(Type.Union([Type.Literal('merge'), Type.Literal('replace')])),
        options: Type.Optional(Type.Object({ deep: Type.Boolean() }, { additionalProperties: false })),
        script: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    rawParameters: ['script'],
    outputs: ['main'],
    run,
  },
  {
    type: 'if',
    category: 'flow',
    label: 'If',
    description: '',
    parameters: Type.Object({ condition: Type.Boolean() }),
    outputs: ['true', 'false'],
    run,
  },
  { type: 'loop', category: 'flow', label: 'Loop', description: '', parameters: Type.Object({}), outputs: ['item', 'done'], allowsCycles: true, run },
  {
    type: 'switch',
    category: 'flow',
    label: 'Switch',
    description: '',
    parameters: Type.Object({ cases: Type.Array(Type.Object({ name: Type.String() })) }),
    outputs: (parameters) => [...(parameters.cases as Array<{ name: string }>).map((c) => c.name), 'fallback'],
    run,
  },
];
const catalog = { get: (type: string) => TYPES.find((definition) => definition.type === type) };

const DEFAULT_PARAMETERS: Record<string, Record<string, unknown>> = {
  set: { values: {} },
  if: { condition: true },
  switch: { cases: [] },
};

/**
 * Nodes as `id:type` (the name is the id upper-cased); edges as `a -> b` or `a.handle -> b`,
 * the edge at index i with id `e<i>`. `nodeOverrides` changes fields per node id.
 */
function graph(nodes: string[], edges: string[], nodeOverrides: Record<string, Partial<WorkflowNode>> = {}): WorkflowGraph {
  return {
    nodes: nodes.map((spec, index) => {
      const [id, type] = spec.split(':') as [string, string];
      return {
        id,
        type,
        name: id.toUpperCase(),
        position: { x: index * 200, y: 0 },
        parameters: DEFAULT_PARAMETERS[type] ?? {},
        ...nodeOverrides[id],
      };
    }),
    edges: edges.map((spec, index): WorkflowEdge => {
      const [from, target] = spec.split(' -> ') as [string, string];
      const [source, handle] = from.split('.') as [string, string | undefined];
      return { id: `e${index}`, source, target, source_handle: handle ?? null };
    }),
  };
}

const checkExpression = (expression: string): string | null => {
  try {
    jsonata(expression);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
};

describe('validateGraph', () => {
  it('accepts an empty graph', () => {
    expect(validateGraph({ nodes: [], edges: [] }, catalog)).toEqual([]);
  });

  //          ┌─true──► yes
  // t ──► c ─┤
  //          └─false─► no
  it('accepts a valid branching graph', () => {
    const g = graph(['t:manual', 'c:if', 'yes:set', 'no:set'], ['t -> c', 'c.true -> yes', 'c.false -> no']);
    expect(validateGraph(g, catalog, { checkExpression })).toEqual([]);
  });

  // t ──► a    t ──► b   (ids: "", "a", "a")
  it('reports empty and repeated node ids', () => {
    const g = graph(['t:manual', 'a:set', 'a:set'], ['t -> a']);
    g.nodes[0]!.id = '';
    expect(validateGraph(g, catalog)).toEqual(
      expect.arrayContaining([
        { path: 'nodes.0.id', message: 'The node "T" needs an id.' },
        { path: 'nodes.2.id', message: 'Node "a" (A) has the same id as node "a" (A); node ids must be unique.' },
      ]),
    );
  });

  // t ──e0──► a ──e0──► b   (two edges with id e0, one without)
  it('reports empty and repeated edge ids', () => {
    const g = graph(['t:manual', 'a:set', 'b:set', 'c:set'], ['t -> a', 'a -> b', 'b -> c']);
    g.edges[1]!.id = 'e0';
    g.edges[2]!.id = '';
    expect(validateGraph(g, catalog)).toEqual([
      { path: 'edges.1.id', message: 'Edge "e0" has the same id as edge 0; edge ids must be unique.' },
      { path: 'edges.2.id', message: 'Edge 2 (from "b" to "c") needs an id.' },
    ]);
  });

  // t ──► x (type "foo")
  it('reports an unknown node type', () => {
    const g = graph(['t:manual', 'x:foo'], ['t -> x']);
    expect(validateGraph(g, catalog)).toEqual([{ path: 'nodes.1.type', message: 'Node "x" (X) has an unknown type "foo".' }]);
  });

  describe('parameters', () => {
    const withSet = (parameters: Record<string, unknown>) => graph(['t:manual', 's:set'], ['t -> s'], { s: { parameters } });

    // t ──► s
    it('reports each way the parameters break the type schema, by field', () => {
      const issues = validateGraph(withSet({ count: 0, mode: 'append', options: { deep: 'yes', extra: 1 }, colour: 'red' }), catalog);
      expect(issues).toEqual([
        { path: 'nodes.1.parameters.values', message: 'Node "s" (S) is missing the parameter "values".' },
        { path: 'nodes.1.parameters.colour', message: 'Node "s" (S) has an unknown parameter "colour".' },
        { path: 'nodes.1.parameters.count', message: 'Node "s" (S) has an invalid parameter "count": must be >= 1.' },
        { path: 'nodes.1.parameters.mode', message: 'Node "s" (S) has an invalid parameter "mode": must be one of "merge", "replace".' },
        { path: 'nodes.1.parameters.options.extra', message: 'Node "s" (S) has an unknown parameter "options.extra".' },
        { path: 'nodes.1.parameters.options.deep', message: 'Node "s" (S) has an invalid parameter "options.deep": must be boolean.' },
      ]);
    });

    // t ──► s
    it('reports parameters that are not an object', () => {
      const g = graph(['t:manual', 's:set'], ['t -> s'], { s: { parameters: [] as unknown as Record<string, unknown> } });
      expect(validateGraph(g, catalog)).toEqual([{ path: 'nodes.1.parameters', message: 'Node "s" (S) has invalid parameters: must be object.' }]);
    });

    // t ──► s
    it('accepts an expression string where any type of value is expected', () => {
      const issues = validateGraph(
        withSet({ values: '{{ input.values }}', count: '{{ $count(input.items) }}', mode: 'a {{ "merge" }}', options: { deep: '{{ true }}' } }),
        catalog,
      );
      expect(issues).toEqual([]);
    });

    // t ──► s
    it('still reports a plain string where a number is expected', () => {
      expect(validateGraph(withSet({ values: {}, count: 'three' }), catalog)).toEqual([
        { path: 'nodes.1.parameters.count', message: 'Node "s" (S) has an invalid parameter "count": must be integer.' },
      ]);
    });

    // t ──► s
    it('checks the syntax of every expression, nested ones too, when given a checker', () => {
      const g = withSet({ values: { total: '{{ $sum(input.prices }}', name: 'Hi {{ input.name }} and {{ input. }}' }, mode: '{{ "merge"' });
      const issues = validateGraph(g, catalog, { checkExpression });
      expect(issues.map((issue) => issue.path)).toEqual([
        'nodes.1.parameters.values.total',
        'nodes.1.parameters.values.name',
        'nodes.1.parameters.mode',
      ]);
      expect(issues[0]!.message).toMatch(/^Node "s" \(S\), parameter "values\.total": the expression "\{\{ \$sum\(input\.prices \}\}" is invalid: .+/);
      expect(issues[1]!.message).toContain('the expression "{{ input. }}" is invalid');
      expect(issues[2]!.message).toBe('Node "s" (S), parameter "mode": the expression "{{ "merge"" is invalid: it has no closing "}}"');
      // Without a checker, expressions are only accepted, not parsed.
      expect(validateGraph(g, catalog)).toEqual([]);
    });

    // t ──► s
    it('does not check raw parameters as expressions', () => {
      const g = withSet({ values: {}, script: 'return `{{ ${input.(} }}`' });
      expect(validateGraph(g, catalog, { checkExpression })).toEqual([]);
    });
  });

  // t ──► a
  it('reports retry and error policies out of bounds', () => {
    const g = graph(['t:manual', 'a:set', 'b:set'], ['t -> a', 't -> b'], {
      a: { retry: { max_attempts: 11, delay_ms: -1, backoff: 'linear' as 'fixed' }, on_error: 'ignore' as 'stop' },
      b: { retry: { max_attempts: 10, delay_ms: 3_600_000, backoff: 'exponential' }, on_error: 'error_output' },
    });
    expect(validateGraph(g, catalog)).toEqual([
      {
        path: 'nodes.1.retry.max_attempts',
        message: 'Node "a" (A) has an invalid retry policy: max_attempts must be a whole number from 1 to 10.',
      },
      {
        path: 'nodes.1.retry.delay_ms',
        message: 'Node "a" (A) has an invalid retry policy: delay_ms must be a whole number from 0 to 3600000 (one hour).',
      },
      { path: 'nodes.1.retry.backoff', message: 'Node "a" (A) has an invalid retry policy: backoff must be "fixed" or "exponential".' },
      {
        path: 'nodes.1.on_error',
        message: 'Node "a" (A) has an unknown on_error policy "ignore"; it must be one of "stop", "continue", "error_output".',
      },
    ]);
  });

  describe('edges', () => {
    // t ──► a ──► ghost      nobody ──► a
    it('reports an edge whose source or target does not exist', () => {
      const g = graph(['t:manual', 'a:set'], ['t -> a', 'a -> ghost', 'nobody -> a']);
      expect(validateGraph(g, catalog)).toEqual([
        { path: 'edges.1.target', message: 'Edge "e1" goes to node "ghost", which does not exist.' },
        { path: 'edges.2.source', message: 'Edge "e2" comes from node "nobody", which does not exist.' },
      ]);
    });

    //          ┌─true───► a
    // t ──► c ─┼─maybe──► b
    //          └─error──► d   (c's on_error is "stop")
    it('reports a handle the source node does not have', () => {
      const g = graph(['t:manual', 'c:if', 'a:set', 'b:set', 'd:set'], ['t -> c', 'c.true -> a', 'c.maybe -> b', 'c.error -> d']);
      expect(validateGraph(g, catalog)).toEqual([
        {
          path: 'edges.2.source_handle',
          message: 'Edge "e2" leaves node "c" (C) by the handle "maybe", which it does not have; its handles: "true", "false".',
        },
        {
          path: 'edges.3.source_handle',
          message: 'Edge "e3" leaves node "c" (C) by the "error" handle, which only a node whose on_error policy is "error_output" has.',
        },
      ]);
    });

    //          ┌─false──► a
    // t ──► c ─┤
    //          └─error──► d   (c's on_error is "error_output")
    it('accepts the error handle of a node whose failures leave by it', () => {
      const g = graph(['t:manual', 'c:if', 'a:set', 'd:set'], ['t -> c', 'c.false -> a', 'c.error -> d'], { c: { on_error: 'error_output' } });
      expect(validateGraph(g, catalog)).toEqual([]);
    });

    //          ┌─big──────► a
    // t ──► s ─┼─fallback─► b
    //          └─small────► d   (cases: big; no "small")
    it('takes the handles of a node whose outputs depend on its parameters from those parameters', () => {
      const g = graph(['t:manual', 's:switch', 'a:set', 'b:set', 'd:set'], ['t -> s', 's.big -> a', 's.fallback -> b', 's.small -> d'], {
        s: { parameters: { cases: [{ name: 'big' }] } },
      });
      expect(validateGraph(g, catalog)).toEqual([
        {
          path: 'edges.3.source_handle',
          message: 'Edge "e3" leaves node "s" (S) by the handle "small", which it does not have; its handles: "big", "fallback".',
        },
      ]);
    });

    // t ──► s ──big──► a   (cases is an expression: the handles are known only at run time)
    it('skips the handle check when the outputs cannot be computed from the parameters', () => {
      const g = graph(['t:manual', 's:switch', 'a:set'], ['t -> s', 's.big -> a'], { s: { parameters: { cases: '{{ input.cases }}' } } });
      expect(validateGraph(g, catalog)).toEqual([]);
    });

    // t1 ──► a ──► t2
    it('reports an edge into a trigger node', () => {
      const g = graph(['t1:manual', 'a:set', 't2:manual'], ['t1 -> a', 'a -> t2']);
      expect(validateGraph(g, catalog)).toEqual([
        {
          path: 'edges.1.target',
          message: 'Edge "e1" goes into the trigger node "t2" (T2); a trigger starts the workflow and takes no input.',
        },
      ]);
    });

    //       ┌──e1──┐
    // t ──► c      a      c.true twice to a (e1, e2); c.false to a (e3) is another connection
    //       └──e2──┘
    it('reports an edge that repeats another', () => {
      const g = graph(['t:manual', 'c:if', 'a:set'], ['t -> c', 'c.true -> a', 'c.true -> a', 'c.false -> a']);
      expect(validateGraph(g, catalog)).toEqual([
        { path: 'edges.2', message: 'Edge "e2" repeats edge "e1": the same source, handle and target.' },
      ]);
    });

    // t ──► a ══► b   (one edge with source_handle null, one with "main": the same connection)
    it('counts an absent handle as main when looking for repeats', () => {
      const g = graph(['t:manual', 'a:set', 'b:set'], ['t -> a', 'a -> b', 'a.main -> b']);
      expect(validateGraph(g, catalog)).toEqual([{ path: 'edges.2', message: 'Edge "e2" repeats edge "e1": the same source, handle and target.' }]);
    });
  });

  describe('reachability', () => {
    // t ──► a     b ──► c
    it('reports every node no trigger reaches', () => {
      const g = graph(['t:manual', 'a:set', 'b:set', 'c:set'], ['t -> a', 'b -> c']);
      expect(validateGraph(g, catalog)).toEqual([
        { path: 'nodes.2', message: 'Node "b" (B) cannot be reached from any trigger node.' },
        { path: 'nodes.3', message: 'Node "c" (C) cannot be reached from any trigger node.' },
      ]);
    });

    // t1 ──► a ──► c ◄── b ◄── t2
    it('accepts nodes reached from different triggers', () => {
      const g = graph(['t1:manual', 't2:manual', 'a:set', 'b:set', 'c:set'], ['t1 -> a', 'a -> c', 't2 -> b', 'b -> c']);
      expect(validateGraph(g, catalog)).toEqual([]);
    });

    // a ──► b
    it('reports a graph without a trigger once, not each node', () => {
      const g = graph(['a:set', 'b:set'], ['a -> b']);
      expect(validateGraph(g, catalog)).toEqual([
        { path: 'nodes', message: 'A workflow needs a trigger node (manual, webhook, schedule…) to start from.' },
      ]);
    });
  });

  describe('cycles', () => {
    // t ──► a ──► b ──► c
    //       ▲           │
    //       └───────────┘
    it('reports a cycle that does not pass through a loop node, naming its nodes and edges', () => {
      const g = graph(['t:manual', 'a:set', 'b:set', 'c:set'], ['t -> a', 'a -> b', 'b -> c', 'c -> a']);
      expect(validateGraph(g, catalog)).toEqual([
        {
          path: 'edges.3',
          message: 'Edges "e1", "e2", "e3" form a cycle "a" (A) → "b" (B) → "c" (C) → "a" (A); a cycle must go through a loop node.',
        },
      ]);
    });

    //             ┌─done─► d
    // t ──► l ────┤
    //       ▲     └─item─► a ──► b
    //       └────────────────────┘
    it('accepts a cycle through a loop node', () => {
      const g = graph(['t:manual', 'l:loop', 'a:set', 'b:set', 'd:set'], ['t -> l', 'l.item -> a', 'a -> b', 'b -> l', 'l.done -> d']);
      expect(validateGraph(g, catalog)).toEqual([]);
    });

    //                         ┌──┐
    // t ──► l ──item──► a ──► b ◄┘   (b → b) and back to l; the loop-back is fine, the self-loop is not
    //       ▲                 │
    //       └─────────────────┘
    it('reports a cycle inside a loop body that skips the loop node', () => {
      const g = graph(['t:manual', 'l:loop', 'a:set', 'b:set'], ['t -> l', 'l.item -> a', 'a -> b', 'b -> b', 'b -> l']);
      expect(validateGraph(g, catalog)).toEqual([
        { path: 'edges.3', message: 'Edge "e3" forms a cycle "b" (B) → "b" (B); a cycle must go through a loop node.' },
      ]);
    });

    // t ──► a ◄──► b      a ◄──► c   (two cycles sharing a)
    it('reports each cycle', () => {
      const g = graph(['t:manual', 'a:set', 'b:set', 'c:set'], ['t -> a', 'a -> b', 'b -> a', 'a -> c', 'c -> a']);
      expect(validateGraph(g, catalog).map((issue) => issue.path)).toEqual(['edges.2', 'edges.4']);
    });
  });

  // t ──► a ──► ghost   x (type foo)   b   (with bad parameters)
  it('returns every problem at once', () => {
    const g = graph(['t:manual', 'a:set', 'x:foo', 'b:set'], ['t -> a', 'a -> ghost', 'a -> x'], { b: { parameters: {} } });
    expect(validateGraph(g, catalog).map((issue) => issue.path)).toEqual([
      'nodes.2.type',
      'nodes.3.parameters.values',
      'edges.1.target',
      'nodes.3',
    ]);
  });

  // t ──► n0 ──► n1 ──► … ──► n998
  it('validates a 1,000-node chain', () => {
    const ids = Array.from({ length: 999 }, (_, index) => `n${index}`);
    const g = graph(
      ['t:manual', ...ids.map((id) => `${id}:set`)],
      ids.map((id, index) => `${index === 0 ? 't' : ids[index - 1]} -> ${id}`),
    );
    expect(validateGraph(g, catalog, { checkExpression })).toEqual([]);

    // Closing the chain into a cycle is one issue naming all 999 set nodes.
    g.edges.push({ id: 'back', source: 'n998', target: 'n0' });
    const issues = validateGraph(g, catalog);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('edges.999');
    expect(issues[0]!.message.split(' → ')).toHaveLength(1000);
  });
});
