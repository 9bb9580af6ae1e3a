import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { loadConfig } from '../../src/config.js';
import { createDb } from '../../src/db/database.js';
import { rebuildRollups } from '../../src/modules/metrics/rebuild.js';
import { ADMIN, BENCH_DATABASE_URL, ROOT, api, dropSchema, signInAdmin, startAthena, type AthenaStorage, type BenchDialect } from './harness.js';

/**
 * The issue-7 data set: one workspace holding a year's worth of a busy team's work, spread over
 * the last `days` days: `executions` workflow executions and `messages` messages (user and
 * assistant turns, one agent run per reply) in `threads` threads. Users, the workspace's
 * member, workflows and agents are created through the API of a running Athena; the raw rows
 * (threads, messages, runs, executions) are then bulk-inserted beside it, and the metrics
 * rollups rebuilt from them with `rebuildRollups`, as an upgrade that adds the rollup tables
 * to an existing database would do.
 *
 * The result is kept between runs: SQLite in a data dir under the OS temp dir, PostgreSQL in
 * its own schema (dropped by `dropMetricsDataset`, kept when BENCH_KEEP_METRICS_DATA=1). A
 * data set is reused when its manifest matches the requested size and is less than a week old.
 */

export interface DatasetSpec {
  executions: number;
  messages: number;
  threads: number;
  days: number;
}

export const FULL_SPEC: DatasetSpec = { executions: 1_000_000, messages: 1_000_000, threads: 20_000, days: 120 };

/** Bumped when what the generator writes changes: older data sets are generated again. */
const GENERATOR_VERSION = 1;
const MAX_AGE_MS = 7 * 86_400_000;

export const MEMBER = { name: 'Bench Member', email: 'bench-member@example.test', password: 'bench-member-password-123' };

/** What every server on the data set runs with: retention lifted (the data set is 120 days old), quiet logs. */
export const DATASET_ENV: Record<string, string> = {
  ATHENA_ACCESS_LOG: 'false',
  LOG_LEVEL: 'warn',
  ATHENA_EXECUTION_RETENTION_DAYS: '36500',
  ATHENA_EXECUTION_RETENTION_COUNT: '100000000',
};

export interface OwnedResource {
  id: string;
  owner: 'admin' | 'member';
  visibility: string;
}

export interface MetricsDataset {
  generator: number;
  /** The migrations the schema was made by: a data set made by others (edited in place while in development) is made again. */
  migrations: string;
  dialect: BenchDialect;
  spec: DatasetSpec;
  storage: AthenaStorage;
  generatedAt: string;
  /** The data covers [rangeStart, generatedAt]. */
  rangeStart: string;
  workspaceId: string;
  adminId: number;
  memberId: number;
  workflows: OwnedResource[];
  agents: OwnedResource[];
  counts: {
    executions: number;
    executionsByStatus: Record<string, number>;
    threads: number;
    privateThreads: number;
    memberThreads: number;
    messages: number;
    runs: number;
    feedback: number;
  };
  timings: {
    /** Users, member, workflows and agents through the API (server start included). */
    setupMs: number;
    executionsInsertMs: number;
    conversationsInsertMs: number;
    /** `rebuildRollups` over the whole workspace; null when generated before the checkout had it. */
    rollupsMs: number | null;
    /** ANALYZE on PostgreSQL (what autovacuum does after a bulk load); checkpoint on SQLite. */
    finishMs: number;
    totalMs: number;
  };
  /** Rows in the rollup tables after the rebuild. */
  rollupRows: Record<string, number>;
  /** Size on disk after generation. */
  sizeMb: number;
}

export function datasetDir(dialect: BenchDialect): string {
  return path.join(os.tmpdir(), 'athena-bench-metrics', dialect);
}

function manifestPath(dialect: BenchDialect): string {
  return path.join(datasetDir(dialect), 'dataset.json');
}

