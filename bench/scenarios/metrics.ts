import http from 'node:http';
import os from 'node:os';
import pg from 'pg';
import {
  BENCH_DATABASE_URL,
  api,
  load,
  rssMb,
  signInAdmin,
  startAthena,
  type BenchDialect,
  type LoadResult,
} from '../lib/harness.js';
import { DATASET_ENV, FULL_SPEC, MEMBER, dropMetricsDataset, ensureMetricsDataset, type MetricsDataset } from '../lib/metrics-data.js';
import type { MetricsDialectResult, MetricsSeriesResult, SequentialRun } from '../lib/report.js';
import type { MeasuredScenario } from '../lib/scenario.js';
import { loadConfig } from '../../src/config.js';
import { createDb } from '../../src/db/database.js';
import { bucketBoundaries } from '../../src/modules/metrics/buckets.js';
import { explainSumRollups } from '../../src/modules/metrics/metrics.repository.js';
import { percentiles } from '../lib/stream-client.js';

/**
 * Issue #7: the metrics endpoints over one workspace holding 1,000,000 workflow executions and
 * 1,000,000 messages (bench/lib/metrics-data.ts): the 90-day daily series of each endpoint, as
 * the workspace's owner and as a member (who must not count the owner's private threads and
 * workflows), in UTC and in Asia/Kolkata (+05:30, so days are not whole UTC days). Requests are
 * sent one after another on one keep-alive connection, so each latency is the request's own;
 * `GET /api/v1/user` on the same server and connection is the floor. Then each endpoint under
 * autocannon at 10 connections for its throughput.
 */

const ISSUE = 7;
const ENDPOINTS = ['agents', 'workflows', 'threads', 'messages', 'workflow-executions'] as const;
const TIMEZONES = ['UTC', 'Asia/Kolkata'] as const;
const WARMUP = 10;
/** Per (endpoint, caller, time zone): this many timed requests, or fewer when the time is up. */
const REQUESTS = 200;
const MAX_S = 8;
const LOAD_CONNECTIONS = 10;
const LOAD_S = 5;
const TARGET_P95_MS = 200;

/** The calendar date `days` from today in `timeZone`, as YYYY-MM-DD. */
function dateIn(timeZone: string, days: number): string {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  const ms = Date.parse(`${today}T00:00:00Z`) + days * 86_400_000;
  return new Date(ms).toISOString().slice(0, 10);
}

/** The last 90 days up to today (included) in `timeZone`, daily: `to` as a date counts that whole day. */
function seriesQuery(timeZone: string): string {
  return `from=${dateIn(timeZone, -89)}&to=${dateIn(timeZone, 0)}&interval=day&timezone=${encodeURIComponent(timeZone)}`;
}

interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** One GET on a keep-alive connection, timed from the request being written to its body's end. */
function timedGet(agent: http.Agent, url: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get(url, { agent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
      response.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Sequential requests: a warm-up, then up to REQUESTS timed ones within MAX_S seconds. */
async function sequential(agent: http.Agent, url: string, headers: Record<string, string>): Promise<{ run: Omit<SequentialRun, 'endpoint' | 'as' | 'timezone'>; last: string }> {
  let last = '';
  let errors = 0;
  for (let i = 0; i < WARMUP; i++) {
    const answer = await timedGet(agent, url, headers);
    if (answer.status !== 200) throw new Error(`GET ${url}: ${answer.status} ${answer.body.slice(0, 300)}`);
    last = answer.body;
  }
  const times: number[] = [];
  const began = performance.now();
  while (times.length < REQUESTS && performance.now() - began < MAX_S * 1000) {
    const answer = await timedGet(agent, url, headers);
    if (answer.status !== 200) errors++;
    times.push(answer.ms);
    last = answer.body;
  }
  const wall = performance.now() - began;
  const p = percentiles(times);
  return {
    run: { requests: times.length, p50: p.p50, p95: p.p95, p99: p.p99, max: p.max, rps: Math.round((times.length / wall) * 1000 * 10) / 10, errors },
    last,
  };
}

/**
 * What the raw tables say a 90-day answer must count, straight from SQL: executions of the
 * workflows the caller sees (admins and owners see every workflow of the workspace, members
 * the non-private ones and their own) and messages of the threads they see (non-private ones
 * and their own, whatever their role).
 */
async function expectedCounts(dataset: MetricsDataset, as: 'admin' | 'member', fromIso: string, toIso: string): Promise<{ executions: number; messages: number }> {
  const visibleWorkflows = dataset.workflows.filter((w) => as === 'admin' || w.visibility !== 'private' || w.owner === as).map((w) => w.id);
  const userId = as === 'admin' ? dataset.adminId : dataset.memberId;
  const executionsSql = `select count(*) as n from workflow_executions where workspace_id = ? and created_at >= ? and created_at < ? and workflow_id in (${visibleWorkflows.map(() => '?').join(', ')})`;
  const messagesSql = `select count(*) as n from messages m join threads t on t.id = m.thread_id where m.workspace_id = ? and m.created_at >= ? and m.created_at < ? and (t.visibility <> 'private' or t.user_id = ?)`;
  if (dataset.dialect === 'sqlite') {
    const { default: BetterSqlite3 } = await import('better-sqlite3');
    const db = new BetterSqlite3(`${dataset.storage.dataDir}/athena.sqlite`, { readonly: true });
    try {
      const executions = (db.prepare(executionsSql).get(dataset.workspaceId, fromIso, toIso, ...visibleWorkflows) as { n: number }).n;
      const messages = (db.prepare(messagesSql).get(dataset.workspaceId, fromIso, toIso, userId) as { n: number }).n;
      return { executions, messages };
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL, options: `-c search_path=${dataset.storage.schema},public` });
  await client.connect();
  try {
    let i = 0;
    const numbered = (text: string) => text.replace(/\?/g, () => `$${++i}`);
    const executions = await client.query(numbered(executionsSql), [dataset.workspaceId, fromIso, toIso, ...visibleWorkflows]);
    i = 0;
    const messages = await client.query(numbered(messagesSql), [dataset.workspaceId, fromIso, toIso, userId]);
    return { executions: Number(executions.rows[0].n), messages: Number(messages.rows[0].n) };
  } finally {
    await client.end();
  }
}

/** How the database reads the workspace's 90-day daily execution rollups (the widest series), one line. */
async function rollupPlan(dataset: MetricsDataset, fromIso: string, toIso: string): Promise<string> {
  const db = await createDb(
    loadConfig({
      ATHENA_DATA_DIR: dataset.storage.dataDir,
      ...(dataset.dialect === 'postgres' ? { DATABASE_URL: BENCH_DATABASE_URL, ATHENA_DATABASE_SCHEMA: dataset.storage.schema, ATHENA_DATABASE_POOL_SIZE: '1' } : {}),
    }),
  );
  try {
    const boundaries = bucketBoundaries(Date.parse(fromIso), Date.parse(toIso), 'day', 'UTC');
    const plan = await explainSumRollups(db.kysely, dataset.dialect, 'executions', { workspaceId: dataset.workspaceId, add: [''], subtract: [], owners: [0], boundaries });
    // Plan nodes only (PostgreSQL's group key is the whole bucket expression).
    return plan
      .split('\n')
      .map((line) => line.trim().replace(/^->\s*/, '').replace(/\s*\(cost=[^)]*\)$/, ''))
      .filter((line) => line && !/^(Group Key|Recheck Cond|Index Cond|Sort Key|Filter|Heap Blocks):/.test(line))
      .join(' ← ');
  } finally {
    await db.close();
  }
}

async function measureDialect(dialect: BenchDialect, log: (m: string) => void): Promise<MetricsDialectResult> {
  const { dataset, cached } = await ensureMetricsDataset(dialect, FULL_SPEC, log);
  const server = await startAthena(dialect, DATASET_ENV, dataset.storage);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const adminToken = await signInAdmin(server.url);
    const memberToken = (await api<{ data: { token: string } }>(server.url, 'POST', '/api/v1/auth/sign-in', undefined, { email: MEMBER.email, password: MEMBER.password })).data.token;
    const headersOf = (as: 'admin' | 'member') => ({ authorization: `Bearer ${as === 'admin' ? adminToken : memberToken}`, 'x-workspace-id': dataset.workspaceId });

    const [one, five] = os.loadavg();
    log(`metrics ${dialect}: load average ${one!.toFixed(2)} (1 min), ${five!.toFixed(2)} (5 min) as the measurements start`);
    const loadAtStart = `${one!.toFixed(2)} (1 min), ${five!.toFixed(2)} (5 min)`;
    const floor = await sequential(agent, `${server.url}/api/v1/user`, headersOf('admin'));
    const baseline: SequentialRun = { endpoint: 'user', as: 'admin', timezone: '-', ...floor.run };
    log(`metrics ${dialect} GET /api/v1/user: p50 ${baseline.p50} ms, p95 ${baseline.p95} ms, p99 ${baseline.p99} ms, ${baseline.rps} req/s`);

    const runs: SequentialRun[] = [];
    const checks: string[] = [];
    for (const endpoint of ENDPOINTS) {
      for (const as of ['admin', 'member'] as const) {
        for (const timezone of TIMEZONES) {
          const url = `${server.url}/api/v1/metrics/${endpoint}?${seriesQuery(timezone)}`;
          const { run, last } = await sequential(agent, url, headersOf(as));
          const data = (JSON.parse(last) as { data: { series: unknown[]; totals: Record<string, unknown>; from: string; to: string } }).data;
          runs.push({ endpoint, as, timezone, ...run, buckets: data.series.length });
          log(
            `metrics ${dialect} ${endpoint} as ${as} ${timezone}: p50 ${run.p50} ms, p95 ${run.p95} ms, p99 ${run.p99} ms, ${run.rps} req/s, ${data.series.length} buckets, ${run.requests} requests`,
          );
          if (timezone === 'UTC' && (endpoint === 'workflow-executions' || endpoint === 'messages')) {
            const expected = await expectedCounts(dataset, as, data.from, data.to);
            const got = Number(data.totals[endpoint === 'messages' ? 'messages' : 'executions']);
            const want = endpoint === 'messages' ? expected.messages : expected.executions;
            checks.push(
              `${endpoint} as the ${as === 'admin' ? 'owner' : 'member'}, UTC, [${data.from}, ${data.to}): ${got.toLocaleString('en-US')} counted, ${want.toLocaleString('en-US')} in the raw rows by SQL ${got === want ? '(✅ equal)' : '(❌ differ)'}`,
            );
          }
        }
      }
    }

    const range = JSON.parse(
      (await timedGet(agent, `${server.url}/api/v1/metrics/workflow-executions?${seriesQuery('UTC')}`, headersOf('admin'))).body,
    ) as { data: { from: string; to: string } };
    const plan = await rollupPlan(dataset, range.data.from, range.data.to);
    log(`metrics ${dialect} plan: ${plan}`);

    const throughput: LoadResult[] = [];
    const throughputOf: Record<string, LoadResult> = {};
    for (const endpoint of ['user', ...ENDPOINTS]) {
      const path = endpoint === 'user' ? '/api/v1/user' : `/api/v1/metrics/${endpoint}?${seriesQuery('UTC')}`;
      const run = await load(server.url, { path, headers: headersOf('admin') }, LOAD_CONNECTIONS, LOAD_S);
      throughput.push(run);
      throughputOf[endpoint] = run;
      log(`metrics ${dialect} ${endpoint} c=${LOAD_CONNECTIONS}: ${run.rps} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, non-2xx ${run.non2xx}`);
    }

    return {
      dataset: {
        cached,
        generatedAt: dataset.generatedAt,
        counts: dataset.counts,
        timings: dataset.timings,
        rollupRows: dataset.rollupRows,
        sizeMb: dataset.sizeMb,
      },
      baseline,
      runs,
      throughput: throughputOf,
      checks: [
        `load average when its measurements started (the data set ready): ${loadAtStart}`,
        ...checks,
        `plan of the execution rollups' read (owner, UTC, 90 days): ${plan}`,
      ],
      rssAfterMb: rssMb(server.pid),
    };
  } finally {
    agent.destroy();
    await server.stop();
  }
}

export const metrics: MeasuredScenario = {
  kind: 'measured',
  id: 'metrics',
  issue: ISSUE,
  title: 'Metrics: 90-day daily series over 1,000,000 executions and 1,000,000 messages',
  async run(context): Promise<MetricsSeriesResult> {
    const [one, five] = os.loadavg();
    const result: MetricsSeriesResult = {
      kind: 'metrics-series',
      id: this.id,
      issue: this.issue,
      title: this.title,
      runAt: context.runAt,
      machine: context.machine,
      maxP95Ms: TARGET_P95_MS,
      loadConnections: LOAD_CONNECTIONS,
      notes: [
        `Data set (bench/lib/metrics-data.ts): one workspace, its owner and a member; 10 workflows (3 private to the member, 1 private to the owner) and 10 agents (the same split), created through the API; then ${FULL_SPEC.threads.toLocaleString('en-US')} threads (about a quarter private), ${FULL_SPEC.messages.toLocaleString('en-US')} messages (user and assistant turns, tokens and cost on the replies, feedback on 6%; one agent run per reply) and ${FULL_SPEC.executions.toLocaleString('en-US')} workflow executions (90% succeeded, 8% failed, 2% canceled; seven triggers; log-normal durations, median 350 ms) over the last ${FULL_SPEC.days} days, busier in recent weeks and working hours, bulk-inserted as raw rows (SQLite: prepared statements in large transactions; PostgreSQL: 5,000-row \`unnest\` inserts), then the rollups rebuilt from them with \`rebuildRollups\` (src/modules/metrics/rebuild.ts). PostgreSQL is ANALYZEd after the load, as autovacuum would; SQLite is left as Athena leaves it.`,
        `Each query: \`GET /api/v1/metrics/{endpoint}?from=<today − 89 days>&to=<today>&interval=day&timezone=<zone>\` (90 daily buckets, today included: a date as \`to\` counts the whole day) with \`X-Workspace-Id\`; as the owner and as the member, in UTC and Asia/Kolkata. ${WARMUP} warm-up requests, then up to ${REQUESTS} timed ones (at most ${MAX_S} s) one after another on one keep-alive connection: each latency is one request alone, from writing it to the end of the answer. req/s there is 1 ÷ the mean latency.`,
        `Throughput: each endpoint (owner, UTC) under autocannon at c=${LOAD_CONNECTIONS} for ${LOAD_S} s after a 2-second warm-up; the floor is \`GET /api/v1/user\` on the same server, same run.`,
        `Load average when the scenario started: ${one!.toFixed(2)} (1 min), ${five!.toFixed(2)} (5 min) on ${os.cpus().length} cores; the load generator, the server and PostgreSQL share them (and, on this machine, whatever else runs: see each storage's load below).`,
      ],
      dialects: {},
    };
    for (const dialect of context.dialects) {
      try {
        result.dialects[dialect] = await measureDialect(dialect, context.log);
      } finally {
        if (dialect === 'postgres' && process.env.BENCH_KEEP_METRICS_DATA !== '1') {
          await dropMetricsDataset('postgres');
          context.log('metrics: dropped the PostgreSQL data set (BENCH_KEEP_METRICS_DATA=1 keeps it)');
        }
      }
    }
    return result;
  },
};
