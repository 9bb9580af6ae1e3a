import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { runExecution, type ExecutionOutcome, type ExecutionStore } from '../../src/engine/executor.js';
import { nodeCatalog } from '../../src/engine/nodes/index.js';
import type { NodeServices } from '../../src/engine/ports.js';
import type { StepRecord } from '../../src/engine/run-state.js';
import { compileGraph } from '../../src/engine/runtime-graph.js';
import type { WorkflowGraph, WorkflowNode } from '../../src/engine/types.js';
import {
  api,
  cpuMs,
  load,
  rssMb,
  scaleModeUnavailable,
  signInAdmin,
  startAthena,
  startAthenaScale,
  startBaseline,
  type BenchDialect,
  type LoadRequest,
  type LoadResult,
  type RunningServer,
} from '../lib/harness.js';
import type {
  BaselineResult,
  BaselineRun,
  EngineDbCost,
  EnginePerNodeResult,
  EnginePureCost,
  SoakResult,
  SoakSample,
  WorkflowLoadResult,
  WorkflowRun,
} from '../lib/report.js';
import type { MeasureContext, MeasuredScenario } from '../lib/scenario.js';
import { percentiles } from '../lib/stream-client.js';

/**
 * Issue #6: the workflow engine. A webhook → set → respond workflow under load with every
 * execution's data saved, in embedded mode (one `athena start`) and in scale mode (an API
 * process and a worker on PostgreSQL and Redis), beside the same run's bare Fastify route and a
 * bare Fastify route doing one SQLite INSERT per request; the engine's cost per node on a
 * 100-node linear graph; and an opt-in memory soak.
 */

const ISSUE = 6;
const CONNECTIONS = [10, 50];
const DURATION_S = 10;
/** What every webhook call posts (the insert baseline stores the same body). */
const BODY = JSON.stringify({ name: 'Ada', n: 21 });
const JSON_POST = { method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: BODY };

/**
 * Athena as users run it, quiet: no access log, warnings only. Retention is lifted for the
 * throughput runs so that every execution they caused is still there to be counted after.
 */
const QUIET_ENV = { ATHENA_ACCESS_LOG: 'false', LOG_LEVEL: 'warn' };
const COUNTED_ENV = { ...QUIET_ENV, ATHENA_EXECUTION_RETENTION_COUNT: '100000000' };

const TARGETS = { connections: 50, minExecPerS: 2000, minInsertShare: 0.25, maxP99Ms: 50, maxUsPerNode: 100 };

/** CPU ms per request, to three decimals. */
function perRequest(cpu: number, requests: number): number {
  return requests > 0 ? Math.round((cpu / requests) * 1000) / 1000 : 0;
}

function loadNote(): string {
  const [one, five] = os.loadavg();
  return `load average when it started: ${one!.toFixed(2)} (1 min), ${five!.toFixed(2)} (5 min) on ${os.cpus().length} cores`;
}

// ---------------------------------------------------------------------------------------------
// Baselines: measured once per run, whichever scenario asks first.

type BaselineKind = 'hello' | 'insert';
const baselineMemo = new Map<string, Promise<Record<number, BaselineRun>>>();

function measureBaseline(kind: BaselineKind, context: MeasureContext): Promise<Record<number, BaselineRun>> {
  const key = `${context.runAt}:${kind}`;
  let pending = baselineMemo.get(key);
  if (!pending) {
    pending = (async () => {
      // The runner's own hello-world baseline, when it measured one at these connections.
      const reused = kind === 'hello' ? context.baselines.hello : undefined;
      if (reused && CONNECTIONS.every((c) => reused[c])) {
        context.log(`baseline-fastify: reusing the runner's hello-world baseline of this run`);
        return Object.fromEntries(CONNECTIONS.map((c) => [c, reused[c]!]));
      }
      const server = await startBaseline(kind === 'hello' ? 'hello' : 'sqlite-insert');
      const request: LoadRequest = kind === 'hello' ? { path: '/' } : { path: '/', ...JSON_POST };
      const runs: Record<number, BaselineRun> = {};
      try {
        for (const c of CONNECTIONS) {
          const cpuBefore = cpuMs(server.pid);
          const run = await load(server.url, request, c, DURATION_S);
          runs[c] = { ...run, cpuMsPerRequest: perRequest(cpuMs(server.pid) - cpuBefore, (run.sent ?? 0) + (run.warmupSent ?? 0)) };
          context.log(
            `baseline ${kind === 'hello' ? 'fastify' : 'insert'} c=${c}: ${run.rps} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, server CPU ${runs[c]!.cpuMsPerRequest} ms per request`,
          );
        }
      } finally {
        await server.stop();
      }
      return runs;
    })();
    baselineMemo.set(key, pending);
  }
  return pending;
}

