import { describe, expect, it } from 'vitest';
import { ExecutionLostError, runExecution, type ExecutionOutcome, type ExecutionPlan, type ExecutionStore } from '../../src/engine/executor.js';
import type { NodeTypeDefinition } from '../../src/engine/node-type.js';
import { nodeCatalog } from '../../src/engine/nodes/index.js';
import type { NodeServices } from '../../src/engine/ports.js';
import type { RunState, StepRecord } from '../../src/engine/run-state.js';
import { compileGraph, type NodeCatalog } from '../../src/engine/runtime-graph.js';
import type { WorkflowEdge, WorkflowGraph, WorkflowNode } from '../../src/engine/types.js';

/** Node `id` of `type`; edges as `a -> b` or `a.handle -> b`, with the id `a-b`. */
function graph(nodes: Array<[id: string, type: string, parameters?: Record<string, unknown>]>, edges: string[]): WorkflowGraph {
  return {
    nodes: nodes.map(([id, type, parameters = {}]): WorkflowNode => ({ id, type, name: id, position: { x: 0, y: 0 }, parameters })),
    edges: edges.map((spec): WorkflowEdge => {
      const [from, target] = spec.split(' -> ') as [string, string];
      const [source, handle] = from.split('.') as [string, string | undefined];
      return { id: `${source}-${target}`, source, target, source_handle: handle ?? null };
    }),
  };
}

/** The real catalog, counting how often each node id ran. */
function countingCatalog(): { catalog: NodeCatalog; runs: Map<string, number> } {
  const runs = new Map<string, number>();
  const wrapped = new Map<string, NodeTypeDefinition>();
  return {
    runs,
    catalog: {
      get(type) {
        const definition = nodeCatalog.get(type);
        if (!definition) return undefined;
        let counted = wrapped.get(type);
        if (!counted) {
          counted = {
            ...definition,
            run: (context) => {
              runs.set(context.node.id, (runs.get(context.node.id) ?? 0) + 1);
              return definition.run(context);
            },
          };
          wrapped.set(type, counted);
        }
        return counted;
      },
    },
  };
}

/** An ExecutionStore in memory: what a database would hold, copied at each commit as a database would. */
class MemoryStore implements ExecutionStore {
  steps: StepRecord[] = [];
  state: RunState | null = null;
  finished: { outcome: ExecutionOutcome; state: RunState } | null = null;
  parked: { state: RunState; until: string | null } | null = null;
  commits = 0;

  constructor(private readonly failure: { atSeq: number; error: () => Error } | null = null) {}

  async commitStep(step: StepRecord, state: RunState): Promise<void> {
    this.commits += 1;
    if (this.failure && step.seq === this.failure.atSeq) throw this.failure.error();
    this.steps.push(structuredClone(step));
    this.state = structuredClone(state);
  }

  async park(state: RunState, until: string | null): Promise<void> {
    this.parked = { state: structuredClone(state), until };
  }

  async finish(outcome: Exclude<ExecutionOutcome, { status: 'waiting' } | { status: 'stopped' }>, state: RunState): Promise<void> {
    this.finished = { outcome: structuredClone(outcome), state: structuredClone(state) };
  }

  async revealSecret(name: string): Promise<string> {
    throw new Error(`no secret ${name} in this test`);
  }
}

const unused = (what: string) => () => Promise.reject(new Error(`${what} is not used by this test`));
const services: NodeServices = {
  http: unused('http'),
  runPrompt: unused('runPrompt'),
  runAgent: unused('runAgent'),
  runWorkflow: unused('runWorkflow'),
  customerAccounts: unused('customerAccounts'),
  runCode: unused('runCode'),
};

function plan(g: WorkflowGraph, catalog: NodeCatalog, overrides: Partial<ExecutionPlan> = {}): ExecutionPlan {
  return {
    execution: {
      uuid: '01980000-0000-7000-8000-000000000001',
      workflow_uuid: '01980000-0000-7000-8000-000000000002',
      workspace_uuid: '01980000-0000-7000-8000-000000000003',
      started_at: '2025-01-01T00:00:00.000Z',
      trigger: 'manual',
      user_id: 1,
    },
    graph: compileGraph(g, catalog),
    variables: [],
    triggerNodeId: 'start',
    triggerData: { n: 1 },
    state: null,
    steps: [],
    maxNodeRuns: 10_000,
    ...overrides,
  };
}

const run = (p: ExecutionPlan, store: ExecutionStore, signal = new AbortController().signal) => runExecution(p, { store, services, signal });

