import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import pg from 'pg';
import type { FakeModelScript } from './fake-model.js';

export type BenchDialect = 'sqlite' | 'postgres';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const ADMIN = { email: 'bench@example.test', password: 'bench-password-123' };

export interface RunningServer {
  url: string;
  pid: number;
  /** Milliseconds from spawn to the first 200 from /health. */
  startMs: number;
  stop(): Promise<void>;
}

/** Resident memory of a process, in MB, from /proc. */
export function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

let clockTicks: number | undefined;

/** CPU time (user + system) a process has used so far, in ms, from /proc. */
export function cpuMs(pid: number): number {
  clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitHealthy(url: string, child: ChildProcess, started: number): Promise<number> {
  const deadline = started + 30_000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.status === 200) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  throw new Error('server did not become healthy within 30 s');
}

function spawnServer(command: string[], env: Record<string, string>, stdout: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const child = spawn(process.execPath, command, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
    if (stderr.length > 10_000) stderr = stderr.slice(-10_000);
  });
  child.on('exit', (code) => {
    if (code && code !== 0) process.stderr.write(`server exited with ${code}: ${stderr}\n`);
  });
  return child;
}

function stopper(child: ChildProcess, cleanup: () => Promise<void> = async () => {}) {
  return async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await cleanup();
  };
}

/** The bare Fastify hello-world every run compares against. */
export async function startBaseline(kind: 'hello' | 'sqlite-insert' = 'hello'): Promise<RunningServer> {
  const port = await freePort();
  const started = performance.now();
  const child = spawnServer(['--import', 'tsx', path.join(ROOT, 'bench', 'lib', 'baseline-server.ts')], {
    PORT: String(port),
    BASELINE_KIND: kind,
    BASELINE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'athena-baseline-')),
  });
  const url = `http://127.0.0.1:${port}`;
  const startMs = await waitHealthy(url, child, started);
  return { url, pid: child.pid!, startMs, stop: stopper(child) };
}

/**
 * The fake model server (bench/lib/fake-model-server.ts) in its own process, replying to every
 * chat completion with `replyChunks` of the last user message.
 */
export async function startFakeModel(script: FakeModelScript): Promise<RunningServer> {
  const port = await freePort();
  const started = performance.now();
  const child = spawnServer(['--import', 'tsx', path.join(ROOT, 'bench', 'lib', 'fake-model-server.ts')], {
    PORT: String(port),
    FAKE_CHUNKS: String(script.chunks),
    FAKE_CHUNK_DELAY_MS: String(script.chunkDelayMs),
  });
  const url = `http://127.0.0.1:${port}`;
  const startMs = await waitHealthy(url, child, started);
  return { url, pid: child.pid!, startMs, stop: stopper(child) };
}

function athenaEnv(port: number, dataDir: string): Record<string, string> {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    ATHENA_DATA_DIR: dataDir,
    ATHENA_ADMIN_EMAIL: ADMIN.email,
    ATHENA_ADMIN_PASSWORD: ADMIN.password,
    // The load comes from one IP and one token: limits high enough not to be what is measured.
    ATHENA_RATE_LIMIT_PER_IP: '10000000',
    ATHENA_RATE_LIMIT_PER_TOKEN: '10000000',
  };
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await client.connect();
  await client.query(`drop schema if exists "${schema}" cascade`);
  await client.end();
}

/** Where a server keeps its data, when a scenario brings its own (a generated data set kept between runs). */
export interface AthenaStorage {
  dataDir: string;
  /** PostgreSQL schema. */
  schema: string;
  /** Leave the data dir and the schema in place when the server stops. */
  keep: boolean;
}

/**
 * Athena as a user runs it (`node dist/cli.js start`), on a fresh database of the dialect, or on
 * the one `storage` names.
 */
export async function startAthena(dialect: BenchDialect, extraEnv: Record<string, string> = {}, storage?: AthenaStorage): Promise<RunningServer> {
  const port = await freePort();
  const dataDir = storage?.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'athena-bench-'));
  const schema = storage?.schema ?? `bench_${Date.now().toString(36)}`;
  const env: Record<string, string> = {
    ...athenaEnv(port, dataDir),
    ...(dialect === 'postgres' ? { DATABASE_URL: BENCH_DATABASE_URL, ATHENA_DATABASE_SCHEMA: schema } : {}),
    ...extraEnv,
  };
  const started = performance.now();
  const child = spawnServer([path.join(ROOT, 'dist', 'cli.js'), 'start'], env);
  const url = `http://127.0.0.1:${port}`;
  const startMs = await waitHealthy(url, child, started);
  return {
    url,
    pid: child.pid!,
    startMs,
    stop: stopper(child, async () => {
      if (storage?.keep) return;
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (dialect === 'postgres') await dropSchema(schema);
    }),
  };
}

