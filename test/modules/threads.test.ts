import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';
import { createThreadWorld, insertAgent, insertRunningRun, type ThreadWorld } from '../helpers/thread-fixtures.js';

const THREAD_KEYS = [
  'uuid',
  'name',
  'agent_uuid',
  'agent',
  'visibility',
  'metadata',
  'message_count',
  'last_message_at',
  'active_run_uuid',
  'is_owner',
  'user',
  'created_at',
  'updated_at',
];

describe.each(DIALECTS)('threads on %s', (dialect) => {
  let t: TestApp;
  let w: ThreadWorld;
  let agentId: string;
  let privateAgentId: string;
  let strangerAgentId: string;

  const storedThread = (id: string) => t.ctx.db.kysely.selectFrom('threads').selectAll().where('id', '=', id).executeTakeFirst();
  const create = async (user: SignedUp, body: Record<string, unknown>) => {
    const response = await w.call(user, { method: 'POST', url: '/api/v1/threads', body });
    expect(response.status, response.text).toBe(201);
    return response.body.data;
  };

  beforeAll(async () => {
    t = await createTestApp(dialect);
    w = await createThreadWorld(t);
    agentId = await insertAgent(t, { workspaceId: w.workspaceId, userId: w.owner.user.id, name: 'Support Agent' });
    privateAgentId = await insertAgent(t, { workspaceId: w.workspaceId, userId: w.admin.user.id, name: 'Admin Only', visibility: 'private' });
    strangerAgentId = await insertAgent(t, {
      workspaceId: w.stranger.user.primary_workspace.uuid,
      userId: w.stranger.user.id,
      name: 'Elsewhere',
      visibility: 'workspace',
    });
  });
  afterAll(() => t.close());

  describe('create', () => {
    it('creates a private thread with an agent the caller may run and stores it', async () => {
      const thread = await create(w.member, { agent_uuid: agentId, name: '  Refund for order 1042 ', metadata: { channel: 'web' } });

      expect(Object.keys(thread)).toEqual(THREAD_KEYS);
      expect(thread).toMatchObject({
        name: 'Refund for order 1042',
        agent_uuid: agentId,
        agent: { uuid: agentId, name: 'Support Agent', profile_photo_url: null, profile_photo_config: { emoji: '🤖' } },
        visibility: 'private',
        metadata: { channel: 'web' },
        message_count: 0,
        last_message_at: null,
        active_run_uuid: null,
        is_owner: true,
        user: { id: w.member.user.id, primary_workspace: {} },
      });
      expect(thread.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const row = await storedThread(thread.uuid);
      expect(row).toMatchObject({ workspace_id: w.workspaceId, user_id: w.member.user.id, agent_id: agentId, visibility: 'private', message_count: 0 });
    });

    it('creates a thread without an agent or a name', async () => {
      const thread = await create(w.owner, {});
      expect(thread).toMatchObject({ name: null, agent_uuid: null, agent: null, visibility: 'private', metadata: {} });
    });

    it('answers 422 for an agent the caller cannot see: unknown, someone else’s private one, another workspace’s', async () => {
      for (const agent of ['0192f5a0-7c1e-7b3a-9d2e-6f1a2b3c4d5e', privateAgentId, strangerAgentId]) {
        const response = await w.call(w.member, { method: 'POST', url: '/api/v1/threads', body: { agent_uuid: agent } });
        expect(response.status, agent).toBe(422);
        expect(response.body).toEqual({
          message: 'The selected agent uuid is invalid.',
          errors: { agent_uuid: ['The selected agent uuid is invalid.'] },
        });
      }
    });

    it('validates the body', async () => {
      const response = await w.call(w.member, {
        method: 'POST',
        url: '/api/v1/threads',
        body: { agent_uuid: 'not-a-uuid', visibility: 'public', name: '', metadata: 'x', colour: 'red' },
      });
      expect(response.status).toBe(422);
      expect(Object.keys(response.body.errors).sort()).toEqual(['agent_uuid', 'colour', 'metadata', 'name', 'visibility']);
      expect(response.body.errors.visibility).toEqual(['The selected visibility is invalid.']);
    });

    it('refuses viewers with 403 and writes nothing', async () => {
      const before = await t.ctx.db.kysely.selectFrom('threads').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      const response = await w.call(w.viewer, { method: 'POST', url: '/api/v1/threads', body: { name: 'Looking around' } });
      expect(response.status).toBe(403);
      expect(response.body).toEqual({ message: 'This action is unauthorized.' });
      const after = await t.ctx.db.kysely.selectFrom('threads').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      expect(Number(after.n)).toBe(Number(before.n));
    });
  });

  describe('visibility', () => {
    let privateThread: any;
    let sharedThread: any;

    beforeAll(async () => {
      privateThread = await create(w.member, { name: 'Private notes' });
      sharedThread = await create(w.member, { name: 'Team discussion', visibility: 'workspace', agent_uuid: agentId });
    });

    it('hides a private thread from every other member, admins included (404)', async () => {
      for (const user of [w.owner, w.admin, w.viewer]) {
        for (const method of ['GET', 'PUT', 'DELETE'] as const) {
          const response = await w.call(user, { method, url: `/api/v1/threads/${privateThread.uuid}`, ...(method === 'PUT' ? { body: { name: 'x' } } : {}) });
          expect(response.status, `${method} as ${user.email}`).toBe(404);
          expect(response.body).toEqual({ message: 'Resource not found.' });
        }
      }
      expect((await storedThread(privateThread.uuid))?.name).toBe('Private notes');
    });

    it('hides threads from another workspace (404), in its own workspace or naming ours', async () => {
      const own = await t.request({ url: `/api/v1/threads/${sharedThread.uuid}`, token: w.stranger.token });
      expect(own.status).toBe(404);
      const named = await w.call(w.stranger, { url: `/api/v1/threads/${sharedThread.uuid}` });
      expect(named.status).toBe(404);
      const list = await t.request({ url: '/api/v1/threads', token: w.stranger.token });
      expect(list.body.data).toEqual([]);
    });

    it('lets every member read a workspace thread, but only its owner change it (403)', async () => {
      for (const user of [w.owner, w.admin, w.viewer]) {
        const response = await w.call(user, { url: `/api/v1/threads/${sharedThread.uuid}` });
        expect(response.status).toBe(200);
        expect(response.body.data).toMatchObject({ uuid: sharedThread.uuid, is_owner: false, user: { id: w.member.user.id } });
      }
      for (const user of [w.owner, w.admin, w.viewer]) {
        const response = await w.call(user, { method: 'PUT', url: `/api/v1/threads/${sharedThread.uuid}`, body: { name: 'Hijacked' } });
        expect(response.status).toBe(403);
      }
      expect((await storedThread(sharedThread.uuid))?.name).toBe('Team discussion');
    });

    it('lets only the owner (or an admin or owner of the workspace) delete a workspace thread', async () => {
      const doomed = await create(w.member, { name: 'Doomed', visibility: 'workspace' });
      const byViewer = await w.call(w.viewer, { method: 'DELETE', url: `/api/v1/threads/${doomed.uuid}` });
      expect(byViewer.status).toBe(403);
      const otherMember = await create(w.owner, { name: 'Owner’s', visibility: 'workspace' });
      const byMember = await w.call(w.member, { method: 'DELETE', url: `/api/v1/threads/${otherMember.uuid}` });
      expect(byMember.status).toBe(403);
      expect(await storedThread(otherMember.uuid)).toBeDefined();

      const byAdmin = await w.call(w.admin, { method: 'DELETE', url: `/api/v1/threads/${doomed.uuid}` });
      expect(byAdmin.status).toBe(204);
      expect(byAdmin.text).toBe('');
      expect(await storedThread(doomed.uuid)).toBeUndefined();
      expect((await w.call(w.member, { url: `/api/v1/threads/${doomed.uuid}` })).status).toBe(404);
    });

    it('lets the owner delete their thread with its messages', async () => {
      const thread = await create(w.member, { name: 'Short-lived' });
      const message = await w.call(w.member, { method: 'POST', url: `/api/v1/threads/${thread.uuid}/messages`, body: { content: 'Hi' } });
      expect(message.status).toBe(201);
      const response = await w.call(w.member, { method: 'DELETE', url: `/api/v1/threads/${thread.uuid}` });
      expect(response.status).toBe(204);
      expect(await storedThread(thread.uuid)).toBeUndefined();
      const messages = await t.ctx.db.kysely.selectFrom('messages').select('id').where('thread_id', '=', thread.uuid).execute();
      expect(messages).toEqual([]);
    });

    it('refuses a viewer’s changes to a thread they started before being demoted (403)', async () => {
      const thread = await create(w.admin, { name: 'Before demotion' });
      const demoted = await t.request({
        method: 'PUT',
        url: `/api/v1/workspaces/${w.workspaceId}/members/${w.admin.user.id}`,
        token: w.owner.token,
        body: { role: 'viewer' },
      });
      expect(demoted.status).toBe(200);
      try {
        const update = await w.call(w.admin, { method: 'PUT', url: `/api/v1/threads/${thread.uuid}`, body: { name: 'After' } });
        expect(update.status).toBe(403);
        const read = await w.call(w.admin, { url: `/api/v1/threads/${thread.uuid}` });
        expect(read.status).toBe(200);
      } finally {
        await t.request({
          method: 'PUT',
          url: `/api/v1/workspaces/${w.workspaceId}/members/${w.admin.user.id}`,
          token: w.owner.token,
          body: { role: 'admin' },
        });
      }
    });
  });

  describe('update', () => {
    it('changes the fields sent and keeps the others', async () => {
      const thread = await create(w.member, { name: 'Draft', agent_uuid: agentId, metadata: { a: 1 } });
      const response = await w.call(w.member, {
        method: 'PUT',
        url: `/api/v1/threads/${thread.uuid}`,
        body: { name: 'Final', visibility: 'workspace', metadata: { b: 2 } },
      });
      expect(response.status, response.text).toBe(200);
      expect(response.body.data).toMatchObject({ name: 'Final', visibility: 'workspace', metadata: { b: 2 }, agent_uuid: agentId });
      expect(response.body.data.updated_at >= thread.updated_at).toBe(true);
      const row = await storedThread(thread.uuid);
      expect(row).toMatchObject({ name: 'Final', visibility: 'workspace', agent_id: agentId });

      const detached = await w.call(w.member, { method: 'PUT', url: `/api/v1/threads/${thread.uuid}`, body: { agent_uuid: null, name: null } });
      expect(detached.body.data).toMatchObject({ agent_uuid: null, agent: null, name: null });
    });

    it('checks a new agent like create does (422)', async () => {
      const thread = await create(w.member, { name: 'Agent swap' });
      const response = await w.call(w.member, { method: 'PUT', url: `/api/v1/threads/${thread.uuid}`, body: { agent_uuid: privateAgentId } });
      expect(response.status).toBe(422);
      expect(response.body.errors).toEqual({ agent_uuid: ['The selected agent uuid is invalid.'] });
      expect((await storedThread(thread.uuid))?.agent_id).toBeNull();
    });
  });

  describe('list', () => {
    let world: ThreadWorld;
    let listAgent: string;
    const names = async (user: SignedUp, query = '') =>
      (await world.call(user, { url: `/api/v1/threads${query}` })).body.data.map((thread: { name: string }) => thread.name);

    beforeAll(async () => {
      // A workspace of its own, so other tests' threads do not interfere.
      world = await createThreadWorld(t);
      listAgent = await insertAgent(t, { workspaceId: world.workspaceId, userId: world.owner.user.id, name: 'Lister' });
      const make = async (user: SignedUp, body: Record<string, unknown>) => {
        const response = await world.call(user, { method: 'POST', url: '/api/v1/threads', body });
        expect(response.status, response.text).toBe(201);
        return response.body.data;
      };
      const alpha = await make(world.member, { name: 'Alpha billing', agent_uuid: listAgent });
      await make(world.member, { name: 'Beta onboarding', visibility: 'workspace' });
      await make(world.owner, { name: 'Gamma billing', visibility: 'workspace', agent_uuid: listAgent });
      await make(world.owner, { name: 'Delta secret' });
      // A message makes Alpha the most recently active.
      const posted = await world.call(world.member, { method: 'POST', url: `/api/v1/threads/${alpha.uuid}/messages`, body: { content: 'Hello' } });
      expect(posted.status).toBe(201);
    });

    it('lists the caller’s threads and the workspace-visible ones, most recently updated first', async () => {
      expect(await names(world.member)).toEqual(['Alpha billing', 'Gamma billing', 'Beta onboarding']);
      expect(await names(world.owner)).toEqual(['Delta secret', 'Gamma billing', 'Beta onboarding']);
      expect(await names(world.viewer)).toEqual(['Gamma billing', 'Beta onboarding']);
      const page = await world.call(world.member, { url: '/api/v1/threads' });
      expect(page.body.meta).toMatchObject({ current_page: 1, total: 3, per_page: 15, from: 1, to: 3 });
    });

    it('filters by agent, visibility and mine, and searches names', async () => {
      expect(await names(world.member, `?filter[agent]=${listAgent}`)).toEqual(['Alpha billing', 'Gamma billing']);
      expect(await names(world.member, '?filter[visibility]=workspace')).toEqual(['Gamma billing', 'Beta onboarding']);
      expect(await names(world.member, '?filter[mine]=true')).toEqual(['Alpha billing', 'Beta onboarding']);
      expect(await names(world.member, '?search=BILL')).toEqual(['Alpha billing', 'Gamma billing']);
      const bad = await world.call(world.member, { url: '/api/v1/threads?filter[visibility]=public&filter[colour]=red&sort=name' });
      expect(bad.status).toBe(422);
      expect(Object.keys(bad.body.errors).sort()).toEqual(['filter.colour', 'filter.visibility', 'sort']);
    });

    it('sorts by creation and by last message (threads without messages count from their creation)', async () => {
      expect(await names(world.member, '?sort=created_at')).toEqual(['Alpha billing', 'Beta onboarding', 'Gamma billing']);
      expect(await names(world.member, '?sort=-last_message_at')).toEqual(['Alpha billing', 'Gamma billing', 'Beta onboarding']);
      expect(await names(world.member, '?sort=last_message_at')).toEqual(['Beta onboarding', 'Gamma billing', 'Alpha billing']);
    });

    it('reads cursor pages forwards and backwards', async () => {
      const first = await world.call(world.member, { url: '/api/v1/threads?per_page=2&cursor=&sort=-last_message_at' });
      expect(first.status).toBe(200);
      expect(first.body.data.map((x: any) => x.name)).toEqual(['Alpha billing', 'Gamma billing']);
      expect(first.body.meta.prev_cursor).toBeNull();
      const second = await world.call(world.member, {
        url: `/api/v1/threads?per_page=2&sort=-last_message_at&cursor=${first.body.meta.next_cursor}`,
      });
      expect(second.body.data.map((x: any) => x.name)).toEqual(['Beta onboarding']);
      expect(second.body.meta.next_cursor).toBeNull();
      const back = await world.call(world.member, {
        url: `/api/v1/threads?per_page=2&sort=-last_message_at&cursor=${second.body.meta.prev_cursor}`,
      });
      expect(back.body.data.map((x: any) => x.name)).toEqual(['Alpha billing', 'Gamma billing']);
      const invalid = await world.call(world.member, { url: '/api/v1/threads?cursor=garbage' });
      expect(invalid.status).toBe(422);
      expect(invalid.body.errors).toEqual({ cursor: ['The cursor field is invalid.'] });
    });
  });

  describe('active run and metrics', () => {
    it('shows the run in progress on a thread', async () => {
      const thread = await create(w.member, { name: 'Busy', visibility: 'workspace' });
      const runId = await insertRunningRun(t, { workspaceId: w.workspaceId, userId: w.member.user.id, threadId: thread.uuid });
      const response = await w.call(w.owner, { url: `/api/v1/threads/${thread.uuid}` });
      expect(response.body.data.active_run_uuid).toBe(runId);
      await t.ctx.db.kysely.updateTable('runs').set({ status: 'completed' }).where('id', '=', runId).execute();
      const after = await w.call(w.owner, { url: `/api/v1/threads/${thread.uuid}` });
      expect(after.body.data.active_run_uuid).toBeNull();
    });

    it('counts the threads and messages each member can read in workspace metrics', async () => {
      const world = await createThreadWorld(t);
      const mine = await world.call(world.member, { method: 'POST', url: '/api/v1/threads', body: { name: 'Mine' } });
      const shared = await world.call(world.owner, { method: 'POST', url: '/api/v1/threads', body: { name: 'Shared', visibility: 'workspace' } });
      for (const [user, thread, count] of [[world.member, mine, 2], [world.owner, shared, 3]] as const) {
        for (let i = 0; i < count; i++) {
          const posted = await world.call(user, { method: 'POST', url: `/api/v1/threads/${thread.body.data.uuid}/messages`, body: { content: `m${i}` } });
          expect(posted.status).toBe(201);
        }
      }
      const metrics = async (user: SignedUp) =>
        (await t.request({ url: '/api/v1/workspaces/metrics', token: user.token, headers: { 'x-workspace-id': world.workspaceId } })).body.data[0]
          .counts;
      expect(await metrics(world.member)).toMatchObject({ threads: 2, messages: 5 });
      expect(await metrics(world.viewer)).toMatchObject({ threads: 1, messages: 3 });
      expect(await metrics(world.owner)).toMatchObject({ threads: 1, messages: 3 });
    });
  });
});
