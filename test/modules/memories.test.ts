import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolError, type RunScope } from '../../src/ai/ports.js';
import { newId, now, toJson } from '../../src/db/values.js';
import { decodeVector } from '../../src/modules/memories/memories.embeddings.js';
import { retrieveMemories, storeMemories, type NewMemory } from '../../src/modules/memories/memories.service.js';
import { memoryTools } from '../../src/modules/memories/memory-tools.js';
import type { WorkspaceScope } from '../../src/modules/workspaces/workspaces.service.js';
import { startFakeEmbeddings, type FakeEmbeddingsServer } from '../fakes/embeddings-server.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const EMBEDDING_KEY = 'sk-embed-secret-0042';

describe.each(DIALECTS)('memories on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let member: SignedUp;
  let viewer: SignedUp;
  let stranger: SignedUp;
  let workspaceId: string;
  let strangerWorkspaceId: string;
  /** The owner's private agent, a workspace-visible one, and one of the stranger's workspace. */
  let privateAgent: string;
  let sharedAgent: string;
  let foreignAgent: string;
  let ownerThread: string;
  const ws = () => ({ 'x-workspace-id': workspaceId });

  const insertAgent = async (workspace: string, userId: number, visibility: 'private' | 'workspace' | 'public', name: string) => {
    const id = newId();
    const at = now();
    await t.ctx.db.kysely
      .insertInto('agents')
      .values({
        id,
        workspace_id: workspace,
        user_id: userId,
        name,
        description: null,
        instructions: 'Be helpful.',
        llm_id: null,
        account_id: null,
        tools: '[]',
        memory: toJson({ enabled: true, retrieve_limit: 5, write: true }),
        settings: '{}',
        profile_photo_url: null,
        profile_photo_config: '{}',
        visibility,
        metadata: '{}',
        created_at: at,
        updated_at: at,
      })
      .execute();
    return id;
  };
  const insertThread = async (workspace: string, userId: number, agentId: string | null) => {
    const id = newId();
    const at = now();
    await t.ctx.db.kysely
      .insertInto('threads')
      .values({ id, workspace_id: workspace, user_id: userId, agent_id: agentId, name: null, visibility: 'private', metadata: '{}', created_at: at, updated_at: at })
      .execute();
    return id;
  };
  const create = (token: string, body: Record<string, unknown>, headers: Record<string, string> = ws()) =>
    t.request({ method: 'POST', url: '/api/v1/memories', token, body, headers });
  const createOk = async (token: string, body: Record<string, unknown>) => {
    const response = await create(token, body);
    if (response.status !== 201) throw new Error(`create failed: ${response.status} ${response.text}`);
    return response.body.data;
  };
  const storedRow = (id: string) => t.ctx.db.kysely.selectFrom('memories').selectAll().where('id', '=', id).executeTakeFirst();
  const scopeOf = (user: SignedUp, role: WorkspaceScope['role'], workspace = workspaceId): WorkspaceScope => ({ workspaceId: workspace, role, userId: user.user.id });
  const agentWide = (agentId: string, content: string, type: NewMemory['type'] = 'fact', metadata: Record<string, unknown> = {}): NewMemory => ({
    workspaceId,
    agentId,
    userId: null,
    threadId: null,
    type,
    source: 'training',
    content,
    metadata,
  });

  beforeAll(async () => {
    // One retry keeps the failing-provider case quick.
    t = await createTestApp(dialect, { ATHENA_MODEL_MAX_RETRIES: '1' });
    owner = await t.signUp();
    member = await t.signUp();
    viewer = await t.signUp();
    stranger = await t.signUp();
    workspaceId = owner.user.primary_workspace.uuid;
    strangerWorkspaceId = stranger.user.primary_workspace.uuid;
    for (const [user, role] of [
      [member, 'member'],
      [viewer, 'viewer'],
    ] as const) {
      const added = await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspaceId}/members`, token: owner.token, body: { email: user.email, role } });
      expect(added.status).toBe(201);
    }
    privateAgent = await insertAgent(workspaceId, owner.user.id, 'private', 'Private helper');
    sharedAgent = await insertAgent(workspaceId, owner.user.id, 'workspace', 'Team helper');
    foreignAgent = await insertAgent(strangerWorkspaceId, stranger.user.id, 'private', 'Stranger helper');
    ownerThread = await insertThread(workspaceId, owner.user.id, sharedAgent);
  });
  afterAll(() => t.close());

  describe('the API', () => {
    it('creates a memory of the caller, with agent and thread, and stores it', async () => {
      const response = await create(owner.token, {
        agent_uuid: sharedAgent,
        thread_uuid: ownerThread,
        content: 'The customer prefers email over phone calls.',
        metadata: { topic: 'contact' },
      });

      expect(response.status).toBe(201);
      const data = response.body.data;
      expect(data).toEqual({
        uuid: expect.any(String),
        type: 'fact',
        source: 'api',
        content: 'The customer prefers email over phone calls.',
        metadata: { topic: 'contact' },
        agent_uuid: sharedAgent,
        thread_uuid: ownerThread,
        user: expect.objectContaining({ id: owner.user.id, primary_workspace: {} }),
        has_embedding: false,
        created_at: expect.stringMatching(/Z$/),
        updated_at: data.created_at,
      });
      const row = await storedRow(data.uuid);
      expect(row).toMatchObject({ workspace_id: workspaceId, agent_id: sharedAgent, user_id: owner.user.id, thread_id: ownerThread, source: 'api', embedding: null });

      const fetched = await t.request({ url: `/api/v1/memories/${data.uuid}`, token: owner.token });
      expect(fetched.status).toBe(200);
      expect(fetched.body.data).toEqual(data);
    });

    it('takes the thread’s agent when no agent is named', async () => {
      const data = await createOk(owner.token, { thread_uuid: ownerThread, content: 'Thread-scoped note.', type: 'document' });
      expect(data.agent_uuid).toBe(sharedAgent);
      expect(data.type).toBe('document');
    });

    it('answers 422 for bad input, naming the field', async () => {
      const missing = await create(owner.token, {});
      expect(missing.status).toBe(422);
      expect(missing.body.errors).toEqual({ content: ['The content field is required.'] });

      const badType = await create(owner.token, { content: 'x', type: 'opinion', colour: 'red' });
      expect(badType.status).toBe(422);
      expect(Object.keys(badType.body.errors).sort()).toEqual(['colour', 'type']);

      const unknownAgent = await create(owner.token, { content: 'x', agent_uuid: newId() });
      expect(unknownAgent.body.errors).toEqual({ agent_uuid: ['The selected agent uuid is invalid.'] });

      const foreign = await create(owner.token, { content: 'x', agent_uuid: foreignAgent });
      expect(foreign.status).toBe(422);
      expect(foreign.body.errors).toEqual({ agent_uuid: ['The selected agent uuid is invalid.'] });

      const hiddenAgent = await create(member.token, { content: 'x', agent_uuid: privateAgent });
      expect(hiddenAgent.body.errors).toEqual({ agent_uuid: ['The selected agent uuid is invalid.'] });

      const othersThread = await create(member.token, { content: 'x', thread_uuid: ownerThread });
      expect(othersThread.body.errors).toEqual({ thread_uuid: ['The selected thread uuid is invalid.'] });

      const mismatch = await create(owner.token, { content: 'x', agent_uuid: privateAgent, thread_uuid: ownerThread });
      expect(mismatch.body.errors).toEqual({ thread_uuid: ['The thread uuid must name a thread of the selected agent.'] });
    });

    it('updates content, type and metadata; only fields sent change', async () => {
      const data = await createOk(owner.token, { agent_uuid: sharedAgent, content: 'Old words.', metadata: { a: 1 } });
      const response = await t.request({
        method: 'PUT',
        url: `/api/v1/memories/${data.uuid}`,
        token: owner.token,
        body: { content: 'New words.', type: 'example' },
      });
      expect(response.status).toBe(200);
      expect(response.body.data).toMatchObject({ content: 'New words.', type: 'example', metadata: { a: 1 } });
      expect(response.body.data.updated_at >= data.updated_at).toBe(true);
      expect(await storedRow(data.uuid)).toMatchObject({ content: 'New words.', type: 'example' });

      const searched = await t.request({ url: '/api/v1/memories?search=words', token: owner.token });
      expect(searched.body.data.map((m: any) => m.uuid)).toContain(data.uuid);
      const stale = await t.request({ url: '/api/v1/memories?search=old', token: owner.token });
      expect(stale.body.data.map((m: any) => m.uuid)).not.toContain(data.uuid);
    });

    it('deletes a memory', async () => {
      const data = await createOk(member.token, { content: 'Temporary.' });
      const response = await t.request({ method: 'DELETE', url: `/api/v1/memories/${data.uuid}`, token: member.token, headers: ws() });
      expect(response.status).toBe(204);
      expect(await storedRow(data.uuid)).toBeUndefined();
      expect((await t.request({ url: `/api/v1/memories/${data.uuid}`, token: member.token, headers: ws() })).status).toBe(404);
    });
  });

  describe('who sees and changes what', () => {
    let memberOwn: string;
    let privateAgentWide: string;
    let sharedAgentWide: string;

    beforeAll(async () => {
      memberOwn = (await createOk(member.token, { agent_uuid: sharedAgent, content: 'Member private fact about budgets.' })).uuid;
      const [p, s] = await storeMemories(t.ctx, [agentWide(privateAgent, 'Private agent knowledge about budgets.'), agentWide(sharedAgent, 'Team agent knowledge about budgets.')]);
      privateAgentWide = p!.id;
      sharedAgentWide = s!.id;
    });

    const list = async (user: SignedUp, query = '') =>
      (await t.request({ url: `/api/v1/memories?per_page=100${query}`, token: user.token, headers: ws() })).body.data.map((m: any) => m.uuid);

    it('shows users their own memories and agent-wide ones of agents they can see', async () => {
      const memberSees = await list(member);
      expect(memberSees).toContain(memberOwn);
      expect(memberSees).toContain(sharedAgentWide);
      expect(memberSees).not.toContain(privateAgentWide);

      // Admins see agent-wide memories of every agent, never someone's own.
      const ownerSees = await list(owner);
      expect(ownerSees).toContain(privateAgentWide);
      expect(ownerSees).toContain(sharedAgentWide);
      expect(ownerSees).not.toContain(memberOwn);
      expect((await t.request({ url: `/api/v1/memories/${memberOwn}`, token: owner.token })).status).toBe(404);
      expect((await t.request({ url: `/api/v1/memories/${privateAgentWide}`, token: member.token, headers: ws() })).status).toBe(404);

      const viewerSees = await list(viewer);
      expect(viewerSees).toEqual(expect.arrayContaining([sharedAgentWide]));
      expect(viewerSees).not.toContain(memberOwn);
    });

    it('shows a private agent’s memories to a member it is shared with', async () => {
      const at = now();
      await t.ctx.db.kysely
        .insertInto('shares')
        .values({
          id: newId(),
          workspace_id: workspaceId,
          resource_type: 'agent',
          resource_id: privateAgent,
          grantee_type: 'user',
          grantee_user_id: member.user.id,
          grantee_workspace_id: null,
          permission: 'view',
          user_id: owner.user.id,
          created_at: at,
          updated_at: at,
        })
        .execute();
      try {
        expect(await list(member)).toContain(privateAgentWide);
        expect(await list(viewer)).not.toContain(privateAgentWide);
      } finally {
        await t.ctx.db.kysely.deleteFrom('shares').where('resource_id', '=', privateAgent).execute();
      }
      expect(await list(member)).not.toContain(privateAgentWide);
    });

    it('never shows another workspace’s memories (404)', async () => {
      const theirs = await storeMemories(t.ctx, [{ ...agentWide(foreignAgent, 'Stranger budgets.'), workspaceId: strangerWorkspaceId }]);
      expect((await t.request({ url: `/api/v1/memories/${theirs[0]!.id}`, token: owner.token })).status).toBe(404);
      expect((await t.request({ method: 'DELETE', url: `/api/v1/memories/${theirs[0]!.id}`, token: owner.token })).status).toBe(404);
      expect((await t.request({ url: `/api/v1/memories/${memberOwn}`, token: stranger.token })).status).toBe(404);
      expect(await list(owner)).not.toContain(theirs[0]!.id);
      const foreignHeader = await t.request({ url: '/api/v1/memories', token: owner.token, headers: { 'x-workspace-id': strangerWorkspaceId } });
      expect(foreignHeader.status).toBe(404);
    });

    it('lets the user, the agent’s creator or an admin change memories; viewers never', async () => {
      const put = (user: SignedUp, id: string) =>
        t.request({ method: 'PUT', url: `/api/v1/memories/${id}`, token: user.token, headers: ws(), body: { metadata: { by: user.user.id } } });

      expect((await put(member, sharedAgentWide)).status).toBe(403);
      expect((await put(viewer, sharedAgentWide)).status).toBe(403);
      expect((await put(member, memberOwn)).status).toBe(200);
      expect((await put(owner, sharedAgentWide)).status).toBe(200);

      const memberAgent = await insertAgent(workspaceId, member.user.id, 'workspace', 'Member agent');
      const [knowledge] = await storeMemories(t.ctx, [agentWide(memberAgent, 'Member agent knowledge.')]);
      expect((await put(member, knowledge!.id)).status).toBe(200);
      expect((await t.request({ method: 'DELETE', url: `/api/v1/memories/${knowledge!.id}`, token: viewer.token, headers: ws() })).status).toBe(403);
      expect((await create(viewer.token, { content: 'x' })).status).toBe(403);
    });
  });

  describe('full-text search', () => {
    let agent: string;
    beforeAll(async () => {
      agent = await insertAgent(workspaceId, owner.user.id, 'workspace', 'Search agent');
      await storeMemories(t.ctx, [
        agentWide(agent, 'The runners were running a marathon in Berlin.'),
        agentWide(agent, 'A marathon in Berlin, a marathon in Paris, and marathon training plans.'),
        agentWide(agent, 'Quarterly invoices are sent on the first Monday.', 'document'),
        agentWide(agent, 'Nothing to see here.'),
      ]);
    });

    const search = (query: string) => t.request({ url: `/api/v1/memories?filter[agent]=${agent}&${query}`, token: owner.token });

    it('stems words and ranks by relevance', async () => {
      const runs = await search('search=runs');
      expect(runs.status).toBe(200);
      expect(runs.body.data.map((m: any) => m.content)).toEqual(['The runners were running a marathon in Berlin.']);
      expect(runs.body.data[0].score).toBeGreaterThan(0);

      const marathon = await search('search=marathons');
      expect(marathon.body.data.map((m: any) => m.content)).toEqual([
        'A marathon in Berlin, a marathon in Paris, and marathon training plans.',
        'The runners were running a marathon in Berlin.',
      ]);
      expect(marathon.body.data[0].score).toBeGreaterThan(marathon.body.data[1].score);
    });

    it('matches any of the words and reads free text safely', async () => {
      const any = await search(`search=${encodeURIComponent('invoice OR "paris" -berlin*')}`);
      expect(any.status).toBe(200);
      expect(any.body.data.map((m: any) => m.content).sort()).toEqual([
        'A marathon in Berlin, a marathon in Paris, and marathon training plans.',
        'Quarterly invoices are sent on the first Monday.',
        'The runners were running a marathon in Berlin.',
      ]);
      for (const text of ["'; drop table memories; --", '"unbalanced', 'NEAR(a b)', ':*', '\\', 'the of and']) {
        const response = await search(`search=${encodeURIComponent(text)}`);
        expect(response.status, text).toBe(200);
        expect(response.body.data, text).toEqual([]);
      }
    });

    it('filters by type and source, and pages by score with a cursor', async () => {
      const documents = await search('search=invoices marathon&filter[type]=document');
      expect(documents.body.data.map((m: any) => m.type)).toEqual(['document']);
      expect((await search('filter[source]=tool')).body.data).toEqual([]);

      const first = await search('search=marathon berlin paris&per_page=1&cursor=');
      expect(first.status).toBe(200);
      const second = await search(`search=marathon berlin paris&per_page=1&cursor=${first.body.meta.next_cursor}`);
      expect(second.body.data).toHaveLength(1);
      expect(second.body.data[0].uuid).not.toBe(first.body.data[0].uuid);
      expect(second.body.data[0].score).toBeLessThanOrEqual(first.body.data[0].score);

      const unsorted = await search('sort=-score');
      expect(unsorted.status).toBe(422);
      expect(unsorted.body.errors).toEqual({ sort: ['The sort field score needs a search.'] });
    });
  });

  describe('retrieval for runs', () => {
    let agent: string;
    let otherAgent: string;

    beforeAll(async () => {
      agent = await insertAgent(workspaceId, owner.user.id, 'workspace', 'Retrieval agent');
      otherAgent = await insertAgent(workspaceId, owner.user.id, 'workspace', 'Other agent');
      const own = (content: string, userId: number, type: NewMemory['type'] = 'fact'): NewMemory => ({
        workspaceId,
        agentId: agent,
        userId,
        threadId: null,
        type,
        source: 'tool',
        content,
      });
      await storeMemories(t.ctx, [
        agentWide(agent, 'Shipping to Norway takes five days.'),
        agentWide(agent, 'How long does shipping take?', 'example', { input: 'How long does shipping take?', output: 'Usually five days.' }),
        agentWide(agent, 'Shipping policy: parcels over 30 kg ship by freight.', 'document', { title: 'Shipping policy' }),
        own('The owner ships to Oslo every month.', owner.user.id),
        own('The member ships only to Bergen.', member.user.id),
        { ...agentWide(otherAgent, 'Shipping via the other agent.') },
        { ...agentWide(agent, 'Shipping in the stranger workspace.'), workspaceId: strangerWorkspaceId },
      ]);
    });

    it('finds the agent’s memories for the user, grouped by type and ranked', async () => {
      const found = await retrieveMemories(t.ctx, { workspaceId, agentId: agent, userId: owner.user.id, text: 'How long is shipping to Oslo?', limit: 5 });

      expect(found.facts.map((m) => m.row.content).sort()).toEqual(['Shipping to Norway takes five days.', 'The owner ships to Oslo every month.']);
      expect(found.facts[0]!.row.content).toBe('The owner ships to Oslo every month.');
      expect(found.facts[0]!.score).toBeGreaterThan(found.facts[1]!.score);
      expect(found.examples.map((m) => m.row.metadata)).toEqual([{ input: 'How long does shipping take?', output: 'Usually five days.' }]);
      expect(found.documents.map((m) => m.row.metadata.title)).toEqual(['Shipping policy']);
      expect(found.facts[0]!.row).toMatchObject({ agent_id: agent, user_id: owner.user.id, has_embedding: false });
    });

    it('keeps other users, other agents and other workspaces out, and honours the limit', async () => {
      const found = await retrieveMemories(t.ctx, { workspaceId, agentId: agent, userId: member.user.id, text: 'shipping ships', limit: 1 });
      expect(found.facts).toHaveLength(1);
      const all = await retrieveMemories(t.ctx, { workspaceId, agentId: agent, userId: member.user.id, text: 'shipping ships', limit: 10 });
      const contents = all.facts.map((m) => m.row.content);
      expect(contents).toContain('The member ships only to Bergen.');
      expect(contents).not.toContain('The owner ships to Oslo every month.');
      expect(contents).not.toContain('Shipping via the other agent.');
      expect(contents).not.toContain('Shipping in the stranger workspace.');
      expect(contents).toHaveLength(2);
    });

    it('gives the newest facts when the text has nothing to search for', async () => {
      const found = await retrieveMemories(t.ctx, { workspaceId, agentId: agent, userId: owner.user.id, text: '?! the', limit: 10 });
      expect(found.facts.map((m) => m.row.content)).toEqual(['The owner ships to Oslo every month.', 'Shipping to Norway takes five days.']);
      expect(found.examples).toEqual([]);
      expect(found.documents).toEqual([]);
    });
  });

  describe('memory tools', () => {
    const [save, search] = memoryTools;
    const call = { signal: new AbortController().signal, toolCallId: 'call_1' };
    let agent: string;
    let thread: string;
    const runOf = (user: SignedUp, role: WorkspaceScope['role']): RunScope => ({
      ctx: t.ctx,
      scope: scopeOf(user, role),
      runId: newId(),
      agentId: agent,
      threadId: thread,
    });

    beforeAll(async () => {
      agent = await insertAgent(workspaceId, owner.user.id, 'workspace', 'Tool agent');
      thread = await insertThread(workspaceId, member.user.id, agent);
    });

    it('have fixed ids, names and JSON Schemas', () => {
      expect(memoryTools.map((tool) => [tool.uuid, tool.name, tool.group])).toEqual([
        ['01980000-0000-7000-8002-000000000001', 'memory_save', 'memory'],
        ['01980000-0000-7000-8002-000000000002', 'memory_search', 'memory'],
      ]);
      expect(save!.inputSchema).toMatchObject({ type: 'object', required: ['content'], additionalProperties: false });
    });

    it('memory_save stores a fact of the run’s user, agent and thread, once', async () => {
      const run = runOf(member, 'member');
      const result = (await save!.execute({ content: 'The user’s favourite colour is teal.' }, run, call)) as { saved: boolean; memory_uuid: string };

      expect(result).toEqual({ saved: true, memory_uuid: expect.any(String) });
      expect(await storedRow(result.memory_uuid)).toMatchObject({
        workspace_id: workspaceId,
        agent_id: agent,
        user_id: member.user.id,
        thread_id: thread,
        type: 'fact',
        source: 'tool',
        content: 'The user’s favourite colour is teal.',
      });
      const again = await save!.execute({ content: 'The user’s favourite colour is teal.', type: 'fact' }, runOf(member, 'member'), call);
      expect(again).toEqual(result);

      await expect(save!.execute({ content: 'x' }, runOf(viewer, 'viewer'), call)).rejects.toBeInstanceOf(ToolError);
      await expect(save!.execute({ content: '' }, run, call)).rejects.toBeInstanceOf(ToolError);
    });

    it('memory_search finds the user’s memories of the agent', async () => {
      const result = (await search!.execute({ query: 'favourite colours', limit: 3 }, runOf(member, 'member'), call)) as { matches: any[] };
      expect(result.matches).toEqual([{ uuid: expect.any(String), content: 'The user’s favourite colour is teal.', type: 'fact', score: expect.any(Number) }]);
      const others = (await search!.execute({ query: 'favourite colour' }, runOf(owner, 'owner'), call)) as { matches: any[] };
      expect(others.matches).toEqual([]);
    });
  });

  describe('embeddings', () => {
    let embeddings: FakeEmbeddingsServer;
    let accountId: string;
    let agent: string;
    const settingsUrl = () => `/api/v1/workspaces/${workspaceId}/ai-settings`;
    const putSettings = (user: SignedUp, body: Record<string, unknown>) => t.request({ method: 'PUT', url: settingsUrl(), token: user.token, body });

    beforeAll(async () => {
      embeddings = await startFakeEmbeddings({ apiKey: EMBEDDING_KEY, models: ['fake-embed-small'] });
      const providers = await t.request({ url: '/api/v1/providers?search=openai-compatible&per_page=50', token: owner.token });
      const provider = providers.body.data.find((p: any) => p.slug === 'openai-compatible');
      const account = await t.request({
        method: 'POST',
        url: '/api/v1/accounts',
        token: owner.token,
        body: { provider_uuid: provider.uuid, provider_display_name: 'Embeddings', token: EMBEDDING_KEY, base_url: `${embeddings.url}/v1` },
      });
      expect(account.status).toBe(201);
      accountId = account.body.data.uuid;
      agent = await insertAgent(workspaceId, owner.user.id, 'workspace', 'Embedding agent');
    });
    afterAll(() => embeddings.close());

    it('reads the settings (members) and lets only admins change them, with a checked model', async () => {
      const initial = await t.request({ url: settingsUrl(), token: member.token });
      expect(initial.status).toBe(200);
      expect(initial.body.data).toEqual({ workspace_uuid: workspaceId, embedding_account_uuid: null, embedding_model: null, embeddings_enabled: false, updated_at: null });
      expect((await t.request({ url: settingsUrl(), token: stranger.token })).status).toBe(404);

      expect((await putSettings(member, { embedding_account_uuid: accountId, embedding_model: 'fake-embed-small' })).status).toBe(403);
      const missingModel = await putSettings(owner, { embedding_account_uuid: accountId });
      expect(missingModel.body.errors).toEqual({ embedding_model: ['The embedding model field is required when embedding account uuid is present.'] });
      const unknownAccount = await putSettings(owner, { embedding_account_uuid: newId(), embedding_model: 'fake-embed-small' });
      expect(unknownAccount.body.errors).toEqual({ embedding_account_uuid: ['The selected embedding account uuid is invalid.'] });
      const unknownModel = await putSettings(owner, { embedding_account_uuid: accountId, embedding_model: 'no-such-model' });
      expect(unknownModel.status).toBe(422);
      expect(unknownModel.body.errors).toEqual({ embedding_model: ['The embedding model no-such-model could not be used: the provider answered 404.'] });

      const saved = await putSettings(owner, { embedding_account_uuid: accountId, embedding_model: 'fake-embed-small' });
      expect(saved.status).toBe(200);
      expect(saved.body.data).toMatchObject({ embedding_account_uuid: accountId, embedding_model: 'fake-embed-small', embeddings_enabled: true });
      const row = await t.ctx.db.kysely.selectFrom('workspace_ai_settings').selectAll().where('workspace_id', '=', workspaceId).executeTakeFirst();
      expect(row).toMatchObject({ embedding_account_id: accountId, embedding_model: 'fake-embed-small' });
      const check = embeddings.requests.at(-1)!;
      expect(check.headers.authorization).toBe(`Bearer ${EMBEDDING_KEY}`);
    });

    it('embeds memories when stored and finds them by meaning where full text finds nothing', async () => {
      const [espresso, sedan] = await storeMemories(t.ctx, [
        agentWide(agent, 'The user likes a double espresso every morning.'),
        agentWide(agent, 'The user owns a blue sedan.'),
      ]);
      expect(espresso!.has_embedding).toBe(true);
      const stored = await storedRow(espresso!.id);
      expect(stored!.embedding_model).toBe('fake-embed-small');
      expect([...decodeVector(stored!.embedding!)]).toEqual(embeddings.vectorOf('The user likes a double espresso every morning.'));

      const text = 'Which beverage should I order?';
      const textOnly = await t.request({ url: `/api/v1/memories?filter[agent]=${agent}&search=${encodeURIComponent(text)}`, token: owner.token });
      expect(textOnly.body.data).toEqual([]);

      const found = await retrieveMemories(t.ctx, { workspaceId, agentId: agent, userId: owner.user.id, text, limit: 1 });
      expect(found.facts.map((m) => m.row.id)).toEqual([espresso!.id]);
      const car = await retrieveMemories(t.ctx, { workspaceId, agentId: agent, userId: owner.user.id, text: 'what vehicle does the user drive', limit: 1 });
      expect(car.facts.map((m) => m.row.id)).toEqual([sedan!.id]);
      expect(embeddings.requests.at(-1)!.body).toContain('what vehicle does the user drive');
    });

    it('re-embeds edited content, and memories API responses tell whether a vector is stored', async () => {
      const data = await createOk(owner.token, { agent_uuid: agent, content: 'The team travels by train.' });
      expect(data.has_embedding).toBe(true);
      const updated = await t.request({ method: 'PUT', url: `/api/v1/memories/${data.uuid}`, token: owner.token, body: { content: 'The team prefers a holiday in spring.' } });
      expect(updated.body.data.has_embedding).toBe(true);
      const stored = await storedRow(data.uuid);
      expect([...decodeVector(stored!.embedding!)]).toEqual(embeddings.vectorOf('The team prefers a holiday in spring.'));
      const found = await retrieveMemories(t.ctx, { workspaceId, agentId: agent, userId: owner.user.id, text: 'vacation plans', limit: 1 });
      expect(found.facts[0]!.row.id).toBe(data.uuid);
    });

    it('keeps a memory without a vector when the embedding call fails, with a warning that holds no secret', async () => {
      embeddings.failWith(500);
      try {
        const before = t.logs.length;
        const [row] = await storeMemories(t.ctx, [agentWide(agent, 'The office cat is called Miso.')]);
        expect(row!.has_embedding).toBe(false);
        expect(await storedRow(row!.id)).toMatchObject({ embedding: null, embedding_model: null, content: 'The office cat is called Miso.' });
        const warnings = t.logs.slice(before).filter((l) => l.msg === 'memories stored without embeddings');
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatchObject({ reason: 'the provider answered 500', model: 'fake-embed-small' });
        expect(JSON.stringify(t.logs.slice(before))).not.toContain(EMBEDDING_KEY);

        // Retrieval falls back to full text, and says so.
        const found = await retrieveMemories(t.ctx, { workspaceId, agentId: agent, userId: owner.user.id, text: 'cat Miso', limit: 3 });
        expect(found.facts.map((m) => m.row.id)).toEqual([row!.id]);
        expect(t.logs.slice(before).some((l) => l.msg === 'memories retrieved by full text only')).toBe(true);
      } finally {
        embeddings.failWith(null);
      }
    });

    it('turns embeddings off with both fields null', async () => {
      const off = await putSettings(owner, { embedding_account_uuid: null, embedding_model: null });
      expect(off.status).toBe(200);
      expect(off.body.data).toMatchObject({ embedding_account_uuid: null, embedding_model: null, embeddings_enabled: false });
      const [row] = await storeMemories(t.ctx, [agentWide(agent, 'No vector for this one.')]);
      expect(row!.has_embedding).toBe(false);
    });
  });

  it('counts the memories each user sees in the workspace metrics', async () => {
    const metrics = await t.request({ url: '/api/v1/workspaces/metrics', token: member.token, headers: ws() });
    expect(metrics.status).toBe(200);
    const memberList = await t.request({ url: '/api/v1/memories?per_page=1', token: member.token, headers: ws() });
    expect(metrics.body.data[0].counts.memories).toBe(memberList.body.meta.total);
    const ownerMetrics = await t.request({ url: '/api/v1/workspaces/metrics', token: owner.token, headers: ws() });
    const ownerList = await t.request({ url: '/api/v1/memories?per_page=1', token: owner.token, headers: ws() });
    expect(ownerMetrics.body.data[0].counts.memories).toBe(ownerList.body.meta.total);
  });
});
