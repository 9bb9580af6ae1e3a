import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { DIALECTS, type TestDialect } from '../helpers/databases.js';
import { chain, manualNode, node, setNode, workflowBody } from '../helpers/workflows.js';

const CLI = ['--import', 'tsx', path.resolve('src/cli.ts'), 'start'];
const EXECUTIONS = 20;
/** Everything (two server starts, the kill, the catch-up) must fit in this. */
const BUDGET_MS = 55_000;

/** A code node that keeps the process busy for 150 ms, then marks its step. */
const busy = (id: string, step: number) =>
  node(id, 'code', { code: `const end = Date.now() + 150; while (Date.now() < end) {} return { ...input, step: ${step} };` });

const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const cleanup of cleanups) await cleanup().catch(() => undefined);
});

/** `athena start` as a separate process; resolves with its URL once it listens. */
async function startServer(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, CLI, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${output}`)), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}: ${output}`));
    });
    child.stdout!.on('data', () => {
      const match = /running at (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  return { child, url, output: () => output };
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

async function until<T>(what: string, deadline: number, probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not in time`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface StoredStep {
  execution_id: string;
  status: string;
  seq: number;
  node_id: string;
  finished_at: string;
}

/**
 * Reads the server's database from this process: what is committed, whatever the server is busy
 * with. (Busy code nodes over a synchronous SQLite driver can hold the server's event loop for a
 * whole batch of executions, so its API may never answer while one is half done.)
 */
async function openProbe(dialect: TestDialect, env: NodeJS.ProcessEnv): Promise<{ steps(): Promise<StoredStep[]>; close(): Promise<void> }> {
  const query = `select e.id as execution_id, e.status, s.seq, s.node_id, s.finished_at
    from workflow_executions e left join workflow_execution_steps s on s.execution_id = e.id order by e.id, s.seq`;
  if (dialect === 'sqlite') {
    const db = new Database(path.join(env.ATHENA_DATA_DIR!, 'athena.sqlite'), { readonly: true, fileMustExist: true });
    const statement = db.prepare(query);
    return { steps: async () => statement.all() as StoredStep[], close: async () => void db.close() };
  }
  const client = new pg.Client({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.ATHENA_DATABASE_SCHEMA}` });
  await client.connect();
  return { steps: async () => (await client.query<StoredStep>(query)).rows, close: () => client.end() };
}

/** A fresh database for the spawned server: its data dir, and a PostgreSQL schema when asked. */
function serverEnv(dialect: TestDialect): NodeJS.ProcessEnv {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'athena-crash-'));
  const schema = `crash_${process.pid}_${Date.now().toString(36)}`;
  cleanups.push(async () => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    if (dialect !== 'postgres') return;
    const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await client.connect();
    try {
      await client.query(`drop schema if exists "${schema}" cascade`);
    } finally {
      await client.end();
    }
  });
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ATHENA_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    PORT: '0',
    ATHENA_WORKFLOW_LEASE_MS: '2000',
    ATHENA_WORKFLOW_POLL_MS: '100',
    // A few at a time: when the kill lands, some are done, some run and some wait in the queue.
    ATHENA_WORKFLOW_CONCURRENCY: '4',
    ATHENA_RATE_LIMIT_PER_IP: '1000000',
    ATHENA_RATE_LIMIT_PER_TOKEN: '1000000',
    ...(dialect === 'postgres' ? { DATABASE_URL: process.env.TEST_DATABASE_URL, ATHENA_DATABASE_SCHEMA: schema } : {}),
  };
}

