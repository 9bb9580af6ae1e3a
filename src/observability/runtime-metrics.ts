import { sql } from 'kysely';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AppContext } from '../context.js';
import { NODE_TYPES } from '../engine/nodes/index.js';
import { EXECUTION_TRIGGERS } from '../modules/executions/executions.table.js';
import { RUN_KINDS, RUN_STATUSES } from '../modules/runs/runs.table.js';

/**
 * Workflow, queue and model-run instruments of one server's registry. Every label takes its
 * value from a closed list (anything else becomes "other"): statuses, triggers, node types,
 * run kinds, provider drivers. Never ids, names or slugs users choose.
 */

const FINISHED = ['succeeded', 'failed', 'canceled'] as const;
const UNFINISHED = ['queued', 'running', 'waiting'] as const;
type Unfinished = Record<(typeof UNFINISHED)[number], number>;
const NODE_STATUSES = ['succeeded', 'failed'] as const;
const RUN_ENDS = RUN_STATUSES.filter((status) => status !== 'queued' && status !== 'running');

/** Providers of the official catalog (migration 0002): labelled by their slug. */
const OFFICIAL_PROVIDERS = new Set(['openai', 'anthropic', 'google-gemini', 'mistral', 'groq', 'deepseek', 'openrouter', 'ollama', 'openai-compatible']);
/** Slugs that get their vendor's own SDK on the OpenAI wire protocol (src/ai/model-factory.ts). */
const OPENAI_DRIVERS = new Set(['openai', 'mistral', 'groq']);

/** What the model of a run was called through, enough to name its provider label. */
export interface ProviderOfRun {
  /** The provider's wire protocol (`metadata.api`): openai, anthropic, gemini, ollama. */
  api: string;
  provider: { slug: string; workspace_id: string | null };
}

/** A run at its end, as stored. */
export interface FinishedRun {
  kind: string;
  status: string;
  input_tokens: number;
  output_tokens: number;
  cost: number;
}

/**
 * The `provider` label: an official provider's slug (a fixed list), else the driver a custom
 * provider's calls go through (the same choice src/ai/model-factory.ts makes), never its slug.
 */
export function providerLabel(target: ProviderOfRun): string {
  const { slug, workspace_id } = target.provider;
  if (workspace_id === null && OFFICIAL_PROVIDERS.has(slug)) return slug;
  switch (target.api) {
    case 'anthropic':
      return 'anthropic';
    case 'gemini':
      return 'google-gemini';
    case 'ollama':
      return 'ollama';
    case 'openai':
      return OPENAI_DRIVERS.has(slug) ? slug : 'openai-compatible';
    default:
      return 'other';
  }
}

/**
 * Seconds between two ISO timestamps as the engine writes them (`2026-12-03T18:00:00.000Z`); 0
 * when the end is not after the start. Same minute (nearly every node run): read from the
 * digits, which costs a fraction of two Date.parse calls on this per-node path.
 */
export function secondsBetween(startedAt: string, finishedAt: string): number {
  let ms: number;
  if (startedAt.length === 24 && finishedAt.length === 24 && sameMinute(startedAt, finishedAt)) {
    ms = msOfMinute(finishedAt) - msOfMinute(startedAt);
  } else {
    ms = Date.parse(finishedAt) - Date.parse(startedAt);
  }
  return ms > 0 ? ms / 1000 : 0;
}