function baselineScenario(kind: BaselineKind): MeasuredScenario {
  const hello = kind === 'hello';
  return {
    kind: 'measured',
    id: hello ? 'baseline-fastify' : 'baseline-insert',
    issue: ISSUE,
    title: hello ? 'Baseline: bare Fastify route answering JSON' : 'Baseline: bare Fastify route doing one SQLite INSERT per request',
    async run(context): Promise<BaselineResult> {
      const runs = await measureBaseline(kind, context);
      return {
        kind: 'baseline',
        id: this.id,
        issue: this.issue,
        title: this.title,
        runAt: context.runAt,
        machine: context.machine,
        description: hello
          ? '`GET /` answering `{"hello":"world"}` (bench/lib/baseline-server.ts), Fastify 5, no plugins, logger off.'
          : `\`POST /\` with the webhook's JSON body (${BODY}); one better-sqlite3 INSERT of the body and a timestamp per request, prepared once, into a WAL database with Athena's pragmas (synchronous = NORMAL, incremental auto-vacuum, foreign keys, busy timeout): the floor for a request that saves a row.`,
        runs: CONNECTIONS.map((c) => runs[c]!),
        notes: [loadNote()],
      };
    },
  };
}

export const baselineFastify = baselineScenario('hello');
export const baselineInsert = baselineScenario('insert');

// ---------------------------------------------------------------------------------------------
// Webhook → set → respond under load.

/** The workflow of the issue: a webhook answered by its respond node, after a set with one expression. */
const WEBHOOK_WORKFLOW = {
  name: 'Bench webhook',
  description: 'webhook → set → respond',
  is_active: true,
  nodes: [
    { id: 'hook', type: 'webhook', name: 'Webhook', position: { x: 0, y: 0 }, parameters: { method: 'POST', respond: 'respond_node' } },
    { id: 'greet', type: 'set', name: 'Greet', position: { x: 200, y: 0 }, parameters: { values: { greeting: '{{ "hello " & trigger.body.name }}' } } },
    { id: 'reply', type: 'respond', name: 'Reply', position: { x: 400, y: 0 }, parameters: { status: 200, body: '{{ input }}' } },
  ],
  edges: [
    { id: 'hook-greet', source: 'hook', target: 'greet' },
    { id: 'greet-reply', source: 'greet', target: 'reply' },
  ],
};

interface Counts {
  total: number;
  by_status: Record<string, number>;
}

/** The workflow's execution counts once none is queued or running (the last replies leave before their final commit). */
async function settledCounts(url: string, token: string, workflowId: string): Promise<Counts> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const counts = (await api<{ data: Counts }>(url, 'GET', `/api/v1/workflow-executions/counts?workflow_uuid=${workflowId}`, token)).data;
    if ((counts.by_status.queued ?? 0) + (counts.by_status.running ?? 0) === 0) return counts;
    if (Date.now() > deadline) throw new Error(`executions still queued or running after 60 s: ${JSON.stringify(counts.by_status)}`);
    await sleep(200);
  }
}

/** Creates the workflow and checks one call answers what the workflow says; answers the webhook's path with its secret. */
async function prepareWebhook(server: RunningServer, token: string): Promise<{ workflowId: string; path: string }> {
  const created = await api<{ data: { uuid: string; webhook_url: string } }>(server.url, 'POST', '/api/v1/workflows', token, WEBHOOK_WORKFLOW);
  const url = new URL(created.data.webhook_url);
  const path = `${url.pathname}${url.search}`;
  const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: JSON_POST.headers, body: BODY });
  const body = (await response.json()) as { greeting?: string; body?: unknown };
  if (response.status !== 200 || body.greeting !== 'hello Ada') {
    throw new Error(`the webhook answered ${response.status} ${JSON.stringify(body)}, not the workflow's reply`);
  }
  return { workflowId: created.data.uuid, path };
}

