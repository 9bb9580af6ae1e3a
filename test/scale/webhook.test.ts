import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chain, node, setNode, webhookNode, workflowBody } from '../helpers/workflows.js';
import { assertReachable, call, Cluster, ownerPid, SCALE_ENABLED, signUp, until, type ApiProc, type Proc } from './cluster.js';

const CALLS = 20;

describe.skipIf(!SCALE_ENABLED)('scale mode: an API process and two workers answer webhooks', () => {
  let cluster: Cluster;
  let api: ApiProc;
  let workers: Proc[] = [];
  let token: string;

  beforeAll(async () => {
    await assertReachable(process.env.TEST_REDIS_URL!);
    // Four at a time per worker: twenty calls at once need both.
    cluster = new Cluster(process.env.TEST_REDIS_URL!, { ATHENA_WORKFLOW_CONCURRENCY: '4' });
    api = await cluster.startApi();
    token = await signUp(api.url);
  }, 90_000);

  afterAll(async () => cluster?.close(), 30_000);

  it('an API-only process runs nothing: the execution stays queued until a worker starts', async () => {
    const ready = await call(api.url, '/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ok', checks: { database: 'ok', queue: 'ok' } });

    const created = await call(api.url, '/api/v1/workflows', { method: 'POST', token, body: workflowBody({ name: 'Queued first' }) });
    expect(created.status, created.text).toBe(201);
    const started = await call(api.url, `/api/v1/workflows/${created.body.data.uuid}/execute`, { method: 'POST', token, body: { input: { n: 1 }, wait: false } });
    expect(started.status, started.text).toBe(202);
    const uuid: string = started.body.data.uuid;

    // Well past the poll interval: a process that ran executions would have started it.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const waiting = await call(api.url, `/api/v1/workflow-executions/${uuid}`, { token });
    expect(waiting.body.data.status).toBe('queued');

    workers = await Promise.all([cluster.startWorker('worker-1'), cluster.startWorker('worker-2')]);
    const done = await until('the queued execution ran', Date.now() + 20_000, async () => {
      const response = await call(api.url, `/api/v1/workflow-executions/${uuid}`, { token });
      return response.body.data.status === 'succeeded' ? response.body.data : undefined;
    });
    expect(done.data.nodes.map((step: { node_id: string }) => step.node_id)).toEqual(['webhook', 'set', 'respond']);
  }, 120_000);

  it('answers every webhook call synchronously from its respond node, with the work spread over both workers', async () => {
    expect(workers).toHaveLength(2);
    const created = await call(api.url, '/api/v1/workflows', {
      method: 'POST',
      token,
      body: workflowBody({
        name: 'Webhook through the queue',
        is_active: true,
        ...chain(
          webhookNode('hook', { respond: 'respond_node' }),
          setNode('greet', { greeting: '{{ "hello " & trigger.body.name }}', double: '{{ trigger.body.n * 2 }}' }),
          // Long enough that executions overlap, so one worker's four slots cannot take them all.
          node('busy', 'code', { code: 'const end = Date.now() + 100; while (Date.now() < end) {} return input;' }),
          node('reply', 'respond', { status: 201, headers: { 'x-flow': 'scale' }, body: { greeting: '{{ input.greeting }}', double: '{{ input.double }}' } }),
        ),
      }),
    });
    expect(created.status, created.text).toBe(201);
    const hook = new URL(created.body.data.webhook_url);

    // The answers travel from the workers to the API process over Redis pub/sub.
    const events: Array<{ origin: string; id: string; kind: string; event?: { type: string } }> = [];
    const listener = new Redis(cluster.redisUrl);
    await listener.subscribe(`athena:${cluster.schema}:executions`);
    listener.on('message', (_channel, text: string) => events.push(JSON.parse(text)));

    // Which processes hold the executions' leases while they run.
    const owners = new Set<number>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const rows = await cluster.query<{ lease_owner: string | null }>(`select lease_owner from workflow_executions where status = 'running'`);
        for (const row of rows) owners.add(ownerPid(row.lease_owner)!);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();

    const started = Date.now();
    const responses = await Promise.all(
      Array.from({ length: CALLS }, (_, n) =>
        call(api.url, `${hook.pathname}${hook.search}`, { method: 'POST', body: { name: `caller ${n}`, n } }).then((response) => ({ n, response })),
      ),
    );
    const elapsed = Date.now() - started;
    watching = false;
    await watcher;

    for (const { n, response } of responses) {
      expect(response.status, response.text).toBe(201);
      expect(response.headers.get('x-flow')).toBe('scale');
      expect(response.body).toEqual({ greeting: `hello caller ${n}`, double: n * 2 });
    }
    expect([...owners].sort()).toEqual(workers.map((worker) => worker.pid).sort());
    expect(owners.has(api.pid)).toBe(false);

    const list = await until('every execution recorded its end', Date.now() + 10_000, async () => {
      const response = await call(api.url, `/api/v1/workflow-executions?filter[workflow_uuid]=${created.body.data.uuid}&per_page=100`, { token });
      const executions = response.body.data as Array<{ uuid: string; status: string }>;
      return executions.length === CALLS && executions.every((execution) => execution.status === 'succeeded') ? executions : undefined;
    });
    await until('every answer and end was published', Date.now() + 5_000, async () => (events.length >= 2 * CALLS ? true : undefined));
    for (const { uuid } of list) {
      const execution = (await call(api.url, `/api/v1/workflow-executions/${uuid}`, { token })).body.data;
      expect(execution).toMatchObject({ status: 'succeeded', trigger: 'webhook', node_runs: 4 });
      expect(execution.data.nodes.map((step: { node_id: string }) => step.node_id)).toEqual(['hook', 'greet', 'busy', 'reply']);
      const published = events.filter((event) => event.id === uuid).map((event) => [event.event?.type, ownerPid(event.origin)]);
      expect(published.map(([type]) => type)).toEqual(['responded', 'settled']);
      expect(workers.map((worker) => worker.pid)).toContain(published[0]![1]);
    }
    listener.disconnect();
    console.log(`scale webhook: ${CALLS} calls answered through 2 workers in ${elapsed} ms`);
  }, 60_000);
});
