import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStream } from '../helpers/ai.js';
import { chain, manualNode, node, setNode } from '../helpers/workflows.js';
import { assertReachable, call, Cluster, SCALE_ENABLED, signUp, until, type ApiProc, type Proc } from './cluster.js';

describe.skipIf(!SCALE_ENABLED)('scale mode: the command room across processes', () => {
  let cluster: Cluster;
  let api: ApiProc;
  let worker: Proc;
  let token: string;

  beforeAll(async () => {
    await assertReachable(process.env.TEST_REDIS_URL!);
    cluster = new Cluster(process.env.TEST_REDIS_URL!);
    [api, worker] = await Promise.all([cluster.startApi(), cluster.startWorker()]);
    token = await signUp(api.url);
  }, 120_000);

  afterAll(async () => cluster?.close(), 30_000);

  it('a worker’s execution moves a task on a stream served by the API process, announced over Redis', async () => {
    const created = await call(api.url, '/api/v1/workflows', {
      method: 'POST',
      token,
      body: {
        name: 'Needs approval',
        ...chain(manualNode('start'), setNode('prepare', { ready: true }), node('approval', 'wait', { mode: 'resume' }), setNode('after', { ok: true })),
      },
    });
    expect(created.status, created.text).toBe(201);
    const workflowId: string = created.body.data.uuid;
    const task = await call(api.url, '/api/v1/command-room/tasks', { method: 'POST', token, body: { title: 'Approve', link: { type: 'workflow', uuid: workflowId } } });
    expect(task.status, task.text).toBe(201);
    const taskId: string = task.body.data.uuid;
    const board = await call(api.url, '/api/v1/command-room/tasks', { token });

    const announcements: Array<{ origin: string; workspace: string }> = [];
    const listener = new Redis(cluster.redisUrl);
    await listener.subscribe(`athena:${cluster.schema}:command-room`);
    listener.on('message', (_channel, text: string) => announcements.push(JSON.parse(text)));
    const stream = openStream(`${api.url}/api/v1/command-room/stream`, { method: 'GET', token, headers: { 'last-event-id': board.headers.get('x-last-event-id')! } });
    try {
      expect(await stream.status).toBe(200);
      const started = await call(api.url, `/api/v1/workflows/${workflowId}/execute`, { method: 'POST', token, body: { input: {}, wait: false } });
      expect(started.status, started.text).toBe(202);
      await stream.next((e) => e.data.uuid === taskId && e.data.status === 'blocked', 30_000);
      const resumed = await call(api.url, `/api/v1/workflow-executions/${started.body.data.uuid}/resume`, { method: 'POST', token, body: { data: {} } });
      expect(resumed.status, resumed.text).toBe(200);
      const done = await stream.next((e) => e.data.uuid === taskId && e.data.status === 'done', 30_000);
      expect(done.data).toMatchObject({ progress: 100, link: { type: 'workflow', status: 'succeeded' } });
      const moves = stream.events.filter((e) => e.data.uuid === taskId && e.event === 'task.moved').map((e) => e.data.status);
      expect(moves).toEqual(['in_progress', 'blocked', 'in_progress', 'done']);
      // The worker wrote those moves and said so on the channel.
      await until('the worker’s announcements', Date.now() + 5_000, async () =>
        announcements.some((a) => a.origin.startsWith(`${worker.pid}:`)) ? true : undefined,
      );
      expect(announcements.every((a) => typeof a.workspace === 'string')).toBe(true);
    } finally {
      stream.drop();
      listener.disconnect();
    }
  }, 90_000);
});