/** Each connection count in turn, with the executions each run left stored counted against its 2xx answers. */
async function driveWebhook(
  label: string,
  server: RunningServer,
  token: string,
  log: (m: string) => void,
  workerPids: number[] = [],
): Promise<WorkflowRun[]> {
  const { workflowId, path } = await prepareWebhook(server, token);
  const runs: WorkflowRun[] = [];
  const workersCpu = () => workerPids.reduce((sum, pid) => sum + cpuMs(pid), 0);
  for (const c of CONNECTIONS) {
    const before = await settledCounts(server.url, token, workflowId);
    const cpuBefore = cpuMs(server.pid);
    const workersBefore = workersCpu();
    const run = await load(server.url, { path, ...JSON_POST }, c, DURATION_S);
    const after = await settledCounts(server.url, token, workflowId);
    const cpu = cpuMs(server.pid) - cpuBefore;
    const workers = workersCpu() - workersBefore;
    const stored = after.total - before.total;
    const failed = (after.by_status.failed ?? 0) - (before.by_status.failed ?? 0);
    const answered = (run.ok ?? 0) + (run.warmupOk ?? 0);
    const sent = (run.sent ?? 0) + (run.warmupSent ?? 0);
    runs.push({
      ...run,
      stored,
      answered2xx: answered,
      sentTotal: sent,
      failedExecutions: failed,
      cpuMsPerExecution: perRequest(cpu, stored),
      ...(workerPids.length ? { workerCpuMsPerExecution: perRequest(workers, stored) } : {}),
    });
    const last = runs.at(-1)!;
    log(
      `${label} c=${c}: ${run.rps} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, non-2xx ${run.non2xx}, errors ${run.errors}; ` +
        `stored ${stored} executions for ${answered} 2xx answers (${sent} sent, warm-up included), ${failed} failed; ` +
        `server CPU ${last.cpuMsPerExecution} ms per execution${workerPids.length ? ` (+ worker ${last.workerCpuMsPerExecution} ms)` : ''}`,
    );
  }
  return runs;
}

function workflowLoadResult(
  scenario: { id: string; issue: number; title: string },
  context: MeasureContext,
  mode: 'embedded' | 'scale',
  baselines: { hello: Record<number, BaselineRun>; insert: Record<number, BaselineRun> },
): WorkflowLoadResult {
  return {
    kind: 'workflow-load',
    id: scenario.id,
    issue: scenario.issue,
    title: scenario.title,
    runAt: context.runAt,
    machine: context.machine,
    mode,
    targets: mode === 'embedded' ? TARGETS : null,
    baselines,
    notes: [],
    dialects: {},
  };
}

const COMMON_NOTES = [
  `Each call: \`POST /api/v1/workflows/{uuid}/webhook?secret=…\` with ${BODY}; the workflow is webhook (respond: respond_node) → set (\`greeting\` = \`{{ "hello " & trigger.body.name }}\`) → respond (body \`{{ input }}\`). Every execution is stored with its trigger data and each node's input and output. The execution row is small: it references the workflow version, whose graph is stored once per version (\`workflow_versions\`). Each step is one INSERT carrying the node's input and output and the run state after it, guarded by the runner's lease, and committed before the next node starts (the durability of issue #6); the commit is a group commit: the writes of all executions made in the same turn of the event loop go in one transaction, and each waits for that COMMIT.`,
  'The reply leaves once the respond node\'s step is committed; the execution\'s end is committed right after. The counts are read once nothing is queued or running.',
  'Server CPU ms per execution: user + system CPU time of the serving process (/proc) over the warm-up and the run, divided by the executions stored (in scale mode the worker\'s beside it; PostgreSQL\'s and Redis\'s own CPU is not counted). Other work on the machine moves it less than it moves req/s; compare it with the baselines\' CPU per request.',
  `Stored = 2xx: the executions the run left (\`GET /api/v1/workflow-executions/counts\`, 2-second warm-up included) against the 2xx answers autocannon counted. autocannon closes its connections when the time is up, so requests still in flight then (at most one per connection, sent but never answered) may also have run: ✅ when every 2xx has its execution, none failed, and any extra is within the requests sent but not answered.`,
];