export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Why scale mode cannot run here (the build has no `athena worker`, or Redis does not answer), else undefined. */
export async function scaleModeUnavailable(): Promise<string | undefined> {
  const cli = path.join(ROOT, 'dist', 'cli.js');
  const help = fs.existsSync(cli) ? spawnSync(process.execPath, [cli, 'help'], { encoding: 'utf8' }).stdout : '';
  if (!/^\s+worker\b/m.test(help) || !help.includes('--no-worker')) {
    return 'this build of Athena has no `athena worker` / `athena start --no-worker` (dist/cli.js help does not list them)';
  }
  const { Redis } = await import('ioredis');
  const redis = new Redis(BENCH_REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch {
    return `Redis does not answer at ${BENCH_REDIS_URL}`;
  } finally {
    redis.disconnect();
  }
}

/** Resolves when the child prints a line matching `ready`; rejects when it exits first or after 30 s. */
function waitForLine(child: ChildProcess, ready: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`no line matching ${ready} within 30 s`)), 30_000);
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString('utf8')).slice(-4096);
      if (ready.test(seen)) done();
    };
    const onExit = (code: number | null) => done(new Error(`process exited with code ${code} before it was ready`));
    function done(error?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      // Keep draining stdout, so the child never blocks on a full pipe.
      child.stdout?.resume();
      if (error) reject(error);
      else resolve();
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

export interface ScaleServers extends RunningServer {
  workerPids: number[];
}

/**
 * Athena in scale mode: one API process (`start --no-worker`) and `workers` worker processes
 * (`athena worker`) sharing a fresh PostgreSQL schema and the Redis at BENCH_REDIS_URL (the
 * queue's keys are per schema, so nothing else on that Redis is touched; they are removed after).
 */
export async function startAthenaScale(workers: number, extraEnv: Record<string, string> = {}): Promise<ScaleServers> {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'athena-bench-'));
  const schema = `bench_${Date.now().toString(36)}`;
  const env: Record<string, string> = {
    ...athenaEnv(port, dataDir),
    DATABASE_URL: BENCH_DATABASE_URL,
    ATHENA_DATABASE_SCHEMA: schema,
    REDIS_URL: BENCH_REDIS_URL,
    ...extraEnv,
  };
  const cli = path.join(ROOT, 'dist', 'cli.js');
  const children: ChildProcess[] = [];
  const cleanup = async () => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    await dropSchema(schema);
    const { Redis } = await import('ioredis');
    const redis = new Redis(BENCH_REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', `athena:${schema}*`, 'COUNT', 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  };
  const stopAll = async () => {
    // Workers first, so they hand nothing back to a queue the API still feeds.
    for (const child of children.slice(1)) await stopper(child)();
    if (children[0]) await stopper(children[0])();
    await cleanup();
  };
  try {
    const started = performance.now();
    // The API process migrates the schema before any worker opens it.
    const api = spawnServer([cli, 'start', '--no-worker'], env);
    children.push(api);
    const url = `http://127.0.0.1:${port}`;
    const startMs = await waitHealthy(url, api, started);
    for (let i = 0; i < workers; i++) {
      const worker = spawnServer([cli, 'worker'], { ...env, PORT: String(await freePort()) }, 'pipe');
      children.push(worker);
      await waitForLine(worker, /worker is running/);
    }
    return { url, pid: api.pid!, startMs, workerPids: children.slice(1).map((child) => child.pid!), stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/** JSON over fetch against a running server. */
export async function api<T = any>(url: string, method: string, pathname: string, token?: string, body?: unknown): Promise<T> {
  const response = await fetch(`${url}${pathname}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 400) throw new Error(`${method} ${pathname}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function signInAdmin(url: string): Promise<string> {
  const response = await api<{ data: { token: string } }>(url, 'POST', '/api/v1/auth/sign-in', undefined, ADMIN);
  return response.data.token;
}

export interface LoadRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Requests each connection sends in turn, instead of repeating one (e.g. to write on every request). */
  sequence?: Array<{ path: string; body?: string }>;
}

export interface LoadResult {
  connections: number;
  durationS: number;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
  /** Requests sent and 2xx answers in the measured run, and in its warm-up (what a run leaves stored). */
  sent?: number;
  ok?: number;
  warmupSent?: number;
  warmupOk?: number;
}

/** Drives load with autocannon: a short warm-up, then the measured run. */
export async function load(url: string, request: LoadRequest, connections: number, durationS: number): Promise<LoadResult> {
  const options = {
    // autocannon takes the path from the URL (its top-level `path` option is ignored).
    url: `${url}${request.path}`,
    connections,
    pipelining: 1,
    method: request.method ?? 'GET',
    headers: request.headers,
    body: request.body,
    ...(request.sequence ? { requests: request.sequence.map((r) => ({ method: request.method ?? 'GET', path: r.path, body: r.body })) } : {}),
  };
  const warmup = await autocannon({ ...options, duration: 2 });
  const result = await autocannon({ ...options, duration: durationS });
  const summary: LoadResult = {
    connections,
    durationS,
    requests: result.requests.total,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.errors,
    non2xx: result.non2xx,
    sent: result.requests.sent,
    ok: result['2xx'],
    warmupSent: warmup.requests.sent,
    warmupOk: warmup['2xx'],
  };
  if (summary.non2xx > 0 || summary.errors > 0) {
    process.stdout.write(`  warning: ${request.method ?? 'GET'} ${request.path} answered ${JSON.stringify(result.statusCodeStats)}\n`);
  }
  return summary;
}