describe('runExecution', () => {
  // start ──► a ──► b ──► c
  const linear = () =>
    graph(
      [
        ['start', 'manual'],
        ['a', 'set', { values: { a: '{{ input.n + 1 }}' } }],
        ['b', 'set', { values: { b: '{{ input.a * 10 }}' } }],
        ['c', 'set', { values: { c: '{{ nodes.a.output.a + input.b }}', first: '{{ nodes.start.output.n }}' } }],
      ],
      ['start -> a', 'a -> b', 'b -> c'],
    );

  it('runs a linear graph, committing each step in order with the state after it', async () => {
    const { catalog, runs } = countingCatalog();
    const store = new MemoryStore();
    const outcome = await run(plan(linear(), catalog), store);

    expect(outcome).toEqual({ status: 'succeeded', output: { n: 1, a: 2, b: 20, c: 22, first: 1 }, response: null });
    expect(store.steps.map((step) => [step.seq, step.node_id, step.status, step.handle])).toEqual([
      [0, 'start', 'succeeded', 'main'],
      [1, 'a', 'succeeded', 'main'],
      [2, 'b', 'succeeded', 'main'],
      [3, 'c', 'succeeded', 'main'],
    ]);
    expect(store.steps[2]!.input).toEqual({ n: 1, a: 2 });
    expect(store.state).toMatchObject({ queue: [], lastSeq: 3, nodeRuns: 4, waiting: null });
    expect(store.finished?.outcome.status).toBe('succeeded');
    expect([...runs.values()]).toEqual([1, 1, 1, 1]);
  });

  it('resumes from a saved state after a crash: the committed nodes do not run again', async () => {
    const { catalog, runs } = countingCatalog();
    // The process "dies" while committing step 2 (node b): steps 0 and 1 are saved.
    const crashed = new MemoryStore({ atSeq: 2, error: () => new Error('the process died') });
    await expect(run(plan(linear(), catalog), crashed)).rejects.toThrow('the process died');
    expect(crashed.steps.map((step) => step.node_id)).toEqual(['start', 'a']);
    expect(crashed.finished).toBeNull();
    expect(crashed.state).toMatchObject({ lastSeq: 1, nodeRuns: 2, queue: [{ node: 'b', from: 1, edge: 'a-b' }] });

    // Another runner picks it up with what the database holds.
    const { catalog: catalog2, runs: runs2 } = countingCatalog();
    const resumed = new MemoryStore();
    resumed.steps = structuredClone(crashed.steps);
    const outcome = await run(
      plan(linear(), catalog2, { state: crashed.state, steps: crashed.steps.map(({ seq, node_id, output }) => ({ seq, node_id, output })) }),
      resumed,
    );

    expect(outcome).toMatchObject({ status: 'succeeded', output: { n: 1, a: 2, b: 20, c: 22, first: 1 } });
    expect(resumed.steps.map((step) => [step.seq, step.node_id])).toEqual([
      [0, 'start'],
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ]);
    expect(Object.fromEntries(runs2)).toEqual({ b: 1, c: 1 });
    expect(resumed.finished?.state).toMatchObject({ lastSeq: 3, nodeRuns: 4 });
    // b ran in the first process too (its commit was lost): at least once, committed exactly once.
    expect(runs.get('b')).toBe(1);
    expect(runs.has('c')).toBe(false);
  });

  it('stops without finishing when the store says the execution is no longer its own', async () => {
    const { catalog, runs } = countingCatalog();
    const store = new MemoryStore({ atSeq: 1, error: () => new ExecutionLostError() });
    const outcome = await run(plan(linear(), catalog), store);

    expect(outcome).toEqual({ status: 'stopped' });
    expect(store.steps.map((step) => step.node_id)).toEqual(['start']);
    expect(store.commits).toBe(2);
    expect(store.finished).toBeNull();
    expect(runs.has('b')).toBe(false);
  });

  it('stops before the next node when its signal is aborted', async () => {
    const { catalog, runs } = countingCatalog();
    const controller = new AbortController();
    controller.abort();
    const store = new MemoryStore();
    expect(await run(plan(linear(), catalog), store, controller.signal)).toEqual({ status: 'stopped' });
    expect(store.commits).toBe(0);
    expect(runs.size).toBe(0);
  });

  //                  ┌─true──► yes ──┐
  // start ──► check ─┤               ├──► join
  //   │              └─false─► no    │
  //   └──────────────► side ─────────┘
  describe('a join (merge) after an if', () => {
    const diamond = () =>
      graph(
        [
          ['start', 'manual'],
          ['check', 'if', { condition: '{{ input.go }}' }],
          ['yes', 'set', { values: { branch: 'yes' } }],
          ['no', 'set', { values: { branch: 'no' } }],
          ['side', 'transform', { output: 'side' }],
          ['join', 'merge', { mode: 'array' }],
        ],
        ['start -> check', 'check.true -> yes', 'check.false -> no', 'yes -> join', 'start -> side', 'side -> join'],
      );

    it('waits for both branches when both can deliver', async () => {
      const { catalog, runs } = countingCatalog();
      const store = new MemoryStore();
      const outcome = await run(plan(diamond(), catalog, { triggerData: { go: true } }), store);

      expect(outcome).toMatchObject({ status: 'succeeded', output: [{ go: true, branch: 'yes' }, 'side'] });
      const order = store.steps.map((step) => step.node_id);
      expect(order.filter((id) => id === 'join')).toHaveLength(1);
      expect(order.indexOf('join')).toBeGreaterThan(order.indexOf('yes'));
      expect(order.indexOf('join')).toBeGreaterThan(order.indexOf('side'));
      expect(runs.get('join')).toBe(1);
      expect(runs.has('no')).toBe(false);
      expect(store.finished?.state.joins).toEqual({});
    });

    it('runs with the branch that delivered when the if took the other way', async () => {
      const { catalog, runs } = countingCatalog();
      const store = new MemoryStore();
      const outcome = await run(plan(diamond(), catalog, { triggerData: { go: false } }), store);

      expect(outcome).toMatchObject({ status: 'succeeded' });
      const join = store.steps.find((step) => step.node_id === 'join')!;
      expect(join.output).toEqual(['side']);
      expect(runs.get('join')).toBe(1);
      expect(runs.has('yes')).toBe(false);
      expect(store.steps.map((step) => step.node_id).sort()).toEqual(['check', 'join', 'no', 'side', 'start']);
    });

    //                  ┌─true──► a ──┐
    // start ──► check ─┤             ├──► join
    //                  └─false─► b ──┘
    it('does not wait for a branch that cannot deliver in a plain diamond', async () => {
      const { catalog, runs } = countingCatalog();
      const store = new MemoryStore();
      const g = graph(
        [
          ['start', 'manual'],
          ['check', 'if', { condition: '{{ input.go }}' }],
          ['a', 'set', { values: { via: 'a' } }],
          ['b', 'set', { values: { via: 'b' } }],
          ['join', 'merge', { mode: 'first' }],
        ],
        ['start -> check', 'check.true -> a', 'check.false -> b', 'a -> join', 'b -> join'],
      );
      const outcome = await run(plan(g, catalog, { triggerData: { go: false } }), store);
      expect(outcome).toMatchObject({ status: 'succeeded', output: { go: false, via: 'b' } });
      expect(store.steps.map((step) => step.node_id)).toEqual(['start', 'check', 'b', 'join']);
      expect(runs.get('join')).toBe(1);
    });
  });

  it('runs a 100-node linear graph', async () => {
    const nodes: Array<[string, string, Record<string, unknown>?]> = [['start', 'manual']];
    const edges: string[] = [];
    for (let i = 1; i < 100; i += 1) {
      nodes.push([`n${i}`, 'set', { values: { [`f${i % 10}`]: i } }]);
      edges.push(`${nodes[i - 1]![0]} -> n${i}`);
    }
    const g = graph(nodes, edges);
    const compiled = compileGraph(g, nodeCatalog);
    let best = Number.POSITIVE_INFINITY;
    let last: MemoryStore | undefined;
    // A warm-up, then the best of a few: the cost of the engine itself, not of the JIT's first pass.
    for (let round = 0; round < 6; round += 1) {
      const store = new MemoryStore();
      const started = performance.now();
      const outcome = await run(plan(g, nodeCatalog, { graph: compiled }), store);
      const elapsed = performance.now() - started;
      expect(outcome.status).toBe('succeeded');
      if (round > 0) best = Math.min(best, elapsed);
      last = store;
    }
    expect(last!.steps).toHaveLength(100);
    expect(last!.steps.map((step) => step.seq)).toEqual([...Array(100).keys()]);
    expect(last!.finished?.outcome).toMatchObject({ status: 'succeeded', output: { n: 1, f9: 99, f0: 90 } });
    console.log(`executor: 100-node linear graph in ${best.toFixed(2)} ms, ${((best * 1000) / 100).toFixed(1)} µs per node (in-memory store)`);
  });
});