function storedVerdict(run: WorkflowRun): boolean {
  return run.failedExecutions === 0 && run.stored >= run.answered2xx && run.stored <= run.sentTotal;
}

export const wfWebhook: MeasuredScenario = {
  kind: 'measured',
  id: 'wf-webhook',
  issue: ISSUE,
  title: 'Webhook → set → respond, execution data saved: embedded mode (`athena start`)',
  async run(context): Promise<WorkflowLoadResult> {
    const baselines = { hello: await measureBaseline('hello', context), insert: await measureBaseline('insert', context) };
    const result = workflowLoadResult(this, context, 'embedded', baselines);
    result.notes.push(
      ...COMMON_NOTES,
      'Embedded mode, default settings: the process runs up to 256 executions at once inline (`ATHENA_WORKFLOW_CONCURRENCY`); a call beyond that is queued in the database and picked up by the same process\'s runner. Retention lifted (`ATHENA_EXECUTION_RETENTION_COUNT`) so that nothing is pruned before it is counted.',
      loadNote(),
    );
    for (const dialect of context.dialects) {
      const server = await startAthena(dialect, COUNTED_ENV);
      try {
        const token = await signInAdmin(server.url);
        const runs = await driveWebhook(`wf-webhook ${dialect}`, server, token, context.log);
        result.dialects[dialect] = { runs, rssAfterMb: rssMb(server.pid) };
      } finally {
        await server.stop();
      }
    }
    for (const [dialect, data] of Object.entries(result.dialects)) {
      for (const run of data?.runs ?? []) if (!storedVerdict(run)) context.log(`  ${dialect} c=${run.connections}: stored executions do not match the 2xx answers`);
    }
    return result;
  },
};

export const wfWebhookScale: MeasuredScenario = {
  kind: 'measured',
  id: 'wf-webhook-scale',
  issue: ISSUE,
  title: 'Webhook → set → respond, execution data saved: scale mode (`athena start --no-worker` + one `athena worker`, PostgreSQL and Redis)',
  async run(context): Promise<WorkflowLoadResult> {
    const baselines = { hello: await measureBaseline('hello', context), insert: await measureBaseline('insert', context) };
    const result = workflowLoadResult(this, context, 'scale', baselines);
    result.notes.push(
      'The same workflow, calls and checks as in embedded mode above.',
      COMMON_NOTES[2]!,
      'Scale mode: the API process queues each execution in PostgreSQL and on the BullMQ queue in Redis; the worker claims and runs it, and the answer comes back to the API process over Redis pub/sub. Four processes (API, worker, PostgreSQL, Redis) and the load generator share the 2 cores.',
      loadNote(),
    );
    const unavailable = !context.dialects.includes('postgres') ? 'PostgreSQL is not in this run (`--dialect sqlite`, or it does not answer)' : await scaleModeUnavailable();
    if (unavailable) {
      result.skipped = `Scale mode was not measured: ${unavailable}.`;
      context.log(`wf-webhook-scale skipped: ${unavailable}`);
      return result;
    }
    const servers = await startAthenaScale(1, COUNTED_ENV);
    try {
      const token = await signInAdmin(servers.url);
      const runs = await driveWebhook('wf-webhook-scale postgres', servers, token, context.log, servers.workerPids);
      result.dialects.postgres = { runs, rssAfterMb: rssMb(servers.pid), workerRssAfterMb: servers.workerPids.map((pid) => rssMb(pid)) };
    } finally {
      await servers.stop();
    }
    return result;
  },
};

// ---------------------------------------------------------------------------------------------
// The engine's cost per node.

const LINEAR_NODES = 100;

/** manual → (nodes − 1) set nodes in a line, each setting `count` from its input (with one expression, or a constant). */
function linearGraph(nodes: number, expression: boolean): WorkflowGraph {
  const list: WorkflowNode[] = [{ id: 'start', type: 'manual', name: 'Start', position: { x: 0, y: 0 }, parameters: {} }];
  for (let i = 1; i < nodes; i++) {
    list.push({
      id: `set_${i}`,
      type: 'set',
      name: `Set ${i}`,
      position: { x: i * 200, y: 0 },
      parameters: { values: { count: expression ? '{{ input.count + 1 }}' : i } },
    });
  }
  return { nodes: list, edges: list.slice(1).map((node, i) => ({ id: `e_${i}`, source: list[i]!.id, target: node.id })) };
}

