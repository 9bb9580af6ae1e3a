import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chain, manualNode, node, setNode, webhookNode, workflowBody } from '../helpers/workflows.js';
import { assertReachable, call, Cluster, freePort, SCALE_ENABLED, signUp, until, type ApiProc, type Proc } from './cluster.js';

const BEFORE = 20;
const DURING = 5;
const BUDGET_MS = 100_000;
const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/** A Redis of this test's own, keeping nothing on disk: a restart comes back empty. */
class OwnRedis {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(REDIS_SERVER, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (chunk) => (this.output += chunk));
    child.stderr!.on('data', (chunk) => (this.output += chunk));
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (error) => reject(new Error(`${REDIS_SERVER} could not be started: ${error.message}`)));
      child.once('exit', (code) => reject(new Error(`${REDIS_SERVER} exited with ${code}:\n${this.output}`)));
    });
    failed.catch(() => undefined);
    await Promise.race([
      failed,
      until('redis-server accepts connections', Date.now() + 10_000, async () => {
        const client = new Redis(this.url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
        client.on('error', () => undefined);
        try {
          await client.connect();
          return (await client.ping()) === 'PONG' ? true : undefined;
        } catch {
          return undefined;
        } finally {
          client.disconnect();
        }
      }),
    ]);
  }

  /** Kills it the hard way (a crash, not a shutdown). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }
}

describe.skipIf(!SCALE_ENABLED)('scale mode: Redis restarted with executions in flight', () => {
  let redis: OwnRedis;
  let cluster: Cluster;
  let api: ApiProc;
  let workers: Proc[];
  let token: string;

  beforeAll(async () => {
    // The shared Redis and PostgreSQL must answer too: CI promises both.
    await assertReachable(process.env.TEST_REDIS_URL!);
    redis = new OwnRedis(await freePort());
    await redis.start();
    // Room for every execution: the claim delays below are the poll's, not a wait for a slot.
    cluster = new Cluster(redis.url, { ATHENA_WORKFLOW_CONCURRENCY: '40' });
    api = await cluster.startApi();
    workers = await Promise.all([cluster.startWorker('worker-1'), cluster.startWorker('worker-2')]);
    token = await signUp(api.url);
  }, 120_000);

  afterAll(async () => {
    await cluster?.close();
    await redis?.kill();
  }, 30_000);

  it(
    'loses nothing: workers reconnect, jobs lost with Redis are run from the database, and waiting callers still get answers',
    async () => {
      const deadline = Date.now() + BUDGET_MS;
      const created = await call(api.url, '/api/v1/workflows', {
        method: 'POST',
        token,
        body: workflowBody({
          name: 'Through a Redis restart',
          ...chain(
            manualNode('start'),
            node('one', 'code', { code: 'const end = Date.now() + 200; while (Date.now() < end) {} return { ...input, step: 1 };' }),
            node('pause', 'wait', { mode: 'delay', seconds: 1 }),
            setNode('finish', { done: true }),
          ),
        }),
      });
      expect(created.status, created.text).toBe(201);
      const workflowUuid: string = created.body.data.uuid;
      const execute = (n: number) => call(api.url, `/api/v1/workflows/${workflowUuid}/execute`, { method: 'POST', token, body: { input: { n }, wait: false } });
      // One without a wait node, for a caller that waits for the end (a parked execution answers 202).
      const quick = await call(api.url, '/api/v1/workflows', {
        method: 'POST',
        token,
        body: workflowBody({ name: 'Quick', ...chain(manualNode('start'), setNode('finish', { done: true })) }),
      });
      expect(quick.status, quick.text).toBe(201);

      const before = await Promise.all(Array.from({ length: BEFORE }, (_, n) => execute(n)));
      for (const response of before) expect(response.status, response.text).toBe(202);
      await until('executions in flight', deadline, async () => {
        const rows = await cluster.query<{ count: number }>(`select count(*)::int as count from workflow_executions where status in ('running', 'waiting')`);
        return rows[0]!.count >= 3 ? true : undefined;
      }, 10);

      await redis.kill();
      const downAt = Date.now();

      // Without Redis: /ready says so, new executions are still taken (the database is the
      // queue), and a caller waiting for its answer gets it from the execution's row.
      const ready = await call(api.url, '/ready');
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({ status: 'unavailable', checks: { database: 'ok', queue: 'error' } });
      const takenAt = Date.now();
      const during = await Promise.all(Array.from({ length: DURING }, (_, n) => execute(BEFORE + n)));
      const takeMs = Date.now() - takenAt;
      for (const response of during) expect(response.status, response.text).toBe(202);
      // Dispatching without Redis fails fast instead of waiting for it.
      expect(takeMs).toBeLessThan(5_000);
      const waited = await call(api.url, `/api/v1/workflows/${quick.body.data.uuid}/execute`, { method: 'POST', token, body: { input: { n: -1 }, wait: true } });
      expect(waited.status, waited.text).toBe(200);
      expect(waited.body.data).toMatchObject({ status: 'succeeded', output: { n: -1, done: true } });
      const total = BEFORE + DURING + 1;
      // Their jobs never reached Redis: a worker's database poll claimed them (poll every 200 ms).
      const duringIds = during.map((response) => response.body.data.uuid as string);
      const claimDelays = await until('the executions taken without Redis were claimed', deadline, async () => {
        const rows = await cluster.query<{ created_at: string; started_at: string | null }>(
          `select created_at, started_at from workflow_executions where id = any($1)`,
          [duringIds],
        );
        return rows.every((row) => row.started_at !== null)
          ? rows.map((row) => new Date(row.started_at!).getTime() - new Date(row.created_at).getTime()).sort((a, b) => a - b)
          : undefined;
      });
      expect(claimDelays.at(-1)).toBeLessThan(1_500);

      // Down for a while: every process's reconnect attempts back off meanwhile.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, downAt + 3_000 - Date.now())));
      await redis.start();
      const upAt = Date.now();

      await until(
        'every execution succeeded',
        deadline,
        async () => {
          const rows = await cluster.query<{ status: string }>(`select status from workflow_executions`);
          const failed = rows.filter((row) => row.status === 'failed' || row.status === 'canceled');
          if (failed.length > 0) throw new Error(`executions ended ${failed.map((row) => row.status).join(', ')}:\n${cluster.outputs()}`);
          return rows.length === total && rows.every((row) => row.status === 'succeeded') ? true : undefined;
        },
        20,
      );
      const doneAfterUp = Date.now() - upAt;
      const steps = await cluster.query<{ execution_id: string; node_id: string; count: number }>(
        `select execution_id, node_id, count(*)::int as count from workflow_execution_steps where status = 'succeeded' group by execution_id, node_id`,
      );
      expect(steps).toHaveLength((total - 1) * 4 + 2);
      expect(steps.every((step) => step.count === 1)).toBe(true);

      // Everything reconnected: the API and both workers listen for events again, /ready is
      // back, and a webhook is answered synchronously through the queue and pub/sub.
      const probe = new Redis(redis.url);
      const channel = `athena:${cluster.schema}:executions`;
      let subscribers = 0;
      await until('every process resubscribed', deadline, async () => {
        [, subscribers] = (await probe.pubsub('NUMSUB', channel)) as [string, number];
        return subscribers === 1 + workers.length ? true : undefined;
      }, 100).catch(async (error: Error) => {
        const clients = await probe.client('LIST');
        throw new Error(`${error.message}: ${subscribers} subscribers\n${clients}\n${cluster.outputs()}`);
      });
      await until('/ready is back', deadline, async () => ((await call(api.url, '/ready')).status === 200 ? true : undefined), 100);

      const hooked = await call(api.url, '/api/v1/workflows', {
        method: 'POST',
        token,
        body: workflowBody({ name: 'After the restart', is_active: true, ...chain(webhookNode('hook', { respond: 'respond_node' }), node('reply', 'respond', { status: 200, body: { n: '{{ trigger.body.n }}' } })) }),
      });
      expect(hooked.status, hooked.text).toBe(201);
      const hook = new URL(hooked.body.data.webhook_url);
      const answered = await call(api.url, `${hook.pathname}${hook.search}`, { method: 'POST', body: { n: 7 } });
      expect(answered.status, answered.text).toBe(200);
      expect(answered.body).toEqual({ n: 7 });
      // A worker took it from the queue (BullMQ's event stream records the job's completion).
      const list = await call(api.url, `/api/v1/workflow-executions?filter[workflow_uuid]=${hooked.body.data.uuid}`, { token });
      const jobId: string = list.body.data[0].uuid;
      await until('the job completed in the queue', deadline, async () => {
        const entries = (await probe.xrange(`athena:${cluster.schema}:athena-executions:events`, '-', '+')) as Array<[string, string[]]>;
        return entries.some(([, fields]) => fields.includes('completed') && fields.includes(jobId)) ? true : undefined;
      }, 100);
      probe.disconnect();

      console.log(
        `scale Redis restart: ${total} executions, Redis down for ${upAt - downAt} ms; ` +
          `${DURING} executions taken in ${takeMs} ms while it was down and claimed from the database ${claimDelays[0]}–${claimDelays.at(-1)} ms after their creation; ` +
          `all done ${doneAfterUp} ms after it came back`,
      );
    },
    BUDGET_MS + 10_000,
  );
});
