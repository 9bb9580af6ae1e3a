import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import type { TestApp } from '../helpers/test-app.js';
import { createTestApp } from '../helpers/test-app.js';
import { createThreadWorld, insertAgent, type ThreadWorld } from '../helpers/thread-fixtures.js';
import { createWorkflow } from '../helpers/workflows.js';
import { pruneEvents } from '../../src/modules/command-room/command-room.repository.js';

const TASK_KEYS = ['uuid', 'title', 'description', 'status', 'position', 'progress', 'assignee', 'due_at', 'link', 'created_at', 'updated_at'];
const STATUSES = ['todo', 'in_progress', 'blocked', 'done', 'failed', 'canceled'];

describe.each(DIALECTS)('command room tasks on %s', (dialect) => {
  let t: TestApp;
  let w: ThreadWorld;

  const url = '/api/v1/command-room/tasks';
  const create = async (body: Record<string, unknown>, user = w.member) => {
    const response = await w.call(user, { method: 'POST', url, body });
    expect(response.status, response.text).toBe(201);
    return response.body.data;
  };
  const update = (uuid: string, body: Record<string, unknown>, user = w.member) => w.call(user, { method: 'PUT', url: `${url}/${uuid}`, body });
  const remove = (uuid: string, user = w.member) => w.call(user, { method: 'DELETE', url: `${url}/${uuid}` });
  /** The stored board: each column's titles in position order, and the positions themselves. */
  const columns = async (workspaceId = w.workspaceId) => {
    const rows = await t.ctx.db.kysely
      .selectFrom('command_room_tasks')
      .select(['title', 'status', 'position'])
      .where('workspace_id', '=', workspaceId)
      .orderBy('status')
      .orderBy('position')
      .execute();
    const result: Record<string, { titles: string[]; positions: number[] }> = {};
    for (const row of rows) {
      const column = (result[row.status] ??= { titles: [], positions: [] });
      column.titles.push(row.title);
      column.positions.push(Number(row.position));
    }
    return result;
  };
  const expectDense = async (workspaceId = w.workspaceId) => {
    for (const [status, column] of Object.entries(await columns(workspaceId))) {
      expect(column.positions, status).toEqual(column.positions.map((_, i) => i));
    }
  };
  const clearBoard = () => t.ctx.db.kysely.deleteFrom('command_room_tasks').where('workspace_id', '=', w.workspaceId).execute();

  beforeAll(async () => {
    t = await createTestApp(dialect);
    w = await createThreadWorld(t);
  });
  afterAll(() => t.close());

  describe('store', () => {
    it('stores a task at the end of its column, with its assignee nested and the event logged', async () => {
      await clearBoard();
      const first = await create({ title: '  Write the launch post ', description: 'Draft and review', assignee_id: w.admin.user.id, due_at: '2026-12-24T12:00:00+01:00' });
      expect(Object.keys(first)).toEqual(TASK_KEYS);
      expect(first).toMatchObject({
        title: 'Write the launch post',
        description: 'Draft and review',
        status: 'todo',
        position: 0,
        progress: null,
        assignee: { id: w.admin.user.id, email: w.admin.email, primary_workspace: {} },
        due_at: '2026-12-24T11:00:00.000Z',
        link: null,
      });
      const second = await create({ title: 'Second' });
      expect(second).toMatchObject({ status: 'todo', position: 1, assignee: null, due_at: null, description: null });
      const row = await t.ctx.db.kysely.selectFrom('command_room_tasks').selectAll().where('id', '=', first.uuid).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ workspace_id: w.workspaceId, user_id: w.member.user.id, assignee_id: w.admin.user.id, status: 'todo', position: 0 });
      const events = await t.ctx.db.kysely.selectFrom('command_room_events').selectAll().where('task_id', '=', first.uuid).execute();
      expect(events.map((e) => e.type)).toEqual(['task.created']);
      expect(JSON.parse(String(events[0]!.data)).task).toMatchObject({ uuid: first.uuid, title: 'Write the launch post' });
    });

    it('inserts at a given position, clamped to the column, and shifts the tasks after it', async () => {
      await clearBoard();
      await create({ title: 'a' });
      await create({ title: 'b' });
      await create({ title: 'c' });
      expect((await create({ title: 'front', position: 0 })).position).toBe(0);
      expect((await create({ title: 'middle', position: 2 })).position).toBe(2);
      expect((await create({ title: 'far', position: 99 })).position).toBe(5);
      expect((await create({ title: 'negative', position: -3 })).position).toBe(0);
      expect((await create({ title: 'blocked one', status: 'blocked', position: 4 })).position).toBe(0);
      expect(await columns()).toEqual({
        todo: { titles: ['negative', 'front', 'a', 'middle', 'b', 'c', 'far'], positions: [0, 1, 2, 3, 4, 5, 6] },
        blocked: { titles: ['blocked one'], positions: [0] },
      });
    });

    it('answers 422 naming each bad field, and stores nothing', async () => {
      await clearBoard();
      const bad = await w.call(w.member, { method: 'POST', url, body: { title: '', status: 'later', assignee_id: 'x', link: { type: 'project', uuid: 'nope' } } });
      expect(bad.status).toBe(422);
      expect(Object.keys(bad.body.errors)).toEqual(expect.arrayContaining(['title']));
      const missing = await w.call(w.member, { method: 'POST', url, body: {} });
      expect(missing.status).toBe(422);
      expect(missing.body.errors.title).toBeDefined();
      const long = await w.call(w.member, { method: 'POST', url, body: { title: 'x'.repeat(256) } });
      expect(long.status).toBe(422);
      const blank = await w.call(w.member, { method: 'POST', url, body: { title: '   ' } });
      expect(blank.status).toBe(422);
      const stranger = await w.call(w.member, { method: 'POST', url, body: { title: 'x', assignee_id: w.stranger.user.id } });
      expect(stranger.status).toBe(422);
      expect(stranger.body.errors).toEqual({ assignee_id: ['The selected assignee id is invalid.'] });
      expect(await columns()).toEqual({});
    });

    it('links only what the caller can see in this workspace: else 422 on link.uuid', async () => {
      await clearBoard();
      const visibleAgent = await insertAgent(t, { workspaceId: w.workspaceId, userId: w.owner.user.id, name: 'Support Agent' });
      const privateAgent = await insertAgent(t, { workspaceId: w.workspaceId, userId: w.admin.user.id, name: 'Admin Only', visibility: 'private' });
      const elsewhere = await insertAgent(t, { workspaceId: w.stranger.user.primary_workspace.uuid, userId: w.stranger.user.id, name: 'Far', visibility: 'public' });
      const linked = await create({ title: 'agent work', link: { type: 'agent', uuid: visibleAgent } });
      expect(linked.link).toEqual({ type: 'agent', uuid: visibleAgent, name: 'Support Agent', status: null });
      for (const [type, uuid] of [
        ['agent', privateAgent],
        ['agent', elsewhere],
        ['workflow', '0192f5a0-7c1e-7b3a-9d2e-6f1a2b3c4d5e'],
        ['execution', visibleAgent],
      ] as const) {
        const response = await w.call(w.member, { method: 'POST', url, body: { title: 'x', link: { type, uuid } } });
        expect(response.status, `${type} ${uuid}`).toBe(422);
        expect(response.body.errors).toEqual({ 'link.uuid': ['The selected link uuid is invalid.'] });
      }
      // The admin sees their private agent and may link it; other members see the link without its name.
      const adminTask = await create({ title: 'private work', link: { type: 'agent', uuid: privateAgent } }, w.admin);
      expect(adminTask.link.name).toBe('Admin Only');
      const seenByMember = await w.call(w.member, { url: `${url}/${adminTask.uuid}` });
      expect(seenByMember.body.data.link).toEqual({ type: 'agent', uuid: privateAgent, name: null, status: null });
      const seenByOwner = await w.call(w.owner, { url: `${url}/${adminTask.uuid}` });
      expect(seenByOwner.body.data.link.name).toBe('Admin Only');
    });

    it('links a workflow and a thread of the workspace', async () => {
      const workflow = await createWorkflow(t, w.member.token, { visibility: 'workspace' }, w.workspaceId);
      const task = await create({ title: 'flow', link: { type: 'workflow', uuid: workflow.uuid } });
      expect(task.link).toEqual({ type: 'workflow', uuid: workflow.uuid, name: 'Greeting workflow', status: null });
      const unlinked = await update(task.uuid, { link: null });
      expect(unlinked.body.data).toMatchObject({ link: null, progress: null });
      expect((await update(task.uuid, { link: { type: 'workflow', uuid: workflow.uuid } })).body.data.link.uuid).toBe(workflow.uuid);
      const thread = await w.call(w.member, { method: 'POST', url: '/api/v1/threads', body: { name: 'Chat' } });
      const threadTask = await create({ title: 'chat', link: { type: 'thread', uuid: thread.body.data.uuid } });
      expect(threadTask.link).toMatchObject({ type: 'thread', name: 'Chat' });
      // Someone else's private thread is not theirs to link.
      const other = await w.call(w.admin, { method: 'POST', url, body: { title: 'x', link: { type: 'thread', uuid: thread.body.data.uuid } } });
      expect(other.status).toBe(422);
    });
  });

  describe('who may do what', () => {
    it('lets viewers read but not write; strangers see nothing', async () => {
      await clearBoard();
      const task = await create({ title: 'guarded' });
      expect((await w.call(w.viewer, { url })).status).toBe(200);
      expect((await w.call(w.viewer, { url: `${url}/${task.uuid}` })).body.data.uuid).toBe(task.uuid);
      expect((await w.call(w.viewer, { method: 'POST', url, body: { title: 'no' } })).status).toBe(403);
      expect((await update(task.uuid, { title: 'no' }, w.viewer)).status).toBe(403);
      expect((await remove(task.uuid, w.viewer)).status).toBe(403);
      // The stranger acting in their own workspace: the task is not there.
      const theirs = await t.request({ url: `${url}/${task.uuid}`, token: w.stranger.token });
      expect(theirs.status).toBe(404);
      expect((await t.request({ method: 'PUT', url: `${url}/${task.uuid}`, token: w.stranger.token, body: { title: 'x' } })).status).toBe(404);
      expect((await t.request({ method: 'DELETE', url: `${url}/${task.uuid}`, token: w.stranger.token })).status).toBe(404);
      expect((await w.call(w.stranger, { url })).status).toBe(404);
      expect((await w.call(w.member, { url: `${url}/not-a-uuid` })).status).toBe(404);
      expect((await t.request({ url })).status).toBe(401);
    });
  });

  describe('board', () => {
    it('lists in column order then position, with filters, search and Laravel paging', async () => {
      await clearBoard();
      await create({ title: 'done one', status: 'done' });
      await create({ title: 'todo two' });
      await create({ title: 'todo one', position: 0, assignee_id: w.owner.user.id });
      await create({ title: 'progress', status: 'in_progress', description: 'needle here' });
      const board = await w.call(w.viewer, { url: `${url}?per_page=2` });
      expect(board.status).toBe(200);
      expect(board.body.data.map((task: any) => task.title)).toEqual(['todo one', 'todo two']);
      expect(board.body.meta).toMatchObject({ current_page: 1, per_page: 2, total: 4, last_page: 2 });
      expect(Number(board.headers['x-last-event-id'])).toBeGreaterThan(0);
      const page2 = await w.call(w.viewer, { url: `${url}?per_page=2&page=2` });
      expect(page2.body.data.map((task: any) => task.title)).toEqual(['progress', 'done one']);
      const byStatus = await w.call(w.viewer, { url: `${url}?filter[status]=done` });
      expect(byStatus.body.data.map((task: any) => task.title)).toEqual(['done one']);
      const byAssignee = await w.call(w.viewer, { url: `${url}?filter[assignee_id]=${w.owner.user.id}` });
      expect(byAssignee.body.data.map((task: any) => task.title)).toEqual(['todo one']);
      const searched = await w.call(w.viewer, { url: `${url}?search=NEEDLE` });
      expect(searched.body.data.map((task: any) => task.title)).toEqual(['progress']);
      const linked = await w.call(w.viewer, { url: `${url}?filter[link_type]=agent` });
      expect(linked.body.meta.total).toBe(0);
      expect((await w.call(w.viewer, { url: `${url}?per_page=101` })).status).toBe(422);
      expect((await w.call(w.viewer, { url: `${url}?filter[status]=later` })).status).toBe(422);
    });
  });

  describe('update and move', () => {
    it('edits fields without moving, and logs task.updated', async () => {
      await clearBoard();
      const task = await create({ title: 'edit me' });
      const edited = await update(task.uuid, { title: 'edited', description: 'now', assignee_id: w.viewer.user.id, due_at: null });
      expect(edited.status, edited.text).toBe(200);
      expect(edited.body.data).toMatchObject({ title: 'edited', description: 'now', assignee: { id: w.viewer.user.id }, status: 'todo', position: 0 });
      // Sending what it already has changes nothing and logs nothing.
      const same = await update(task.uuid, { title: 'edited', link: null, status: 'todo', position: 0 });
      expect(same.body.data.updated_at).toBe(edited.body.data.updated_at);
      const events = await t.ctx.db.kysely.selectFrom('command_room_events').select('type').where('task_id', '=', task.uuid).orderBy('id').execute();
      expect(events.map((e) => e.type)).toEqual(['task.created', 'task.updated']);
      expect((await update(task.uuid, { assignee_id: w.stranger.user.id })).status).toBe(422);
      expect((await update(task.uuid, { title: '' })).status).toBe(422);
      expect((await update('0192f5a0-7c1e-7b3a-9d2e-6f1a2b3c4d5e', { title: 'x' })).status).toBe(404);
    });

    it('moves within a column and across columns, closing and opening gaps', async () => {
      await clearBoard();
      const tasks: Record<string, any> = {};
      for (const title of ['a', 'b', 'c', 'd']) tasks[title] = await create({ title });
      for (const title of ['x', 'y']) tasks[title] = await create({ title, status: 'done' });

      // a b c d → b c a d
      expect((await update(tasks.a.uuid, { position: 2 })).body.data).toMatchObject({ status: 'todo', position: 2 });
      // → d b c a
      expect((await update(tasks.d.uuid, { position: 0 })).body.data.position).toBe(0);
      // c to done between x and y; todo closes its gap
      const moved = await update(tasks.c.uuid, { status: 'done', position: 1 });
      expect(moved.body.data).toMatchObject({ status: 'done', position: 1 });
      // b to in_progress (end of an empty column)
      expect((await update(tasks.b.uuid, { status: 'in_progress' })).body.data).toMatchObject({ status: 'in_progress', position: 0 });
      // past the end is the end
      expect((await update(tasks.x.uuid, { position: 50 })).body.data.position).toBe(2);
      expect(await columns()).toEqual({
        done: { titles: ['c', 'y', 'x'], positions: [0, 1, 2] },
        in_progress: { titles: ['b'], positions: [0] },
        todo: { titles: ['d', 'a'], positions: [0, 1] },
      });
      const events = await t.ctx.db.kysely.selectFrom('command_room_events').select('type').where('task_id', '=', tasks.c.uuid).orderBy('id').execute();
      expect(events.map((e) => e.type)).toEqual(['task.created', 'task.moved']);
    });

    it('removes a task, closes the gap and logs task.deleted with its uuid', async () => {
      await clearBoard();
      const a = await create({ title: 'a' });
      const b = await create({ title: 'b' });
      await create({ title: 'c' });
      expect((await remove(b.uuid)).status).toBe(204);
      expect((await remove(b.uuid)).status).toBe(404);
      expect((await w.call(w.member, { url: `${url}/${b.uuid}` })).status).toBe(404);
      expect(await columns()).toEqual({ todo: { titles: ['a', 'c'], positions: [0, 1] } });
      const last = await t.ctx.db.kysely.selectFrom('command_room_events').selectAll().where('task_id', '=', b.uuid).orderBy('id', 'desc').executeTakeFirstOrThrow();
      expect(last.type).toBe('task.deleted');
      expect(JSON.parse(String(last.data)).task).toEqual({ uuid: b.uuid });
      expect(a.uuid).toBeDefined();
    });
  });

  describe('concurrency', () => {
    it('keeps every column dense under 60 concurrent creates, moves and deletes', async () => {
      await clearBoard();
      const seeded: string[] = [];
      for (let i = 0; i < 20; i++) seeded.push((await create({ title: `seed ${i}`, status: STATUSES[i % 3] })).uuid);
      const requests: Array<Promise<{ status: number }>> = [];
      for (let i = 0; i < 60; i++) {
        const kind = i % 4;
        if (kind === 0) requests.push(w.call(w.member, { method: 'POST', url, body: { title: `new ${i}`, status: STATUSES[i % 4], position: i % 5 } }));
        else if (kind === 1) requests.push(update(seeded[i % 20]!, { status: STATUSES[(i * 7) % 6], position: i % 3 }));
        else if (kind === 2) requests.push(update(seeded[(i * 3) % 20]!, { position: (i * 11) % 9 }));
        else requests.push(remove(seeded[(i * 5) % 20]!));
      }
      const results = await Promise.all(requests);
      // Deletes of a task already deleted (or moved by a concurrent request) answer 404; nothing fails otherwise.
      for (const result of results) expect([200, 201, 204, 404]).toContain(result.status);
      expect(results.filter((r) => r.status === 201)).toHaveLength(15);
      await expectDense();
      const board = await w.call(w.member, { url: `${url}?per_page=100` });
      const total = await t.ctx.db.kysely.selectFrom('command_room_tasks').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', w.workspaceId).executeTakeFirstOrThrow();
      expect(board.body.meta.total).toBe(Number(total.n));
      // The board reads in column order, each column 0..n-1.
      const seen: Array<[number, number]> = board.body.data.map((task: any) => [STATUSES.indexOf(task.status), task.position]);
      expect(seen).toEqual([...seen].sort((x, y) => x[0] - y[0] || x[1] - y[1]));
    });

    it('gives each change an event id in commit order: the log replays to the stored board', async () => {
      await clearBoard();
      const start = Number((await w.call(w.member, { url })).headers['x-last-event-id']);
      const tasks = await Promise.all(Array.from({ length: 10 }, (_, i) => w.call(w.member, { method: 'POST', url, body: { title: `t${i}`, position: 0 } })));
      const uuids = tasks.map((r) => r.body.data.uuid as string);
      const since = Number((await w.call(w.member, { url })).headers['x-last-event-id']);
      await Promise.all(uuids.map((uuid, i) => update(uuid, { status: i % 2 ? 'done' : 'todo', position: (i * 3) % 4 })));
      // Replaying the log's moves on the board as it was reproduces the stored order.
      const before = new Map<string, string[]>();
      const events = await t.ctx.db.kysely
        .selectFrom('command_room_events')
        .selectAll()
        .where('workspace_id', '=', w.workspaceId)
        .where('id', '>', start)
        .orderBy('id')
        .execute();
      for (const event of events) {
        const task = JSON.parse(String(event.data)).task;
        for (const list of before.values()) {
          const index = list.indexOf(task.uuid);
          if (index >= 0) list.splice(index, 1);
        }
        if (event.type === 'task.deleted') continue;
        const list = before.get(task.status) ?? [];
        list.splice(task.position, 0, task.uuid);
        before.set(task.status, list);
      }
      expect(events.at(-1)!.id).toBeGreaterThan(since);
      const stored = await t.ctx.db.kysely.selectFrom('command_room_tasks').select(['id', 'status', 'position']).where('workspace_id', '=', w.workspaceId).orderBy('position').execute();
      for (const status of ['todo', 'done']) {
        expect(before.get(status) ?? [], status).toEqual(stored.filter((r) => r.status === status).map((r) => r.id));
      }
    });
  });

  it('prunes the log to the newest events of each workspace, and by age', async () => {
    await clearBoard();
    for (let i = 0; i < 5; i++) await create({ title: `log ${i}` });
    const other = await t.request({ method: 'POST', url, token: w.stranger.token, body: { title: 'elsewhere' } });
    expect(other.status).toBe(201);
    const ids = async (workspaceId: string) =>
      (await t.ctx.db.kysely.selectFrom('command_room_events').select('id').where('workspace_id', '=', workspaceId).orderBy('id').execute()).map((r) => Number(r.id));
    const before = await ids(w.workspaceId);
    const elsewhere = await ids(w.stranger.user.primary_workspace.uuid);
    // Keep 3 per workspace, nothing old enough to go by age; batches of 2.
    await pruneEvents(t.ctx.db.kysely, '2000-01-01T00:00:00.000Z', 3, 2);
    expect(await ids(w.workspaceId)).toEqual(before.slice(-3));
    expect(await ids(w.stranger.user.primary_workspace.uuid)).toEqual(elsewhere);
    await pruneEvents(t.ctx.db.kysely, '2999-01-01T00:00:00.000Z', 3, 2);
    expect(await ids(w.workspaceId)).toEqual([]);
  });

  it('names its operations as seed 004 does', async () => {
    const spec = (await t.request({ url: '/openapi.json' })).body;
    const summaries = Object.values(spec.paths as Record<string, Record<string, any>>)
      .flatMap((path) => Object.values(path))
      .filter((op) => op.tags?.includes('Command Room Task'))
      .map((op) => op.summary);
    expect(summaries).toEqual(expect.arrayContaining(['Store Command Room Task', 'Remove Command Room Task', 'Get Command Room Tasks', 'Update Command Room Task']));
    expect(spec.components.schemas.CommandRoomTask).toBeDefined();
  });
});