/** Keeps each step in memory: the engine's work without any storage. */
class MemoryStore implements ExecutionStore {
  readonly steps: StepRecord[] = [];
  outcome: ExecutionOutcome | undefined;
  async commitStep(step: StepRecord): Promise<void> {
    this.steps.push(step);
  }
  async park(): Promise<void> {
    throw new Error('the bench graph has no wait node');
  }
  async finish(outcome: Exclude<ExecutionOutcome, { status: 'waiting' } | { status: 'stopped' }>): Promise<void> {
    this.outcome = outcome;
  }
  async revealSecret(): Promise<string> {
    return '';
  }
}

const unused = () => Promise.reject(new Error('the bench graph calls no service'));
const NO_SERVICES: NodeServices = { http: unused, runPrompt: unused, runAgent: unused, runWorkflow: unused, customerAccounts: unused, runCode: unused };

const PURE_WARMUP = 300;
const PURE_ROUNDS = 10;
const PURE_RUNS_PER_ROUND = 200;

async function measurePureEngine(expression: boolean): Promise<EnginePureCost> {
  // Compiled once, as the runner does per workflow version.
  const graph = compileGraph(linearGraph(LINEAR_NODES, expression), nodeCatalog);
  const signal = new AbortController().signal;
  const runOnce = async () => {
    const store = new MemoryStore();
    const outcome = await runExecution(
      {
        execution: { uuid: randomUUID(), workflow_uuid: 'bench', workspace_uuid: 'bench', started_at: new Date().toISOString(), trigger: 'manual', user_id: null },
        graph,
        variables: [],
        triggerNodeId: 'start',
        triggerData: { count: 0 },
        state: null,
        steps: [],
        maxNodeRuns: 10_000,
      },
      { store, services: NO_SERVICES, signal },
    );
    const count = outcome.status === 'succeeded' ? (outcome.output as { count?: number }).count : undefined;
    if (count !== LINEAR_NODES - 1 || store.steps.length !== LINEAR_NODES) {
      throw new Error(`the 100-node run ended ${outcome.status} with count ${count} after ${store.steps.length} steps`);
    }
  };
  for (let i = 0; i < PURE_WARMUP; i++) await runOnce();
  const rounds: number[] = [];
  for (let round = 0; round < PURE_ROUNDS; round++) {
    const started = performance.now();
    for (let i = 0; i < PURE_RUNS_PER_ROUND; i++) await runOnce();
    rounds.push(((performance.now() - started) * 1000) / (PURE_RUNS_PER_ROUND * LINEAR_NODES));
  }
  rounds.sort((a, b) => a - b);
  const round2 = (v: number) => Math.round(v * 100) / 100;
  return {
    runs: PURE_ROUNDS * PURE_RUNS_PER_ROUND,
    usPerNodeMedian: round2(rounds[Math.floor(rounds.length / 2)]!),
    usPerNodeMin: round2(rounds[0]!),
    usPerNodeMax: round2(rounds.at(-1)!),
  };
}

const DB_WARMUP = 5;
const DB_RUNS = 40;

/** One `execute` with `wait: true`, timed on this process's clock; checks the run went through every node. */
async function timedExecute(url: string, token: string, workflowId: string, nodes: number): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${url}/api/v1/workflows/${workflowId}/execute`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ input: { count: 0 }, wait: true }),
  });
  const body = (await response.json()) as { data?: { status: string; output: { count?: number }; node_runs: number } };
  const elapsed = performance.now() - started;
  if (response.status !== 200 || body.data?.status !== 'succeeded' || body.data.output.count !== nodes - 1 || body.data.node_runs !== nodes) {
    throw new Error(`execute of the ${nodes}-node workflow answered ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  return elapsed;
}

