import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * Scale mode as operators run it: `athena start --no-worker` and `athena worker` processes
 * sharing one PostgreSQL schema and one Redis. The suites run when TEST_REDIS_URL and
 * TEST_DATABASE_URL are set (CI sets both); set but unreachable fails them instead of skipping.
 */
export const SCALE_ENABLED = Boolean(process.env.TEST_REDIS_URL && process.env.TEST_DATABASE_URL);

const CLI = ['--import', 'tsx', path.resolve('src/cli.ts')];
/** Starting a process compiles the TypeScript on the fly: slow on a busy 2-core machine. */
const START_TIMEOUT_MS = 45_000;
/** Any fixed key will do: every process of one install must share it (secrets at rest). */
const ENCRYPTION_KEY = 'a5'.repeat(32);

export async function assertReachable(redisUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new Error(`TEST_DATABASE_URL is set but PostgreSQL does not answer: ${(error as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
  const redis = new Redis(redisUrl, { connectTimeout: 5_000, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`TEST_REDIS_URL is set but Redis does not answer at ${redisUrl}: ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
}

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

export interface ApiProc extends Proc {
  readonly url: string;
}

export interface ApiResponse {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

let counter = 0;

/** One install: a fresh PostgreSQL schema, a data dir, the processes started on them. */
export class Cluster {
  readonly schema = `scale_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'athena-scale-'));
  readonly procs = new Set<Proc>();
  private readonly probe: pg.Client;
  private connecting: Promise<void> | undefined;

  constructor(
    readonly redisUrl: string,
    private readonly extraEnv: Record<string, string> = {},
  ) {
    this.probe = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL, options: `-c search_path=${this.schema}` });
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ATHENA_DATA_DIR: this.dataDir,
      ATHENA_ENCRYPTION_KEY: ENCRYPTION_KEY,
      DATABASE_URL: process.env.TEST_DATABASE_URL,
      ATHENA_DATABASE_SCHEMA: this.schema,
      ATHENA_DATABASE_POOL_SIZE: '4',
      REDIS_URL: this.redisUrl,
      LOG_LEVEL: 'warn',
      PORT: '0',
      ATHENA_WORKFLOW_LEASE_MS: '3000',
      ATHENA_WORKFLOW_POLL_MS: '200',
      ATHENA_RATE_LIMIT_PER_IP: '1000000',
      ATHENA_RATE_LIMIT_PER_TOKEN: '1000000',
      ...this.extraEnv,
      ...extra,
    };
  }

  private spawn(name: string, args: string[], ready: RegExp, env: Record<string, string>): Promise<{ proc: Proc; match: RegExpExecArray }> {
    const child = spawn(process.execPath, [...CLI, ...args], { env: this.env(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const proc: Proc = { name, child, pid: child.pid!, output: () => output, exited };
    this.procs.add(proc);
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start in ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} while starting:\n${output}`));
      });
      const check = () => {
        const match = ready.exec(output);
        if (!match) return;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve({ proc, match });
      };
      child.stdout!.on('data', check);
    });
  }

  /** `athena start --no-worker`: the API only. */
  async startApi(name = 'api', env: Record<string, string> = {}): Promise<ApiProc> {
    const { proc, match } = await this.spawn(name, ['start', '--no-worker'], /running at (http:\/\/\S+)/, env);
    return Object.assign(proc, { url: match[1]! });
  }

  /** `athena worker`. */
  async startWorker(name = 'worker', env: Record<string, string> = {}): Promise<Proc> {
    const { proc } = await this.spawn(name, ['worker'], /worker is running/, env);
    return proc;
  }

  /** Sends `signal` and waits for the process to end. */
  async stop(proc: Proc, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
    return proc.exited;
  }

  /** Reads the install's database directly (what the API shows only when an execution ends). */
  async query<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
    this.connecting ??= this.probe.connect().then(() => undefined);
    await this.connecting;
    return (await this.probe.query<T>(text, values)).rows;
  }

  /** Everything the processes printed, for failure messages. */
  outputs(): string {
    return [...this.procs].map((proc) => `--- ${proc.name} (pid ${proc.pid})\n${proc.output()}`).join('\n');
  }

  async close(): Promise<void> {
    await Promise.all([...this.procs].map((proc) => this.stop(proc, 'SIGKILL')));
    if (this.connecting) await this.probe.end().catch(() => undefined);
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await client.connect();
    try {
      await client.query(`drop schema if exists "${this.schema}" cascade`);
    } finally {
      await client.end();
    }
    // The install's queue keys (the prefix is per schema).
    const redis = new Redis(this.redisUrl, { connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `athena:${this.schema}:*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } catch {
      // A test's own Redis may be gone already.
    } finally {
      redis.disconnect();
    }
  }
}

/** JSON over HTTP against an API process. */
export async function call(baseUrl: string, url: string, init: { method?: string; token?: string; body?: unknown; timeoutMs?: number } = {}): Promise<ApiResponse> {
  const response = await fetch(`${baseUrl}${url}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    signal: AbortSignal.timeout(init.timeoutMs ?? 30_000),
  });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: response.status, body, text, headers: response.headers };
}

/** Signs a user up through the API; answers their token. */
export async function signUp(baseUrl: string, email = 'scale@example.test'): Promise<string> {
  const response = await call(baseUrl, '/api/v1/auth/sign-up', { method: 'POST', body: { name: 'Scale Tester', email, password: 'scale-test-password' } });
  if (response.status !== 201) throw new Error(`sign-up failed: ${response.status} ${response.text}`);
  return response.body.data.token as string;
}

export async function until<T>(what: string, deadline: number, probe: () => Promise<T | undefined>, everyMs = 50): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not in time`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A TCP port free right now on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The pid in a runner's lease owner (`host:pid:random`). */
export function ownerPid(owner: string | null): number | undefined {
  const pid = owner?.split(':')[1];
  return pid ? Number(pid) : undefined;
}
