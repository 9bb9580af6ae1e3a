import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai-server.js';
import { GPT_4O_MINI, PROVIDERS, connectModelAccount, createAgent, eventually, openStream, type SseEvent } from '../helpers/ai.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';
import { createThreadWorld, insertAgent, type ThreadWorld } from '../helpers/thread-fixtures.js';
import { chain, createWorkflow, manualNode, node, setNode } from '../helpers/workflows.js';
import { pruneBoardEvents } from '../../src/modules/command-room/command-room.follow.js';
import { commandRoomOf } from '../../src/modules/command-room/command-room.stream.js';

const KEY = 'sk-command-room-0123456789';
const TASKS = '/api/v1/command-room/tasks';

/**
 * The command room's live side over a real socket: the stream in order, resumed after a drop
 * with Last-Event-ID, and tasks following executions and thread runs to their end.
 */
describe.each(DIALECTS)('the command room stream on %s', (dialect) => {
  let t: TestApp;
  let w: ThreadWorld;
  let base: string;
  let openai: FakeOpenAi;
  const streams: Array<{ drop(): void }> = [];

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: KEY });
    t = await createTestApp(dialect, { ATHENA_WORKFLOW_POLL_MS: '100' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    w = await createThreadWorld(t);
  });
  afterAll(async () => {
    for (const stream of streams) stream.drop();
    await t.close();
    await openai.close();
  });

  const create = async (body: Record<string, unknown>, user: SignedUp = w.member) => {
    const response = await w.call(user, { method: 'POST', url: TASKS, body });
    expect(response.status, response.text).toBe(201);
    return response.body.data;
  };
  const update = async (uuid: string, body: Record<string, unknown>) => {
    const response = await w.call(w.member, { method: 'PUT', url: `${TASKS}/${uuid}`, body });
    expect(response.status, response.text).toBe(200);
    return response.body.data;
  };
  const lastEventId = async () => Number((await w.call(w.member, { url: TASKS })).headers['x-last-event-id']);
  const connect = (user: SignedUp, headers: Record<string, string> = {}, query = '') => {
    const stream = openStream(`${base}/api/v1/command-room/stream${query}`, { method: 'GET', token: user.token, headers: { 'x-workspace-id': w.workspaceId, ...headers } });
    streams.push(stream);
    return stream;
  };
  /** Waits until `count` events for which `predicate` holds have arrived. */
  const waitFor = (stream: ReturnType<typeof connect>, count: number, predicate: (e: SseEvent) => boolean = () => true) =>
    eventually(async () => stream.events.filter(predicate).length >= count || undefined, 10_000);
  const summary = (events: SseEvent[]) => events.map((e) => `${e.event} ${e.data.title ?? e.data.uuid}${e.data.status ? ` ${e.data.status}:${e.data.position}` : ''}`);

  it('sends board changes in order, then after a drop replays exactly the missed ones before live ones', async () => {
    const since = await lastEventId();
    const first = connect(w.viewer, { 'last-event-id': String(since) });
    expect(await first.status).toBe(200);
    const a = await create({ title: 'A' });
    const b = await create({ title: 'B' });
    await update(a.uuid, { status: 'done' });
    await w.call(w.member, { method: 'DELETE', url: `${TASKS}/${b.uuid}` });
    await waitFor(first, 4);
    expect(summary(first.events)).toEqual(['task.created A todo:' + a.position, 'task.created B todo:' + b.position, `task.moved A done:0`, `task.deleted ${b.uuid}`]);
    const ids = first.events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(4);
    expect(ids[0]).toBeGreaterThan(since);

    first.drop();
    await eventually(async () => commandRoomOf(t.ctx).clientCount === 0 || undefined);
    const c = await create({ title: 'C' });
    await update(a.uuid, { title: 'A renamed' });

    const resumed = connect(w.viewer, { 'last-event-id': String(ids.at(-1)) });
    await waitFor(resumed, 2);
    await create({ title: 'D' });
    await waitFor(resumed, 3);
    // Give a duplicate the chance to show up.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(summary(resumed.events)).toEqual([`task.created C todo:${c.position}`, 'task.updated A renamed done:0', expect.stringMatching(/^task\.created D todo:/)]);
    expect(resumed.events[0]!.id).toBeGreaterThan(ids.at(-1)!);
    resumed.drop();

    // The query parameter does the same for clients that cannot send the header.
    const byQuery = connect(w.viewer, {}, `?last_event_id=${ids.at(-1)}`);
    await waitFor(byQuery, 3);
    expect(summary(byQuery.events).slice(0, 2)).toEqual([`task.created C todo:${c.position}`, 'task.updated A renamed done:0']);
    byQuery.drop();
  });

  it('fans each change out to many clients, every one getting the same frames in the same order', async () => {
    const since = String(await lastEventId());
    const clients = Array.from({ length: 25 }, (_, i) => connect(i % 2 ? w.viewer : w.owner, { 'last-event-id': since }));
    const tasks = await Promise.all(Array.from({ length: 6 }, (_, i) => w.call(w.member, { method: 'POST', url: TASKS, body: { title: `fan ${i}`, position: 0 } })));
    await Promise.all(tasks.map((r, i) => w.call(w.member, { method: 'PUT', url: `${TASKS}/${r.body.data.uuid}`, body: { status: i % 2 ? 'done' : 'blocked' } })));
    for (const client of clients) await waitFor(client, 12);
    const reference = clients[0]!.events.map((e) => [e.id, e.event, e.data.uuid, e.data.status, e.data.position]);
    expect(new Set(reference.map((r) => r[0])).size).toBe(12);
    for (const client of clients) expect(client.events.map((e) => [e.id, e.event, e.data.uuid, e.data.status, e.data.position])).toEqual(reference);
    for (const client of clients) client.drop();
  });

  it('without Last-Event-ID sends only what changes from now; a pruned id gets a reset', async () => {
    await create({ title: 'before' });
    const live = connect(w.member);
    await eventually(async () => commandRoomOf(t.ctx).clientCount >= 1 || undefined);
    // Joining reads the newest event id; let that finish before changing the board.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await create({ title: 'after' });
    await waitFor(live, 1);
    expect(summary(live.events)).toEqual([expect.stringMatching(/^task\.created after/)]);
    live.drop();

    const gone = connect(w.member, { 'last-event-id': '999999999' });
    await waitFor(gone, 1);
    expect(gone.events[0]!.event).toBe('reset');
    expect(gone.events[0]!.data.last_event_id).toBe(await lastEventId());
    await create({ title: 'after reset' });
    await waitFor(gone, 2);
    expect(gone.events[1]!.data.title).toBe('after reset');
    gone.drop();

    // Pruning keeps the newest 10,000 per workspace and a week: an id from before that is reset.
    await t.ctx.db.kysely.updateTable('command_room_events').set({ created_at: '2020-01-01T00:00:00.000Z' }).where('workspace_id', '=', w.workspaceId).execute();
    const oldId = await lastEventId();
    expect(await pruneBoardEvents(t.ctx)).toBeGreaterThan(0);
    const afterPrune = connect(w.member, { 'last-event-id': String(oldId) });
    await waitFor(afterPrune, 1);
    expect(afterPrune.events[0]!.event).toBe('reset');
    afterPrune.drop();
  });

  it('shows a private link’s name only to those who may see it, in the same event', async () => {
    const privateAgent = await insertAgent(t, { workspaceId: w.workspaceId, userId: w.admin.user.id, name: 'Secret Agent', visibility: 'private' });
    const since = String(await lastEventId());
    const member = connect(w.member, { 'last-event-id': since });
    const owner = connect(w.owner, { 'last-event-id': since });
    await create({ title: 'secret work', link: { type: 'agent', uuid: privateAgent } }, w.admin);
    await waitFor(member, 1);
    await waitFor(owner, 1);
    expect(member.events[0]!.data.link).toEqual({ type: 'agent', uuid: privateAgent, name: null, status: null });
    expect(owner.events[0]!.data.link).toMatchObject({ type: 'agent', uuid: privateAgent, name: 'Secret Agent' });
    expect(member.events[0]!.id).toBe(owner.events[0]!.id);
    member.drop();
    owner.drop();
  });

  it('answers 401 without credentials and 404 for a workspace the caller is not in', async () => {
    const anonymous = openStream(`${base}/api/v1/command-room/stream`, { method: 'GET', token: 'nope' });
    expect(await anonymous.status).toBe(401);
    const stranger = openStream(`${base}/api/v1/command-room/stream`, { method: 'GET', token: w.stranger.token, headers: { 'x-workspace-id': w.workspaceId } });
    expect(await stranger.status).toBe(404);
  });

  describe('following', () => {
    const approvalFlow = () =>
      createWorkflow(
        t,
        w.member.token,
        {
          visibility: 'workspace',
          ...chain(manualNode('start'), setNode('prepare', { ready: true }), node('approval', 'wait', { mode: 'resume' }), setNode('after', { approved: true })),
        },
        w.workspaceId,
      );
    const execute = (workflowUuid: string, wait = false) =>
      w.call(w.member, { method: 'POST', url: `/api/v1/workflows/${workflowUuid}/execute`, body: { input: {}, wait } });
    const task = async (uuid: string) => (await w.call(w.member, { url: `${TASKS}/${uuid}` })).body.data;
    const statusesOf = (stream: ReturnType<typeof connect>, uuid: string) =>
      stream.events.filter((e) => e.data.uuid === uuid && e.event === 'task.moved').map((e) => e.data.status);

    it('follows a linked workflow’s next execution through a wait to its end, progress 100, in order on the stream', async () => {
      const workflow = await approvalFlow();
      const linked = await create({ title: 'Approve the release', link: { type: 'workflow', uuid: workflow.uuid } });
      expect(linked).toMatchObject({ status: 'todo', progress: null, link: { type: 'workflow', name: 'Greeting workflow', status: null } });
      const stream = connect(w.viewer, { 'last-event-id': String(await lastEventId()) });

      const started = await execute(workflow.uuid);
      expect(started.status).toBe(202);
      const executionId = started.body.data.uuid;
      await eventually(async () => (await task(linked.uuid)).status === 'blocked' || undefined, 10_000);
      const blocked = await task(linked.uuid);
      expect(blocked.link).toMatchObject({ status: 'waiting' });
      // Two of four nodes ran before the wait parked it.
      expect(blocked.progress).toBeGreaterThan(0);
      expect(blocked.progress).toBeLessThan(100);

      const resumed = await w.call(w.member, { method: 'POST', url: `/api/v1/workflow-executions/${executionId}/resume`, body: { data: { ok: true } } });
      expect(resumed.status).toBe(200);
      await eventually(async () => (await task(linked.uuid)).status === 'done' || undefined, 10_000);
      expect(await task(linked.uuid)).toMatchObject({ status: 'done', progress: 100, link: { status: 'succeeded' } });

      await waitFor(stream, 1, (e) => e.data.uuid === linked.uuid && e.data.status === 'done');
      expect(statusesOf(stream, linked.uuid)).toEqual(['in_progress', 'blocked', 'in_progress', 'done']);
      const last = stream.events.filter((e) => e.data.uuid === linked.uuid).at(-1)!;
      expect(last.data).toMatchObject({ status: 'done', progress: 100, position: expect.any(Number) });
      stream.drop();
    });

    it('follows a linked execution from where it is, and a failing one ends failed', async () => {
      const workflow = await approvalFlow();
      const started = await execute(workflow.uuid);
      const executionId = started.body.data.uuid;
      await eventually(async () => {
        const row = await t.ctx.db.kysely.selectFrom('workflow_executions').select('status').where('id', '=', executionId).executeTakeFirst();
        return row?.status === 'waiting' || undefined;
      });
      const linked = await create({ title: 'Watch it', link: { type: 'execution', uuid: executionId } });
      expect(linked).toMatchObject({ status: 'blocked', link: { type: 'execution', uuid: executionId, status: 'waiting', name: 'Greeting workflow' } });
      await w.call(w.member, { method: 'POST', url: `/api/v1/workflow-executions/${executionId}/resume`, body: { data: {} } });
      await eventually(async () => (await task(linked.uuid)).status === 'done' || undefined, 10_000);
      expect((await task(linked.uuid)).progress).toBe(100);

      const broken = await createWorkflow(
        t,
        w.member.token,
        { visibility: 'workspace', ...chain(manualNode('start'), setNode('first', { a: 1 }), node('broken', 'transform', { output: '{{ $boom(input) }}' })) },
        w.workspaceId,
      );
      const failing = await create({ title: 'Will fail', link: { type: 'workflow', uuid: broken.uuid } });
      const failed = await execute(broken.uuid, true);
      expect(failed.body.data.status).toBe('failed');
      await eventually(async () => (await task(failing.uuid)).status === 'failed' || undefined, 10_000);
      expect((await task(failing.uuid)).link.status).toBe('failed');
    });

    it('moves a task when its execution is cancelled, and catches a delete it did not see (the reconcile pass)', async () => {
      const workflow = await approvalFlow();
      const started = await execute(workflow.uuid);
      const executionId = started.body.data.uuid;
      const linked = await create({ title: 'Cancel me', link: { type: 'execution', uuid: executionId } });
      await eventually(async () => (await task(linked.uuid)).status === 'blocked' || undefined, 10_000);
      expect((await w.call(w.member, { method: 'POST', url: `/api/v1/workflow-executions/${executionId}/cancel` })).status).toBe(200);
      // Moved before the cancel answered, not left to the reconcile pass.
      expect(await task(linked.uuid)).toMatchObject({ status: 'canceled', link: { status: 'canceled' } });

      // A waiting execution deleted under its follower: the task stops showing it as waiting.
      const another = await execute(workflow.uuid);
      const waitingTask = await create({ title: 'Lose it', link: { type: 'execution', uuid: another.body.data.uuid } });
      await eventually(async () => (await task(waitingTask.uuid)).link.status === 'waiting' || undefined, 10_000);
      expect((await w.call(w.member, { method: 'DELETE', url: `/api/v1/workflow-executions/${another.body.data.uuid}` })).status).toBe(204);
      await eventually(async () => (await task(waitingTask.uuid)).link.status === null || undefined, 15_000);
      expect(await task(waitingTask.uuid)).toMatchObject({ status: 'blocked', link: { type: 'execution', name: null } });
    });

    it('follows a linked thread’s run: in progress, then done', async () => {
      const account = await connectModelAccount(t, w.member.token, {
        provider: PROVIDERS.openai,
        baseUrl: `${openai.url}/v1`,
        apiKey: KEY,
        headers: { 'x-workspace-id': w.workspaceId },
      });
      const agent = await createAgent(t, w.member.token, { name: 'Runner', llm_uuid: GPT_4O_MINI, account_uuid: account, visibility: 'workspace' }, { 'x-workspace-id': w.workspaceId });
      const thread = await w.call(w.member, { method: 'POST', url: '/api/v1/threads', body: { agent_uuid: agent.uuid, name: 'Talk', visibility: 'workspace' } });
      const linked = await create({ title: 'Answer the customer', link: { type: 'thread', uuid: thread.body.data.uuid } });
      const byAgent = await create({ title: 'Everything the runner does', link: { type: 'agent', uuid: agent.uuid } });
      const stream = connect(w.viewer, { 'last-event-id': String(await lastEventId()) });
      openai.script([{ text: 'Done, thanks.' }]);
      const run = await w.call(w.member, { method: 'POST', url: `/api/v1/threads/${thread.body.data.uuid}/run`, body: { content: 'Please help' } });
      expect(run.status, run.text).toBe(200);
      await eventually(async () => (await task(linked.uuid)).status === 'done' || undefined, 10_000);
      expect(await task(linked.uuid)).toMatchObject({ status: 'done', progress: 100, link: { type: 'thread', name: 'Talk', status: 'completed' } });
      await waitFor(stream, 1, (e) => e.data.uuid === linked.uuid && e.data.status === 'done');
      expect(statusesOf(stream, linked.uuid)).toEqual(['in_progress', 'done']);
      // The agent's task followed the same run.
      await eventually(async () => (await task(byAgent.uuid)).status === 'done' || undefined, 10_000);
      expect(await task(byAgent.uuid)).toMatchObject({ progress: 100, link: { type: 'agent', name: 'Runner', status: 'completed' } });
      stream.drop();
    });
  });
});