async function measureDbEngine(dialect: BenchDialect, log: (m: string) => void): Promise<EngineDbCost> {
  const server = await startAthena(dialect, QUIET_ENV);
  try {
    const token = await signInAdmin(server.url);
    const create = async (nodes: number) =>
      (await api<{ data: { uuid: string } }>(server.url, 'POST', '/api/v1/workflows', token, { name: `Linear ${nodes}`, ...linearGraph(nodes, true) })).data.uuid;
    const long = await create(LINEAR_NODES);
    const short = await create(2);
    for (let i = 0; i < DB_WARMUP; i++) {
      await timedExecute(server.url, token, long, LINEAR_NODES);
      await timedExecute(server.url, token, short, 2);
    }
    const longMs: number[] = [];
    const shortMs: number[] = [];
    for (let i = 0; i < DB_RUNS; i++) {
      longMs.push(await timedExecute(server.url, token, long, LINEAR_NODES));
      shortMs.push(await timedExecute(server.url, token, short, 2));
    }
    const longP = percentiles(longMs);
    const shortP = percentiles(shortMs);
    const result: EngineDbCost = {
      runs: DB_RUNS,
      executeMs100: longP,
      executeMs2: shortP,
      usPerNode: Math.round((longP.p50 * 1000) / LINEAR_NODES),
      marginalUsPerNode: Math.round(((longP.p50 - shortP.p50) * 1000) / (LINEAR_NODES - 2)),
    };
    log(
      `wf-engine-per-node ${dialect}: execute (wait) of 100 nodes p50 ${longP.p50} ms, of 2 nodes p50 ${shortP.p50} ms: ` +
        `${result.usPerNode} µs per node, ${result.marginalUsPerNode} µs per extra node`,
    );
    return result;
  } finally {
    await server.stop();
  }
}

export const wfEnginePerNode: MeasuredScenario = {
  kind: 'measured',
  id: 'wf-engine-per-node',
  issue: ISSUE,
  title: 'The engine\'s cost per node (a 100-node linear workflow)',
  async run(context): Promise<EnginePerNodeResult> {
    const note = loadNote();
    const pure = await measurePureEngine(true);
    context.log(`wf-engine-per-node pure engine, one expression per node: ${pure.usPerNodeMedian} µs per node (rounds ${pure.usPerNodeMin}–${pure.usPerNodeMax})`);
    const constant = await measurePureEngine(false);
    context.log(`wf-engine-per-node pure engine, constant values: ${constant.usPerNodeMedian} µs per node (rounds ${constant.usPerNodeMin}–${constant.usPerNodeMax})`);
    const result: EnginePerNodeResult = {
      kind: 'engine-per-node',
      id: this.id,
      issue: this.issue,
      title: this.title,
      runAt: context.runAt,
      machine: context.machine,
      nodes: LINEAR_NODES,
      maxUsPerNode: TARGETS.maxUsPerNode,
      pure,
      pureConstant: constant,
      dialects: {},
      notes: [
        `The graph: manual → 99 \`set\` nodes in a line, each setting \`count\` to \`{{ input.count + 1 }}\` (JSONata); the run must end with \`count\` = 99 after 100 steps. A second graph sets a constant instead, to show the expression's share.`,
        `Pure engine: \`runExecution\` (src/engine/executor.ts) in the bench process on the compiled graph (\`compileGraph\`, once, as the runner caches it per version) with an in-memory ExecutionStore that keeps each step; ${PURE_WARMUP} warm-up runs, then ${PURE_ROUNDS} rounds of ${PURE_RUNS_PER_ROUND} runs; µs per node = a round's time / (runs × 100 nodes), median round (min–max).`,
        `With persistence: \`POST /api/v1/workflows/{uuid}/execute\` with \`wait: true\` against \`athena start\`, one at a time (the real DbExecutionStore: each step one INSERT with the run state after it, guarded by the runner's lease and committed before the next node starts; with one execution at a time, each group commit holds that one write); ${DB_WARMUP} warm-up rounds, then ${DB_RUNS} of the 100-node and a 2-node (manual → set) workflow alternately. Per node: the 100-node p50 / 100 (HTTP and the execution's own rows included); per extra node: (p50 of 100 nodes − p50 of 2 nodes) / 98.`,
        note,
      ],
    };
    for (const dialect of context.dialects) result.dialects[dialect] = await measureDbEngine(dialect, context.log);
    return result;
  },
};

// ---------------------------------------------------------------------------------------------
// Memory over a long run.