for (const dialect of DIALECTS) {
  describe(`a server killed with executions in flight (${dialect})`, () => {
    it(
      'finishes every execution exactly once after a restart',
      async () => {
        const deadline = Date.now() + BUDGET_MS;
        const env = serverEnv(dialect);
        let server = await startServer(env);
        const api = async (url: string, init: { method?: string; token?: string; body?: unknown } = {}) => {
          const response = await fetch(`${server.url}${url}`, {
            method: init.method ?? 'GET',
            headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
            ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
          });
          const text = await response.text();
          return { status: response.status, body: text ? (JSON.parse(text) as any) : null, text };
        };

        const signedUp = await api('/api/v1/auth/sign-up', { method: 'POST', body: { name: 'Crash Tester', email: 'crash@example.test', password: 'crash-test-password' } });
        expect(signedUp.status, signedUp.text).toBe(201);
        const token: string = signedUp.body.data.token;
        const created = await api('/api/v1/workflows', {
          method: 'POST',
          token,
          body: workflowBody({ name: 'Busy', ...chain(manualNode('start'), busy('one', 1), busy('two', 2), setNode('finish', { done: true })) }),
        });
        expect(created.status, created.text).toBe(201);
        const workflowUuid: string = created.body.data.uuid;

        const started = await Promise.all(
          Array.from({ length: EXECUTIONS }, (_, n) =>
            api(`/api/v1/workflows/${workflowUuid}/execute`, { method: 'POST', token, body: { input: { n }, wait: false } }),
          ),
        );
        const byUuid = new Map<string, number>();
        started.forEach((response, n) => {
          expect(response.status, response.text).toBe(202);
          byUuid.set(response.body.data.uuid, n);
        });

        const statuses = async () => {
          const list = await api(`/api/v1/workflow-executions?filter[workflow_uuid]=${workflowUuid}&per_page=100`, { token });
          expect(list.status, list.text).toBe(200);
          return list.body.data as Array<{ uuid: string; status: string }>;
        };
        const count = (list: Array<{ status: string }>, status: string) => list.filter((execution) => execution.status === status).length;

        // Kill it while some are done, one is between its nodes (steps committed, not finished), others wait.
        const probe = await openProbe(dialect, env);
        await until('some finished and some in the middle', deadline, async () => {
          const steps = await probe.steps();
          const finished = new Set(steps.filter((step) => step.status === 'succeeded').map((step) => step.execution_id));
          const midway = steps.filter((step) => step.status === 'running' && step.seq === 1);
          return finished.size >= 3 && midway.length >= 1 ? steps : undefined;
        });
        await kill(server.child);
        // What the database held when the process died: the steps of executions that did not finish.
        const afterKill = await probe.steps();
        await probe.close();
        const unfinished = afterKill.filter((step) => step.status !== 'succeeded');
        expect(new Set(afterKill.filter((step) => step.status === 'succeeded').map((step) => step.execution_id)).size).toBeLessThan(EXECUTIONS);
        expect(unfinished.some((step) => step.seq !== null)).toBe(true);

        server = await startServer(env);
        const after = await until('all succeeded after the restart', deadline, async () => {
          const list = await statuses();
          return list.length === EXECUTIONS && count(list, 'succeeded') === EXECUTIONS ? list : undefined;
        });
        expect(new Set(after.map((execution) => execution.uuid))).toEqual(new Set(byUuid.keys()));

        for (const [uuid, n] of byUuid) {
          const response = await api(`/api/v1/workflow-executions/${uuid}`, { token });
          const execution = response.body.data;
          expect(execution).toMatchObject({ status: 'succeeded', output: { n, step: 2, done: true }, node_runs: 4, error: null });
          // Each node committed exactly once, in order: none ran to completion twice.
          expect(execution.data.nodes.map((step: any) => [step.seq, step.node_id, step.status])).toEqual([
            [0, 'start', 'succeeded'],
            [1, 'one', 'succeeded'],
            [2, 'two', 'succeeded'],
            [3, 'finish', 'succeeded'],
          ]);
          expect(execution.data.nodes[2].output).toEqual({ n, step: 2 });
          // Steps committed before the kill were kept as they were, not run again.
          for (const step of unfinished.filter((entry) => entry.execution_id === uuid && entry.seq !== null)) {
            expect(execution.data.nodes[step.seq].finished_at).toBe(new Date(step.finished_at).toISOString());
          }
        }
        await kill(server.child);
      },
      BUDGET_MS + 5_000,
    );
  });
}