function migrationsHash(): string {
  const dir = path.join(ROOT, 'src', 'db', 'migrations');
  const hash = createHash('sha256');
  for (const file of fs.readdirSync(dir).sort()) hash.update(file).update(fs.readFileSync(path.join(dir, file)));
  return hash.digest('hex').slice(0, 16);
}

function sameSpec(a: DatasetSpec, b: DatasetSpec): boolean {
  return a.executions === b.executions && a.messages === b.messages && a.threads === b.threads && a.days === b.days;
}

async function schemaHasData(schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await client.connect();
  try {
    const found = await client.query(`select 1 from information_schema.tables where table_schema = $1 and table_name = 'execution_rollups'`, [schema]);
    return (found.rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

/** The kept data set when it matches `spec`, else undefined. */
export async function cachedDataset(dialect: BenchDialect, spec: DatasetSpec): Promise<MetricsDataset | undefined> {
  const file = manifestPath(dialect);
  if (!fs.existsSync(file)) return undefined;
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as MetricsDataset;
  if (manifest.generator !== GENERATOR_VERSION || manifest.migrations !== migrationsHash() || !sameSpec(manifest.spec, spec)) return undefined;
  if (Date.now() - Date.parse(manifest.generatedAt) > MAX_AGE_MS) return undefined;
  if (dialect === 'sqlite' && !fs.existsSync(path.join(manifest.storage.dataDir, 'athena.sqlite'))) return undefined;
  if (dialect === 'postgres' && !(await schemaHasData(manifest.storage.schema))) return undefined;
  return manifest;
}

/** Removes a data set: its data dir and, on PostgreSQL, its schema. */
export async function dropMetricsDataset(dialect: BenchDialect): Promise<void> {
  const file = manifestPath(dialect);
  if (fs.existsSync(file)) {
    const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as MetricsDataset;
    if (dialect === 'postgres') await dropSchema(manifest.storage.schema);
  } else if (dialect === 'postgres') {
    await dropSchema('bench_metrics');
  }
  fs.rmSync(datasetDir(dialect), { recursive: true, force: true });
}

/**
 * The rollups, recomputed from the raw rows through Athena's own `rebuildRollups`, timed.
 */
async function rebuildDatasetRollups(
  dialect: BenchDialect,
  storage: AthenaStorage,
  workspaceId: string,
  log: (m: string) => void,
): Promise<{ ms: number; rows: Record<string, number> }> {
  const config = loadConfig({
    ATHENA_DATA_DIR: storage.dataDir,
    ...(dialect === 'postgres' ? { DATABASE_URL: BENCH_DATABASE_URL, ATHENA_DATABASE_SCHEMA: storage.schema } : {}),
  });
  const db = await createDb(config);
  try {
    const t = performance.now();
    await rebuildRollups(db, workspaceId);
    const ms = Math.round(performance.now() - t);
    const rows: Record<string, number> = {};
    for (const table of ['execution_rollups', 'agent_run_rollups', 'conversation_rollups'] as const) {
      const row = await db.kysely.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      rows[table] = Number(row.n);
    }
    log(`metrics data (${dialect}): rollups rebuilt in ${(ms / 1000).toFixed(1)} s (${JSON.stringify(rows)})`);
    return { ms, rows };
  } finally {
    await db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Random numbers: seeded, so every run generates the same shape of data.

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** Log-normal with the given median and shape. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }
  /** One of `items`, by `weights` (need not sum to 1). */
  pick<T>(items: readonly T[], weights: readonly number[]): T {
    const total = weights.reduce((a, b) => a + b, 0);
    let x = this.next() * total;
    for (let i = 0; i < items.length; i++) {
      x -= weights[i]!;
      if (x < 0) return items[i]!;
    }
    return items.at(-1)!;
  }
}

/**
 * An instant in [start, end): more recent days busier (activity grows from 0.5× to 1.5× over
 * the range) and working hours busier than nights (a bell around 14:00 UTC).
 */
function activityTime(random: Random, start: number, end: number): number {
  for (;;) {
    const u = random.float();
    const x = (-1 + Math.sqrt(1 + 8 * u)) / 2;
    const t = start + x * (end - start);
    const hour = (t / 3_600_000) % 24;
    const weight = 0.25 + 0.75 * Math.exp(-(((hour - 14) / 5) ** 2));
    if (random.float() < weight) return t;
  }
}

const iso = (ms: number) => new Date(Math.round(ms)).toISOString();
const idAt = (ms: number) => uuidv7({ msecs: Math.round(ms) });

// ---------------------------------------------------------------------------------------------
// Bulk insertion: one transaction with prepared statements on SQLite, unnest batches on PostgreSQL.

type PgType = 'uuid' | 'text' | 'integer' | 'double precision' | 'timestamptz' | 'jsonb';
type Columns = ReadonlyArray<readonly [name: string, type: PgType]>;

interface TableWriter {
  add(row: unknown[]): Promise<void> | void;
  flush(): Promise<void> | void;
}

interface BulkSink {
  /** `before`: writers whose pending rows go in first (the rows referenced by this table's foreign keys). */
  table(name: string, columns: Columns, before?: TableWriter[]): TableWriter;
  close(): Promise<void>;
}

async function sqliteSink(file: string): Promise<BulkSink> {
  const { default: BetterSqlite3 } = await import('better-sqlite3');
  const db = new BetterSqlite3(file);
  // The file's journal stays WAL (Athena's setting); only this loading connection skips fsyncs.
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1000000');
  db.pragma('foreign_keys = OFF');
  let pending = 0;
  db.exec('begin');
  return {
    table(name, columns) {
      const statement = db.prepare(`insert into ${name} (${columns.map(([c]) => c).join(', ')}) values (${columns.map(() => '?').join(', ')})`);
      return {
        add(row) {
          statement.run(row);
          // Commit every 250,000 rows, so the WAL stays a reasonable size.
          if (++pending >= 250_000) {
            db.exec('commit');
            db.exec('begin');
            pending = 0;
          }
        },
        flush() {},
      };
    },
    async close() {
      db.exec('commit');
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
    },
  };
}

async function postgresSink(schema: string): Promise<BulkSink> {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL, options: `-c search_path=${schema},public` });
  await client.connect();
  await client.query('set synchronous_commit = off');
  const BATCH = 5000;
  return {
    table(name, columns, before = []) {
      const buffers: unknown[][] = columns.map(() => []);
      const text = `insert into ${name} (${columns.map(([c]) => c).join(', ')}) select * from unnest(${columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})`;
      const flush = async () => {
        if (buffers[0]!.length === 0) return;
        for (const writer of before) await writer.flush();
        await client.query(text, buffers);
        for (const b of buffers) b.length = 0;
      };
      return {
        async add(row) {
          for (let i = 0; i < row.length; i++) buffers[i]!.push(row[i]);
          if (buffers[0]!.length >= BATCH) await flush();
        },
        flush,
      };
    },
    async close() {
      await client.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The rows.

const EXECUTION_COLUMNS: Columns = [
  ['id', 'uuid'],
  ['workspace_id', 'uuid'],
  ['workflow_id', 'uuid'],
  ['user_id', 'integer'],
  ['status', 'text'],
  ['trigger', 'text'],
  ['trigger_node_id', 'text'],
  ['workflow_version', 'integer'],
  ['output', 'jsonb'],
  ['error', 'jsonb'],
  ['node_runs', 'integer'],
  ['started_at', 'timestamptz'],
  ['finished_at', 'timestamptz'],
  ['created_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
];

const THREAD_COLUMNS: Columns = [
  ['id', 'uuid'],
  ['workspace_id', 'uuid'],
  ['user_id', 'integer'],
  ['agent_id', 'uuid'],
  ['name', 'text'],
  ['visibility', 'text'],
  ['metadata', 'jsonb'],
  ['message_count', 'integer'],
  ['last_message_at', 'timestamptz'],
  ['created_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
];

const RUN_COLUMNS: Columns = [
  ['id', 'uuid'],
  ['workspace_id', 'uuid'],
  ['user_id', 'integer'],
  ['kind', 'text'],
  ['agent_id', 'uuid'],
  ['thread_id', 'uuid'],
  ['provider_slug', 'text'],
  ['model_id', 'text'],
  ['status', 'text'],
  ['finish_reason', 'text'],
  ['error', 'text'],
  ['output', 'text'],
  ['input_tokens', 'integer'],
  ['output_tokens', 'integer'],
  ['cost', 'double precision'],
  ['latency_ms', 'integer'],
  ['ttft_ms', 'integer'],
  ['steps', 'integer'],
  ['started_at', 'timestamptz'],
  ['finished_at', 'timestamptz'],
  ['created_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
];

const MESSAGE_COLUMNS: Columns = [
  ['id', 'uuid'],
  ['workspace_id', 'uuid'],
  ['thread_id', 'uuid'],
  ['run_id', 'uuid'],
  ['user_id', 'integer'],
  ['agent_id', 'uuid'],
  ['sequence', 'integer'],
  ['role', 'text'],
  ['content', 'text'],
  ['status', 'text'],
  ['model_id', 'text'],
  ['input_tokens', 'integer'],
  ['output_tokens', 'integer'],
  ['cost', 'double precision'],
  ['latency_ms', 'integer'],
  ['feedback', 'text'],
  ['feedback_at', 'timestamptz'],
  ['metadata', 'jsonb'],
  ['created_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
];

const TRIGGERS = ['webhook', 'schedule', 'manual', 'agent', 'workflow', 'error', 'retry'] as const;
const TRIGGER_WEIGHTS = [45, 30, 14, 5, 3, 1.5, 1.5];
const STATUSES = ['succeeded', 'failed', 'canceled'] as const;
const STATUS_WEIGHTS = [90, 8, 2];
const TOPICS = ['the Q3 renewal', 'an invoice', 'the onboarding checklist', 'a failed deploy', 'the churn report', 'a refund', 'the API limits', 'a contract clause'];

interface People {
  workspaceId: string;
  adminId: number;
  memberId: number;
  workflows: Array<OwnedResource & { version: number }>;
  agents: OwnedResource[];
}

async function insertExecutions(sink: BulkSink, people: People, spec: DatasetSpec, start: number, end: number, counts: MetricsDataset['counts']) {
  const random = new Random(7);
  const times = new Float64Array(spec.executions);
  for (let i = 0; i < times.length; i++) times[i] = activityTime(random, start, end - 3_600_000);
  times.sort();
  // A few workflows do most of the work (Zipf-like), the member's private ones too.
  const weights = people.workflows.map((_, i) => 1 / (i + 1));
  const writer = sink.table('workflow_executions', EXECUTION_COLUMNS);
  const userOf = (w: OwnedResource) => (w.owner === 'admin' ? people.adminId : people.memberId);
  for (let i = 0; i < times.length; i++) {
    const created = times[i]!;
    const workflow = random.pick(people.workflows, weights);
    const status = random.pick(STATUSES, STATUS_WEIGHTS);
    const trigger = random.pick(TRIGGERS, TRIGGER_WEIGHTS);
    const started = created + random.logNormal(4, 0.8);
    const duration = Math.min(3_600_000, random.logNormal(350, 1.3));
    const finished = started + (status === 'canceled' ? duration * 3 : duration);
    counts.executionsByStatus[status] = (counts.executionsByStatus[status] ?? 0) + 1;
    await writer.add([
      idAt(created),
      people.workspaceId,
      workflow.id,
      trigger === 'manual' ? userOf(workflow) : null,
      status,
      trigger,
      'start',
      workflow.version,
      status === 'succeeded' ? '{"ok":true}' : null,
      status === 'failed' ? '{"message":"HTTP 502 from the upstream API","node_id":"call"}' : null,
      status === 'failed' ? 2 : 3,
      iso(started),
      iso(finished),
      iso(created),
      iso(finished),
    ]);
  }
  await writer.flush();
  counts.executions = times.length;
}

/**
 * Threads, each with exchanges of a user message, an agent run and the assistant's reply
 * (tokens, cost, latency, sometimes feedback), written in the order they happened.
 */
async function insertConversations(sink: BulkSink, people: People, spec: DatasetSpec, start: number, end: number, counts: MetricsDataset['counts']) {
  const random = new Random(11);
  const threads = spec.threads;
  const exchanges = Math.floor(spec.messages / 2);
  // Exchanges per thread: log-normal shares of the total, at least one each, summing exactly.
  const shares = Array.from({ length: threads }, () => random.logNormal(1, 0.9));
  const shareSum = shares.reduce((a, b) => a + b, 0);
  const perThread = shares.map((s) => Math.max(1, Math.round((s / shareSum) * exchanges)));
  let diff = exchanges - perThread.reduce((a, b) => a + b, 0);
  while (diff !== 0) {
    const i = random.int(threads);
    if (diff > 0) {
      perThread[i]!++;
      diff--;
    } else if (perThread[i]! > 1) {
      perThread[i]!--;
      diff++;
    }
  }

  const adminAgents = people.agents.filter((a) => a.owner === 'admin' || a.visibility !== 'private');
  const memberAgents = people.agents;
  const agentWeights = (list: OwnedResource[]) => list.map((_, i) => 1 / (i + 1));

  // Per exchange: thread, number in the thread, time of the user's message, model latency.
  const exThread = new Int32Array(exchanges);
  const exNumber = new Int32Array(exchanges);
  const exTime = new Float64Array(exchanges);
  const threadRows: unknown[][] = [];
  let e = 0;
  for (let t = 0; t < threads; t++) {
    const owner = random.float() < 0.8 ? 'admin' : 'member';
    const candidates = owner === 'admin' ? adminAgents : memberAgents;
    const agent = random.pick(candidates, agentWeights(candidates));
    const isPrivate = agent.visibility === 'private' || random.float() < 0.15;
    const n = perThread[t]!;
    // Gaps between exchanges: minutes mostly, sometimes a day.
    const gaps: number[] = [0];
    for (let k = 1; k < n; k++) gaps.push(random.float() < 0.03 ? random.logNormal(86_400_000, 0.5) : random.logNormal(90_000, 1.2));
    const span = Math.min(gaps.reduce((a, b) => a + b, 0), (end - start) / 2);
    const first = start + ((activityTime(random, start, end) - start) * (end - start - span - 120_000)) / (end - start);
    let at = first;
    for (let k = 0; k < n; k++) {
      at = Math.min(at + gaps[k]!, end - 60_000);
      exThread[e] = t;
      exNumber[e] = k;
      exTime[e] = at;
      e++;
    }
    const userId = owner === 'admin' ? people.adminId : people.memberId;
    if (isPrivate) counts.privateThreads++;
    if (owner === 'member') counts.memberThreads++;
    threadRows.push([idAt(first - 1000), people.workspaceId, userId, agent.id, `About ${TOPICS[t % TOPICS.length]}`, isPrivate ? 'private' : 'workspace', '{}', 2 * n, null, iso(first - 1000), null]);
  }

  // Threads first (the last message's time is known once the exchanges are timed).
  const lastAt = new Float64Array(threads);
  for (let i = 0; i < exchanges; i++) lastAt[exThread[i]!] = Math.max(lastAt[exThread[i]!]!, exTime[i]!);
  const threadWriter = sink.table('threads', THREAD_COLUMNS);
  const order = Array.from({ length: threads }, (_, i) => i).sort((a, b) => Date.parse(threadRows[a]![9] as string) - Date.parse(threadRows[b]![9] as string));
  for (const t of order) {
    const row = threadRows[t]!;
    const last = iso(lastAt[t]! + 3000);
    row[8] = last;
    row[10] = last;
    await threadWriter.add(row);
  }
  await threadWriter.flush();
  counts.threads = threads;

  const byTime = new Uint32Array(exchanges);
  for (let i = 0; i < exchanges; i++) byTime[i] = i;
  byTime.sort((a, b) => exTime[a]! - exTime[b]!);

  const runWriter = sink.table('runs', RUN_COLUMNS);
  const messageWriter = sink.table('messages', MESSAGE_COLUMNS, [runWriter]);
  for (let j = 0; j < exchanges; j++) {
    const i = byTime[j]!;
    const t = exThread[i]!;
    const k = exNumber[i]!;
    const thread = threadRows[t]!;
    const threadId = thread[0] as string;
    const userId = thread[2] as number;
    const agentId = thread[3] as string;
    const at = exTime[i]!;
    const runStatus = random.pick(['completed', 'failed', 'cancelled'] as const, [97, 2, 1]);
    const inputTokens = Math.round(180 + 140 * k + random.logNormal(60, 0.8));
    const outputTokens = runStatus === 'completed' ? Math.round(random.logNormal(220, 0.7)) : Math.round(random.logNormal(20, 0.5));
    const cost = Math.round((inputTokens * 0.15e-6 + outputTokens * 0.6e-6) * 1e8) / 1e8;
    const latency = Math.round(random.logNormal(2400, 0.6));
    const ttft = Math.round(Math.min(latency, random.logNormal(450, 0.4)));
    const replyAt = at + 15 + latency;
    const runId = idAt(at + 1);
    const userText = `Question ${k + 1} about ${TOPICS[(t + k) % TOPICS.length]}`;
    const reply = runStatus === 'completed' ? `Here is what I found about ${TOPICS[(t + k) % TOPICS.length]}.` : '';
    const feedback = runStatus === 'completed' && random.float() < 0.06 ? (random.float() < 0.78 ? 'up' : 'down') : null;
    const feedbackAt = feedback ? iso(Math.min(replyAt + random.logNormal(60_000, 1), end)) : null;
    if (feedback) counts.feedback++;
    await runWriter.add([
      runId, people.workspaceId, userId, k === 0 ? 'agent' : 'thread', agentId, threadId, 'openai', 'gpt-4o-mini', runStatus,
      runStatus === 'completed' ? 'stop' : null, runStatus === 'failed' ? 'The model provider answered 529 (overloaded).' : null, reply || null,
      inputTokens, outputTokens, cost, latency, ttft, 1, iso(at + 5), iso(replyAt), iso(at + 1), iso(replyAt),
    ]);
    await messageWriter.add([
      idAt(at), people.workspaceId, threadId, runId, userId, agentId, 2 * k + 1, 'user', userText, 'completed',
      null, null, null, null, null, null, null, '{}', iso(at), iso(at),
    ]);
    await messageWriter.add([
      idAt(replyAt), people.workspaceId, threadId, runId, null, agentId, 2 * k + 2, 'assistant', reply,
      runStatus === 'completed' ? 'completed' : runStatus === 'failed' ? 'failed' : 'incomplete',
      'gpt-4o-mini', inputTokens, outputTokens, cost, latency, feedback, feedbackAt,
      runStatus === 'completed' ? '{"finish_reason":"stop"}' : '{}', iso(replyAt), feedbackAt ?? iso(replyAt),
    ]);
  }
  await runWriter.flush();
  await messageWriter.flush();
  counts.runs = exchanges;
  counts.messages = 2 * exchanges;
}

// ---------------------------------------------------------------------------------------------
// Users, workflows and agents through the API.

function workflowBody(name: string, visibility: string) {
  return {
    name,
    description: 'bench: manual trigger → set',
    is_active: false,
    visibility,
    nodes: [
      { id: 'start', type: 'manual', name: 'Start', position: { x: 0, y: 0 }, parameters: {} },
      { id: 'shape', type: 'set', name: 'Shape', position: { x: 200, y: 0 }, parameters: { values: { ok: true } } },
    ],
    edges: [{ id: 'start-shape', source: 'start', target: 'shape' }],
  };
}

async function createPeople(url: string, log: (m: string) => void): Promise<People> {
  const adminToken = await signInAdmin(url);
  const me = await api<{ data: { id: number } }>(url, 'GET', '/api/v1/user', adminToken);
  const workspaces = await api<{ data: Array<{ uuid: string; name: string }> }>(url, 'GET', '/api/v1/workspaces', adminToken);
  const workspaceId = workspaces.data[0]!.uuid;
  const member = await api<{ data: { id: number } }>(url, 'POST', '/api/v1/users', adminToken, MEMBER);
  await api(url, 'POST', `/api/v1/workspaces/${workspaceId}/members`, adminToken, { user_id: member.data.id, role: 'member' });
  const memberToken = (await api<{ data: { token: string } }>(url, 'POST', '/api/v1/auth/sign-in', undefined, { email: MEMBER.email, password: MEMBER.password })).data.token;

  const asUser = async <T>(who: 'admin' | 'member', pathname: string, body: unknown) => {
    const response = await fetch(`${url}${pathname}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${who === 'admin' ? adminToken : memberToken}`, 'x-workspace-id': workspaceId, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status >= 400) throw new Error(`POST ${pathname} as ${who}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  };

  const workflows: People['workflows'] = [];
  const agents: OwnedResource[] = [];
  // Seven of the admin's (shared with the workspace, one of them private) and three private ones of the member.
  const plan: Array<['admin' | 'member', string]> = [
    ['admin', 'workspace'], ['admin', 'workspace'], ['member', 'private'], ['admin', 'workspace'], ['admin', 'private'],
    ['admin', 'workspace'], ['member', 'private'], ['admin', 'workspace'], ['member', 'private'], ['admin', 'workspace'],
  ];
  for (const [i, [owner, visibility]] of plan.entries()) {
    const workflow = await asUser<{ data: { uuid: string; version: number } }>(owner, '/api/v1/workflows', workflowBody(`Bench workflow ${i + 1}`, visibility));
    workflows.push({ id: workflow.data.uuid, owner, visibility, version: workflow.data.version ?? 1 });
    const agent = await asUser<{ data: { uuid: string } }>(owner, '/api/v1/agents', {
      name: `Bench agent ${i + 1}`,
      instructions: 'Answer briefly.',
      visibility,
    });
    agents.push({ id: agent.data.uuid, owner, visibility });
  }
  log(`metrics data: workspace ${workspaceId}, admin ${me.data.id}, member ${member.data.id}, ${workflows.length} workflows, ${agents.length} agents`);
  return { workspaceId, adminId: me.data.id, memberId: member.data.id, workflows, agents };
}

function dirSizeMb(dir: string): number {
  let bytes = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    bytes += entry.isDirectory() ? dirSizeMb(full) * 2 ** 20 : fs.statSync(full).size;
  }
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

async function postgresSizeMb(schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await client.connect();
  try {
    const result = await client.query(
      `select coalesce(sum(pg_total_relation_size(c.oid)), 0) as bytes from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relkind in ('r', 'm')`,
      [schema],
    );
    return Math.round((Number(result.rows[0].bytes) / 2 ** 20) * 10) / 10;
  } finally {
    await client.end();
  }
}

/**
 * The data set for `dialect`: the kept one when it matches `spec`, else a new one (the old one
 * is removed first).
 */
export async function ensureMetricsDataset(
  dialect: BenchDialect,
  spec: DatasetSpec = FULL_SPEC,
  log: (m: string) => void = (m) => process.stdout.write(`${m}\n`),
  options: { fresh?: boolean } = {},
): Promise<{ dataset: MetricsDataset; cached: boolean }> {
  if (!options.fresh) {
    const cached = await cachedDataset(dialect, spec);
    if (cached) {
      log(`metrics data (${dialect}): reusing the data set generated ${cached.generatedAt} (${datasetDir(dialect)})`);
      // Generated before this checkout had rebuildRollups: the rollups are filled now.
      if (cached.timings.rollupsMs === null) {
        const rollups = await rebuildDatasetRollups(dialect, cached.storage, cached.workspaceId, log);
        cached.timings.rollupsMs = rollups.ms;
        cached.rollupRows = rollups.rows;
        fs.writeFileSync(manifestPath(dialect), `${JSON.stringify(cached, null, 2)}\n`);
      }
      return { dataset: cached, cached: true };
    }
  }
  await dropMetricsDataset(dialect);
  const storage: AthenaStorage = { dataDir: path.join(datasetDir(dialect), 'data'), schema: 'bench_metrics', keep: true };
  fs.mkdirSync(storage.dataDir, { recursive: true });
  const began = performance.now();

  const server = await startAthena(dialect, DATASET_ENV, storage);
  let people: People;
  try {
    people = await createPeople(server.url, log);
  } finally {
    await server.stop();
  }
  const setupMs = performance.now() - began;

  const end = Date.now();
  const start = end - spec.days * 86_400_000;
  const counts: MetricsDataset['counts'] = { executions: 0, executionsByStatus: {}, threads: 0, privateThreads: 0, memberThreads: 0, messages: 0, runs: 0, feedback: 0 };
  const sink = dialect === 'sqlite' ? await sqliteSink(path.join(storage.dataDir, 'athena.sqlite')) : await postgresSink(storage.schema);
  let executionsInsertMs: number;
  let conversationsInsertMs: number;
  try {
    let t = performance.now();
    await insertExecutions(sink, people, spec, start, end, counts);
    executionsInsertMs = performance.now() - t;
    log(`metrics data (${dialect}): ${counts.executions.toLocaleString('en-US')} executions in ${(executionsInsertMs / 1000).toFixed(1)} s`);
    t = performance.now();
    await insertConversations(sink, people, spec, start, end, counts);
    conversationsInsertMs = performance.now() - t;
    log(
      `metrics data (${dialect}): ${counts.threads.toLocaleString('en-US')} threads, ${counts.messages.toLocaleString('en-US')} messages, ${counts.runs.toLocaleString('en-US')} runs in ${(conversationsInsertMs / 1000).toFixed(1)} s`,
    );
  } finally {
    await sink.close();
  }

  const rollups = await rebuildDatasetRollups(dialect, storage, people.workspaceId, log);

  let t = performance.now();
  if (dialect === 'postgres') {
    const client = new pg.Client({ connectionString: BENCH_DATABASE_URL, options: `-c search_path=${storage.schema},public` });
    await client.connect();
    try {
      await client.query('analyze');
    } finally {
      await client.end();
    }
  }
  const finishMs = performance.now() - t;
  const sizeMb = dialect === 'sqlite' ? dirSizeMb(storage.dataDir) : await postgresSizeMb(storage.schema);

  const dataset: MetricsDataset = {
    generator: GENERATOR_VERSION,
    migrations: migrationsHash(),
    dialect,
    spec,
    storage,
    generatedAt: new Date(end).toISOString(),
    rangeStart: new Date(start).toISOString(),
    workspaceId: people.workspaceId,
    adminId: people.adminId,
    memberId: people.memberId,
    workflows: people.workflows.map(({ id, owner, visibility }) => ({ id, owner, visibility })),
    agents: people.agents,
    counts,
    timings: {
      setupMs: Math.round(setupMs),
      executionsInsertMs: Math.round(executionsInsertMs),
      conversationsInsertMs: Math.round(conversationsInsertMs),
      rollupsMs: rollups.ms,
      finishMs: Math.round(finishMs),
      totalMs: Math.round(performance.now() - began),
    },
    rollupRows: rollups.rows,
    sizeMb,
  };
  fs.writeFileSync(manifestPath(dialect), `${JSON.stringify(dataset, null, 2)}\n`);
  log(`metrics data (${dialect}): ready in ${(dataset.timings.totalMs / 1000).toFixed(1)} s, ${sizeMb} MB`);
  return { dataset, cached: false };
}

/** The admin's and the member's credentials on the data set. */
export const CREDENTIALS = { admin: ADMIN, member: { email: MEMBER.email, password: MEMBER.password } };