const SOAK_CONNECTIONS = 20;
const SOAK_DEFAULT_S = 120;
const SOAK_SAMPLE_MS = 10_000;

async function heapUsedMb(url: string): Promise<number | null> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const match = /^nodejs_heap_size_used_bytes\s+([0-9.e+]+)/m.exec(text);
    return match ? Math.round((Number(match[1]) / 2 ** 20) * 10) / 10 : null;
  } catch {
    return null;
  }
}

export const wfSoak: MeasuredScenario = {
  kind: 'measured',
  id: 'wf-soak',
  issue: ISSUE,
  title: 'Memory under a long webhook run (embedded mode, SQLite)',
  optIn: true,
  async run(context): Promise<SoakResult> {
    const durationS = context.durationS ?? SOAK_DEFAULT_S;
    const note = loadNote();
    // Default retention: pruning runs every minute, as for users, so the database stays bounded too.
    const server = await startAthena('sqlite', QUIET_ENV);
    try {
      const token = await signInAdmin(server.url);
      const { workflowId, path } = await prepareWebhook(server, token);
      const samples: SoakSample[] = [];
      const started = performance.now();
      const sample = async () => {
        samples.push({ atS: Math.round((performance.now() - started) / 1000), rssMb: rssMb(server.pid), heapUsedMb: await heapUsedMb(server.url) });
        const last = samples.at(-1)!;
        context.log(`wf-soak t=${last.atS}s: RSS ${last.rssMb} MB, heap used ${last.heapUsedMb ?? '?'} MB`);
      };
      await sample();
      const timer = setInterval(() => void sample(), SOAK_SAMPLE_MS);
      let run: LoadResult;
      try {
        run = await load(server.url, { path, ...JSON_POST }, SOAK_CONNECTIONS, durationS);
      } finally {
        clearInterval(timer);
      }
      await sample();
      const counts = await settledCounts(server.url, token, workflowId);
      const during = samples.slice(1, -1);
      const half = Math.floor(during.length / 2);
      const maxOf = (list: SoakSample[]) => Math.max(...list.map((s) => s.rssMb));
      const result: SoakResult = {
        kind: 'soak',
        id: this.id,
        issue: this.issue,
        title: this.title,
        runAt: context.runAt,
        machine: context.machine,
        durationS,
        connections: SOAK_CONNECTIONS,
        run,
        samples,
        firstRssMb: during[0]?.rssMb ?? samples[0]!.rssMb,
        lastRssMb: during.at(-1)?.rssMb ?? samples.at(-1)!.rssMb,
        maxRssMb: maxOf(samples),
        firstHalfMaxRssMb: half > 0 ? maxOf(during.slice(0, half)) : null,
        secondHalfMaxRssMb: half > 0 ? maxOf(during.slice(half)) : null,
        storedAtEnd: counts.total,
        failedExecutions: counts.by_status.failed ?? 0,
        notes: [
          ...(counts.total > 10_000
            ? [`${counts.total.toLocaleString('en-US')} executions kept at the end, above the 10,000 of the retention policy: what ran since the last prune (they run a minute apart, in batches of 500).`]
            : []),
          `One \`athena start\` on SQLite with default settings (retention included: at most 10,000 executions per workflow, pruned every minute), driven at c=${SOAK_CONNECTIONS} for ${durationS} s (after a 2-second warm-up) with the webhook → set → respond workflow; the server's RSS (/proc) and V8 heap used (\`/metrics\`) sampled every ${SOAK_SAMPLE_MS / 1000} s.`,
          'Flat: the highest RSS of the second half of the run is within 10% of the highest of the first half (the sample taken before the load is left out).',
          note,
        ],
      };
      context.log(
        `wf-soak: ${run.rps} req/s over ${durationS} s, p99 ${run.p99} ms; RSS first ${result.firstRssMb} MB, last ${result.lastRssMb} MB, max ${result.maxRssMb} MB; ${counts.total} executions kept`,
      );
      return result;
    } finally {
      await server.stop();
    }
  },
};

/** Issue #6's scenarios, in the order they run (baselines first, so the workflow runs reuse them). */
export const workflowScenarios: MeasuredScenario[] = [baselineFastify, baselineInsert, wfWebhook, wfWebhookScale, wfEnginePerNode, wfSoak];