function sameMinute(a: string, b: string): boolean {
  for (let i = 0; i < 17; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return false;
  return true;
}

/** `ss.mmm` of `…T hh:mm:ss.mmmZ` in milliseconds (NaN when they are not digits). */
function msOfMinute(iso: string): number {
  let ms = 0;
  for (const i of MS_DIGITS) {
    const digit = iso.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return NaN;
    ms = ms * 10 + digit;
  }
  return ms;
}

const MS_DIGITS = [17, 18, 20, 21, 22];

/**
 * A value read on scrape, kept for `ttlMs` so a burst of scrapes costs one read. A read that
 * fails or takes longer than `timeoutMs` answers the last value (undefined before the first),
 * and the next attempt waits for the ttl too: an outage never fails /metrics nor is hammered.
 */
function sampled<T>(read: () => Promise<T>, ttlMs: number, timeoutMs: number): () => Promise<T | undefined> {
  let value: T | undefined;
  let readAt = -Infinity;
  let reading: Promise<void> | undefined;
  return async () => {
    if (Date.now() - readAt < ttlMs) return value;
    // One read at a time, even when the last one outlived its scrape.
    reading ??= read()
      .then(
        (fresh) => {
          value = fresh;
        },
        () => undefined,
      )
      .finally(() => {
        readAt = Date.now();
        reading = undefined;
      });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([reading, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return value;
  };
}

/** How long a scrape's database and queue reads are reused, and how long one may take. */
const SAMPLE_TTL_MS = 2_000;
const SAMPLE_TIMEOUT_MS = 1_000;

/** Unfinished executions of the whole database, each status counted by its own partial index. */
async function countUnfinished(ctx: AppContext): Promise<Unfinished> {
  const db = ctx.db.kysely;
  // A literal, not a parameter: SQLite uses a partial index only for a constant it can match.
  const count = (status: (typeof UNFINISHED)[number]) =>
    db.selectFrom('workflow_executions').where('status', '=', sql.lit(status)).select((eb) => eb.fn.countAll<number | string>().as('n'));
  const row = await db
    .selectNoFrom([count('queued').as('queued'), count('running').as('running'), count('waiting').as('waiting')])
    .executeTakeFirstOrThrow();
  return { queued: Number(row.queued ?? 0), running: Number(row.running ?? 0), waiting: Number(row.waiting ?? 0) };
}

export function createRuntimeMetrics(registry: Registry) {
  let ctx: AppContext | undefined;
  let queueDepth: (() => Promise<number | undefined>) | undefined;
  const unfinished = sampled(async () => (ctx ? countUnfinished(ctx) : undefined), SAMPLE_TTL_MS, SAMPLE_TIMEOUT_MS);

  const executionsTotal = new Counter({
    name: 'athena_workflow_executions_total',
    help: 'Workflow executions that reached an end (succeeded, failed, canceled), by status and trigger.',
    labelNames: ['status', 'trigger'] as const,
    registers: [registry],
  });
  const triggers = [...EXECUTION_TRIGGERS, 'other'];
  const executionChildren = new Map<string, { inc(): void }>();
  for (const status of FINISHED) {
    for (const trigger of triggers) {
      const child = executionsTotal.labels({ status, trigger });
      // Exported at 0 from the start, so rate() sees the first one.
      child.inc(0);
      executionChildren.set(`${status} ${trigger}`, child);
    }
  }

  new Gauge({
    name: 'athena_workflow_executions',
    help: 'Unfinished workflow executions in the database (every process), by status: queued, running, waiting. Read on scrape, reused for 2 s.',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const counts = await unfinished();
      if (counts) for (const status of UNFINISHED) this.set({ status }, counts[status]);
    },
  });
  new Gauge({
    name: 'athena_workflow_executions_in_process',
    help: 'Workflow executions this process is running now.',
    registers: [registry],
    collect() {
      if (ctx) this.set(ctx.executions.activeCount);
    },
  });

  const nodeDuration = new Histogram({
    name: 'athena_workflow_node_duration_seconds',
    help: 'Time of workflow node runs (retries included), by node type and status; millisecond resolution.',
    labelNames: ['node_type', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  type NodeChildren = Record<(typeof NODE_STATUSES)[number], { observe(value: number): void }>;
  const nodeTypes = new Set(NODE_TYPES.map((definition) => definition.type));
  const nodeChildrenOf = (nodeType: string): NodeChildren => ({
    succeeded: nodeDuration.labels({ node_type: nodeType, status: 'succeeded' }),
    failed: nodeDuration.labels({ node_type: nodeType, status: 'failed' }),
  });
  // Labelled children per node type (this runs for every node run: see recordHttp).
  const nodeChildren = new Map<string, NodeChildren>();
  let otherNodes: NodeChildren | undefined;

  new Gauge({
    name: 'athena_queue_depth',
    help: 'Executions waiting for a runner: queue="executions" is the BullMQ queue in scale mode (waiting + delayed jobs), queue="embedded" the queued executions in the database otherwise. Read on scrape, reused for 2 s.',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      if (queueDepth) {
        const depth = await queueDepth();
        if (depth !== undefined) this.set({ queue: 'executions' }, depth);
        return;
      }
      const counts = await unfinished();
      if (counts) this.set({ queue: 'embedded' }, counts.queued);
    },
  });

  const modelTokens = new Counter({
    name: 'athena_model_tokens_total',
    help: 'Model tokens of finished runs, by provider (official slug or custom provider driver) and direction (input, output).',
    labelNames: ['provider', 'direction'] as const,
    registers: [registry],
  });
  const modelCost = new Counter({
    name: 'athena_model_cost_total',
    help: 'Cost of finished runs in US dollars (catalog prices), by provider (official slug or custom provider driver).',
    labelNames: ['provider'] as const,
    registers: [registry],
  });
  const runsTotal = new Counter({
    name: 'athena_runs_total',
    help: 'Model runs (agent, thread, prompt, generate; workflow AI nodes included) that ended, by kind and status.',
    labelNames: ['kind', 'status'] as const,
    registers: [registry],
  });
  for (const kind of RUN_KINDS) for (const status of RUN_ENDS) runsTotal.labels({ kind, status }).inc(0);
  new Gauge({
    name: 'athena_runs_active',
    help: 'Agent, thread and prompt runs in flight in this process (workflow AI nodes included).',
    registers: [registry],
    collect() {
      if (ctx) this.set(ctx.liveRuns.active().length);
    },
  });
  const runKinds = new Set<string>(RUN_KINDS);
  const runStatuses = new Set<string>(RUN_STATUSES);

  return {
    /** Reads gauges from this context's database, runner and live runs on scrape. */
    observe(context: AppContext): void {
      ctx = context;
    },
    /**
     * Scale mode: the queue's depth, read on scrape (reused for 2 s, the last value when the
     * queue does not answer within 1 s). Undefined when the queue closes.
     */
    useQueueDepth(read: (() => Promise<number>) | undefined): void {
      queueDepth = read ? sampled(read, SAMPLE_TTL_MS, SAMPLE_TIMEOUT_MS) : undefined;
    },
    /** An execution reached an end: where its status is stored. */
    executionFinished(status: string, trigger: string): void {
      const child = executionChildren.get(`${status} ${trigger}`) ?? executionChildren.get(`${status} other`);
      child?.inc();
    },
    /** A committed workflow step (node run). */
    nodeRan(nodeType: string, status: string, startedAt: string, finishedAt: string): void {
      let children = nodeChildren.get(nodeType);
      if (!children) {
        if (nodeTypes.has(nodeType)) nodeChildren.set(nodeType, (children = nodeChildrenOf(nodeType)));
        else children = otherNodes ??= nodeChildrenOf('other');
      }
      (status === 'failed' ? children.failed : children.succeeded).observe(secondsBetween(startedAt, finishedAt));
    },
    /** A run's end was stored: counts it with its tokens and cost. */
    runFinished(target: ProviderOfRun, run: FinishedRun): void {
      const kind = runKinds.has(run.kind) ? run.kind : 'other';
      const status = runStatuses.has(run.status) ? run.status : 'other';
      runsTotal.labels({ kind, status }).inc();
      const provider = providerLabel(target);
      if (run.input_tokens > 0) modelTokens.labels({ provider, direction: 'input' }).inc(run.input_tokens);
      if (run.output_tokens > 0) modelTokens.labels({ provider, direction: 'output' }).inc(run.output_tokens);
      if (Number.isFinite(run.cost) && run.cost > 0) modelCost.labels({ provider }).inc(run.cost);
    },
  };
}

export type RuntimeMetrics = ReturnType<typeof createRuntimeMetrics>;
