import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, now } from '../../src/db/values.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type RequestOptions, type SignedUp, type TestApp } from '../helpers/test-app.js';

const AGENT_KEYS = [
  'uuid',
  'name',
  'description',
  'instructions',
  'llm_uuid',
  'account_uuid',
  'tools',
  'memory',
  'settings',
  'profile_photo_url',
  'profile_photo_config',
  'visibility',
  'metadata',
  'workspace_uuid',
  'is_owner',
  'permission',
  'user',
  'created_at',
  'updated_at',
];

const UNKNOWN = '0198ffff-0000-7000-8000-000000000000';

describe.each(DIALECTS)('agents on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let admin: SignedUp;
  let member: SignedUp;
  let viewer: SignedUp;
  let stranger: SignedUp;
  let workspaceId: string;
  let llmId: string;
  let claudeId: string;
  let openaiAccountId: string;
  let anthropicAccountId: string;
  let toolIds: string[];

  /** Requests act in workspace A unless they name their own headers. */
  const api = (options: RequestOptions) => t.request({ headers: { 'x-workspace-id': workspaceId }, ...options });
  const create = (token: string, body: Record<string, unknown>) => api({ method: 'POST', url: '/api/v1/agents', token, body });
  const createOk = async (body: Record<string, unknown>, token = owner.token) => {
    const response = await create(token, body);
    if (response.status !== 201) throw new Error(`create failed: ${response.status} ${response.text}`);
    return response.body.data;
  };
  const storedAgent = (id: string) => t.ctx.db.kysely.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();

  async function providerId(token: string, slug: string): Promise<string> {
    const response = await t.request({ url: `/api/v1/providers?search=${slug}&per_page=50`, token });
    return response.body.data.find((p: { slug: string }) => p.slug === slug).uuid;
  }

  async function modelId(token: string, provider: string, model: string): Promise<string> {
    const response = await t.request({ url: `/api/v1/large-language-models?provider=${provider}&per_page=100`, token });
    return response.body.data.find((m: { model_id: string }) => m.model_id === model).uuid;
  }

  async function account(token: string, provider: string, name: string): Promise<string> {
    const response = await t.request({
      method: 'POST',
      url: '/api/v1/accounts',
      token,
      body: { provider_uuid: await providerId(token, provider), provider_display_name: name, token: `sk-${name}` },
    });
    if (response.status !== 201) throw new Error(`account failed: ${response.status} ${response.text}`);
    return response.body.data.uuid;
  }

  async function addMember(user: SignedUp, role: string) {
    const response = await t.request({
      method: 'POST',
      url: `/api/v1/workspaces/${workspaceId}/members`,
      token: owner.token,
      body: { email: user.email, role },
    });
    if (response.status !== 201) throw new Error(`member failed: ${response.status} ${response.text}`);
  }

  /** HTTP tools of a custom provider, stored as the tools module stores them. */
  async function insertTools(names: string[]): Promise<string[]> {
    const provider = await t.request({
      method: 'POST',
      url: '/api/v1/providers',
      token: owner.token,
      body: { name: 'Weather Service', type: 'tool', authentication_strategy: 'none', visibility: 'workspace' },
    });
    if (provider.status !== 201) throw new Error(`provider failed: ${provider.status} ${provider.text}`);
    const ids: string[] = [];
    for (const name of names) {
      const id = newId();
      await t.ctx.db.kysely
        .insertInto('tools')
        .values({
          id,
          workspace_id: workspaceId,
          provider_id: provider.body.data.uuid,
          account_id: null,
          default_account_id: null,
          user_id: owner.user.id,
          kind: 'http',
          name,
          display_name: name,
          description: `The ${name} tool.`,
          input_schema: JSON.stringify({ type: 'object', properties: {} }),
          config: JSON.stringify({ method: 'GET', url: 'https://weather.example.test/forecast' }),
          is_enabled: true,
          created_at: now(),
          updated_at: now(),
        })
        .execute();
      ids.push(id);
    }
    return ids;
  }

  beforeAll(async () => {
    t = await createTestApp(dialect);
    owner = await t.signUp();
    admin = await t.signUp();
    member = await t.signUp();
    viewer = await t.signUp();
    stranger = await t.signUp();
    workspaceId = owner.user.primary_workspace.uuid;
    await addMember(admin, 'admin');
    await addMember(member, 'member');
    await addMember(viewer, 'viewer');
    llmId = await modelId(owner.token, 'openai', 'gpt-4o-mini');
    claudeId = await modelId(owner.token, 'anthropic', 'claude-opus-4-20250514');
    openaiAccountId = await account(owner.token, 'openai', 'team-openai');
    anthropicAccountId = await account(owner.token, 'anthropic', 'team-anthropic');
    toolIds = await insertTools(['get_forecast', 'get_alerts']);
  });
  afterAll(() => t.close());

  describe('create', () => {
    it('creates an agent with defaults and answers the Agent shape', async () => {
      const response = await create(owner.token, { name: '  Support Agent ', instructions: 'Be kind.' });

      expect(response.status).toBe(201);
      const agent = response.body.data;
      expect(Object.keys(agent)).toEqual(AGENT_KEYS);
      expect(agent).toMatchObject({
        name: 'Support Agent',
        description: null,
        instructions: 'Be kind.',
        llm_uuid: null,
        account_uuid: null,
        tools: [],
        memory: { enabled: true, retrieve_limit: 5 },
        settings: { temperature: null, max_tokens: null, max_steps: 8 },
        profile_photo_url: null,
        profile_photo_config: {},
        visibility: 'private',
        metadata: {},
        workspace_uuid: workspaceId,
        is_owner: true,
        permission: 'owner',
        user: { id: owner.user.id, email: owner.email, primary_workspace: {} },
      });
      expect(agent.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      const row = await storedAgent(agent.uuid);
      expect(row).toMatchObject({ workspace_id: workspaceId, user_id: owner.user.id, name: 'Support Agent', visibility: 'private' });
    });

    it('stores the model, account, tools and settings it was given', async () => {
      const agent = await createOk({
        name: 'Forecaster',
        description: 'Tells the weather.',
        instructions: 'Use the tools.',
        llm_uuid: llmId,
        account_uuid: openaiAccountId,
        tools: [toolIds[1], toolIds[0]],
        memory: { enabled: false, retrieve_limit: 12 },
        settings: { temperature: 0.2, max_tokens: 800, max_steps: 20 },
        profile_photo_url: 'https://cdn.example.test/bot.png',
        profile_photo_config: { emoji: '⛅', background_color: '#3B82F6', preference: 'emoji' },
        visibility: 'workspace',
        metadata: { team: 'ops' },
      });

      expect(agent).toMatchObject({
        llm_uuid: llmId,
        account_uuid: openaiAccountId,
        tools: [toolIds[1], toolIds[0]],
        memory: { enabled: false, retrieve_limit: 12 },
        settings: { temperature: 0.2, max_tokens: 800, max_steps: 20 },
        profile_photo_config: { emoji: '⛅', background_color: '#3B82F6', preference: 'emoji' },
        visibility: 'workspace',
        metadata: { team: 'ops' },
      });
      const row = await storedAgent(agent.uuid);
      expect(row).toMatchObject({ llm_id: llmId, account_id: openaiAccountId });
    });

    it('answers 422 naming the field for every invalid choice, and stores nothing', async () => {
      const before = (await t.ctx.db.kysely.selectFrom('agents').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
      const cases: Array<[Record<string, unknown>, unknown]> = [
        [{}, { name: ['The name field is required.'] }],
        [{ name: '   ' }, { name: ['The name field is required.'] }],
        [{ name: 'x', llm_uuid: llmId }, { account_uuid: ['The account uuid field is required.'] }],
        [{ name: 'x', account_uuid: openaiAccountId }, { llm_uuid: ['The llm uuid field is required.'] }],
        [{ name: 'x', llm_uuid: UNKNOWN, account_uuid: openaiAccountId }, { llm_uuid: ['The selected llm uuid is invalid.'] }],
        [{ name: 'x', llm_uuid: llmId, account_uuid: UNKNOWN }, { account_uuid: ['The selected account uuid is invalid.'] }],
        [
          { name: 'x', llm_uuid: llmId, account_uuid: anthropicAccountId },
          { account_uuid: [expect.stringMatching(/^The selected account is not connected to OpenAI/)] },
        ],
        [{ name: 'x', tools: [UNKNOWN] }, { 'tools.0': [expect.any(String)] }],
        [{ name: 'x', tools: [toolIds[0], toolIds[0]] }, { 'tools.1': ['The tools.1 field has a duplicate value.'] }],
        [{ name: 'x', settings: { max_steps: 21 } }, { 'settings.max_steps': ['The settings.max steps field must not be greater than 20.'] }],
        [{ name: 'x', settings: { max_steps: 0 } }, { 'settings.max_steps': ['The settings.max steps field must be at least 1.'] }],
        [{ name: 'x', settings: { temperature: 2.5 } }, { 'settings.temperature': ['The settings.temperature field must not be greater than 2.'] }],
        [{ name: 'x', memory: { retrieve_limit: 51 } }, { 'memory.retrieve_limit': ['The memory.retrieve limit field must not be greater than 50.'] }],
        [{ name: 'x', visibility: 'everyone' }, { visibility: ['The selected visibility is invalid.'] }],
        [{ name: 'x', tools: 'get_forecast' }, { tools: ['The tools field must be an array.'] }],
        [{ name: 'x', colour: 'red' }, { colour: ['The colour field is prohibited.'] }],
      ];
      for (const [body, errors] of cases) {
        const response = await create(owner.token, body);
        expect(response.status, JSON.stringify(body)).toBe(422);
        expect(response.body.errors, JSON.stringify(body)).toEqual(errors);
      }
      const tooMany = await create(owner.token, { name: 'x', tools: Array.from({ length: 65 }, () => UNKNOWN) });
      expect(tooMany.status).toBe(422);
      expect(tooMany.body.errors).toEqual({ tools: ['The tools field must not have more than 64 items.'] });
      const after = (await t.ctx.db.kysely.selectFrom('agents').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
      expect(Number(after)).toBe(Number(before));
    });

    it('checks the model choice against accounts the creator may use', async () => {
      // The owner's private account is not usable by another member.
      const response = await create(member.token, { name: 'x', llm_uuid: llmId, account_uuid: openaiAccountId });
      expect(response.status).toBe(422);
      expect(response.body.errors).toEqual({ account_uuid: ['The selected account uuid is invalid.'] });
      const claude = await create(owner.token, { name: 'Claude', llm_uuid: claudeId, account_uuid: anthropicAccountId });
      expect(claude.status).toBe(201);
    });

    it('refuses viewers (403)', async () => {
      const response = await create(viewer.token, { name: 'Viewer Agent' });
      expect(response.status).toBe(403);
      expect(response.body).toEqual({ message: 'This action is unauthorized.' });
    });
  });

  describe('access', () => {
    it('hides a private agent from other members (404) but not from admins', async () => {
      const agent = await createOk({ name: 'Secret Agent', visibility: 'private' }, member.token);

      const asViewer = await api({ url: `/api/v1/agents/${agent.uuid}`, token: viewer.token });
      expect(asViewer.status).toBe(404);
      expect(asViewer.body).toEqual({ message: 'Resource not found.' });
      const asAdmin = await api({ url: `/api/v1/agents/${agent.uuid}`, token: admin.token });
      expect(asAdmin.status).toBe(200);
      expect(asAdmin.body.data).toMatchObject({ is_owner: false, permission: 'edit' });
      const asCreator = await api({ url: `/api/v1/agents/${agent.uuid}`, token: member.token });
      expect(asCreator.body.data).toMatchObject({ is_owner: true, permission: 'owner' });

      const otherMember = await t.signUp();
      await addMember(otherMember, 'member');
      const hidden = await api({ url: `/api/v1/agents/${agent.uuid}`, token: otherMember.token });
      expect(hidden.status).toBe(404);
      const list = await api({ url: '/api/v1/agents?per_page=100', token: otherMember.token });
      expect(list.body.data.map((a: { uuid: string }) => a.uuid)).not.toContain(agent.uuid);
      const update = await api({ method: 'PUT', url: `/api/v1/agents/${agent.uuid}`, token: otherMember.token, body: { name: 'Mine' } });
      expect(update.status).toBe(404);
    });

    it('lets members run a workspace agent, viewers only view it, and neither change it', async () => {
      const agent = await createOk({ name: 'Team Agent', visibility: 'workspace' });

      const asMember = await api({ url: `/api/v1/agents/${agent.uuid}`, token: member.token });
      expect(asMember.body.data.permission).toBe('run');
      const asViewer = await api({ url: `/api/v1/agents/${agent.uuid}`, token: viewer.token });
      expect(asViewer.body.data.permission).toBe('view');

      for (const token of [member.token, viewer.token]) {
        const update = await api({ method: 'PUT', url: `/api/v1/agents/${agent.uuid}`, token, body: { name: 'Taken' } });
        expect(update.status).toBe(403);
        const remove = await api({ method: 'DELETE', url: `/api/v1/agents/${agent.uuid}`, token });
        expect(remove.status).toBe(403);
      }
      expect((await storedAgent(agent.uuid))?.name).toBe('Team Agent');
    });

    it('answers 404 to another workspace, for every verb, and for malformed ids', async () => {
      const agent = await createOk({ name: 'Home Agent', visibility: 'workspace' });

      expect((await api({ url: `/api/v1/agents/${agent.uuid}`, token: stranger.token, headers: {} })).status).toBe(404);
      expect((await api({ method: 'PUT', url: `/api/v1/agents/${agent.uuid}`, token: stranger.token, body: { name: 'x' }, headers: {} })).status).toBe(404);
      expect((await api({ method: 'DELETE', url: `/api/v1/agents/${agent.uuid}`, token: stranger.token, headers: {} })).status).toBe(404);
      expect((await api({ url: `/api/v1/agents/${UNKNOWN}`, token: owner.token })).status).toBe(404);
      expect((await t.request({ url: '/api/v1/agents/not-a-uuid', token: owner.token })).status).toBe(404);
      // A member acting in another of their workspaces sees it only through grants.
      const elsewhere = await t.request({
        url: `/api/v1/agents/${agent.uuid}`,
        token: member.token,
        headers: { 'x-workspace-id': member.user.primary_workspace.uuid },
      });
      expect(elsewhere.status).toBe(404);
      expect((await storedAgent(agent.uuid))?.name).toBe('Home Agent');
    });
  });

  describe('update', () => {
    it('changes only the fields sent, merging memory and settings', async () => {
      const agent = await createOk({ name: 'Editable', settings: { temperature: 1, max_steps: 4 }, tools: [toolIds[0]] });

      const response = await api({
        method: 'PUT',
        url: `/api/v1/agents/${agent.uuid}`,
        token: owner.token,
        body: { description: 'Now described.', settings: { max_tokens: 256 }, memory: { retrieve_limit: 9 }, tools: [toolIds[1]] },
      });

      expect(response.status).toBe(200);
      expect(response.body.data).toMatchObject({
        name: 'Editable',
        description: 'Now described.',
        settings: { temperature: 1, max_tokens: 256, max_steps: 4 },
        memory: { enabled: true, retrieve_limit: 9 },
        tools: [toolIds[1]],
      });
      const row = await storedAgent(agent.uuid);
      expect(JSON.parse(typeof row!.settings === 'string' ? row!.settings : JSON.stringify(row!.settings))).toEqual({
        temperature: 1,
        max_tokens: 256,
        max_steps: 4,
      });
      expect(row!.updated_at >= agent.updated_at).toBe(true);
    });

    it('validates a new model choice against the stored half', async () => {
      const agent = await createOk({ name: 'Switcher', llm_uuid: llmId, account_uuid: openaiAccountId });

      const wrong = await api({ method: 'PUT', url: `/api/v1/agents/${agent.uuid}`, token: owner.token, body: { llm_uuid: claudeId } });
      expect(wrong.status).toBe(422);
      expect(Object.keys(wrong.body.errors)).toEqual(['account_uuid']);
      const both = await api({
        method: 'PUT',
        url: `/api/v1/agents/${agent.uuid}`,
        token: owner.token,
        body: { llm_uuid: claudeId, account_uuid: anthropicAccountId },
      });
      expect(both.status).toBe(200);
      const cleared = await api({
        method: 'PUT',
        url: `/api/v1/agents/${agent.uuid}`,
        token: owner.token,
        body: { llm_uuid: null, account_uuid: null },
      });
      expect(cleared.body.data).toMatchObject({ llm_uuid: null, account_uuid: null });
      const over = await api({ method: 'PUT', url: `/api/v1/agents/${agent.uuid}`, token: owner.token, body: { settings: { max_steps: 99 } } });
      expect(over.status).toBe(422);
      expect(Object.keys(over.body.errors)).toEqual(['settings.max_steps']);
    });

    it('lets admins edit an agent of their workspace, including its visibility', async () => {
      const agent = await createOk({ name: 'Managed', visibility: 'private' }, member.token);
      const response = await api({
        method: 'PUT',
        url: `/api/v1/agents/${agent.uuid}`,
        token: admin.token,
        body: { name: 'Managed by admin', visibility: 'workspace' },
      });
      expect(response.status).toBe(200);
      expect(response.body.data).toMatchObject({ name: 'Managed by admin', visibility: 'workspace', permission: 'edit', is_owner: false });
    });
  });

  describe('list', () => {
    it('pages, searches, filters and sorts the agents the caller can see', async () => {
      const fresh = await createTestApp(dialect);
      try {
        const a = await fresh.signUp();
        const b = await fresh.signUp();
        await fresh.request({ method: 'POST', url: `/api/v1/workspaces/${a.user.primary_workspace.uuid}/members`, token: a.token, body: { email: b.email, role: 'member' } });
        const headers = { 'x-workspace-id': a.user.primary_workspace.uuid };
        const make = (token: string, body: Record<string, unknown>) => fresh.request({ method: 'POST', url: '/api/v1/agents', token, body, headers });
        const alpha = (await make(a.token, { name: 'Alpha', description: 'Billing helper', visibility: 'workspace' })).body.data;
        const beta = (await make(a.token, { name: 'Beta', visibility: 'private' })).body.data;
        const gamma = (await make(b.token, { name: 'Gamma', description: 'billing disputes', visibility: 'public' })).body.data;
        const delta = (await make(b.token, { name: 'Delta', visibility: 'private' })).body.data;

        const asA = await fresh.request({ url: '/api/v1/agents?sort=name', token: a.token });
        expect(asA.status).toBe(200);
        // The workspace owner sees every agent of it, private ones too, and may edit them.
        expect(asA.body.data.map((x: { name: string }) => x.name)).toEqual(['Alpha', 'Beta', 'Delta', 'Gamma']);
        expect(asA.body.meta).toMatchObject({ current_page: 1, total: 4, per_page: 15 });
        expect(asA.body.data.find((x: { uuid: string }) => x.uuid === delta.uuid).permission).toBe('edit');

        const search = await fresh.request({ url: '/api/v1/agents?search=BILLING&sort=-name', token: a.token });
        expect(search.body.data.map((x: { uuid: string }) => x.uuid)).toEqual([gamma.uuid, alpha.uuid]);
        const mine = await fresh.request({ url: '/api/v1/agents?filter[mine]=true&sort=name', token: b.token, headers });
        expect(mine.body.data.map((x: { uuid: string }) => x.uuid)).toEqual([delta.uuid, gamma.uuid]);
        const publicOnly = await fresh.request({ url: '/api/v1/agents?filter[visibility]=public', token: b.token, headers });
        expect(publicOnly.body.data.map((x: { uuid: string }) => x.uuid)).toEqual([gamma.uuid]);
        const asB = await fresh.request({ url: '/api/v1/agents?sort=name', token: b.token, headers });
        expect(asB.body.data.map((x: { uuid: string }) => x.uuid)).toEqual([alpha.uuid, delta.uuid, gamma.uuid]);
        expect(asB.body.data.map((x: { uuid: string }) => x.uuid)).not.toContain(beta.uuid);

        const first = await fresh.request({ url: '/api/v1/agents?cursor=&per_page=2&sort=name', token: a.token });
        expect(first.body.data.map((x: { name: string }) => x.name)).toEqual(['Alpha', 'Beta']);
        const second = await fresh.request({ url: `/api/v1/agents?cursor=${first.body.meta.next_cursor}&per_page=2&sort=name`, token: a.token });
        expect(second.body.data.map((x: { name: string }) => x.name)).toEqual(['Delta', 'Gamma']);
        expect(second.body.meta.next_cursor).toBeNull();

        const bad = await fresh.request({ url: '/api/v1/agents?filter[source]=everything&sort=password', token: a.token });
        expect(bad.status).toBe(422);
        expect(Object.keys(bad.body.errors).sort()).toEqual(['filter.source', 'sort']);
      } finally {
        await fresh.close();
      }
    });
  });

  describe('delete', () => {
    it('deletes the agent with its grants and memories, keeping threads and messages unlinked', async () => {
      const agent = await createOk({ name: 'Doomed', visibility: 'workspace' });
      const share = await api({
        method: 'POST',
        url: `/api/v1/agents/${agent.uuid}/share`,
        token: owner.token,
        body: { users: [{ email: stranger.email, permission: 'run' }] },
      });
      expect(share.status).toBe(200);
      const at = now();
      const threadId = newId();
      const db = t.ctx.db.kysely;
      await db
        .insertInto('threads')
        .values({ id: threadId, workspace_id: workspaceId, user_id: owner.user.id, agent_id: agent.uuid, name: 'Chat', visibility: 'private', metadata: '{}', message_count: 1, last_message_at: at, created_at: at, updated_at: at })
        .execute();
      await db
        .insertInto('messages')
        .values({ id: newId(), workspace_id: workspaceId, thread_id: threadId, run_id: null, user_id: null, agent_id: agent.uuid, sequence: 1, role: 'assistant', content: 'Hello', tool_calls: null, tool_result: null, status: 'completed', llm_id: null, model_id: null, input_tokens: null, output_tokens: null, cost: null, latency_ms: null, feedback: null, feedback_comment: null, feedback_at: null, metadata: '{}', created_at: at, updated_at: at })
        .execute();
      await db
        .insertInto('memories')
        .values({ id: newId(), workspace_id: workspaceId, agent_id: agent.uuid, user_id: null, thread_id: null, type: 'fact', source: 'api', content: 'Remember me', metadata: '{}', embedding: null, embedding_model: null, created_at: at, updated_at: at })
        .execute();

      const byMember = await api({ method: 'DELETE', url: `/api/v1/agents/${agent.uuid}`, token: member.token });
      expect(byMember.status).toBe(403);
      const response = await api({ method: 'DELETE', url: `/api/v1/agents/${agent.uuid}`, token: owner.token });

      expect(response.status).toBe(204);
      expect(response.text).toBe('');
      expect(await storedAgent(agent.uuid)).toBeUndefined();
      expect(await db.selectFrom('shares').selectAll().where('resource_id', '=', agent.uuid).execute()).toEqual([]);
      expect(await db.selectFrom('memories').selectAll().where('agent_id', '=', agent.uuid).execute()).toEqual([]);
      const thread = await db.selectFrom('threads').selectAll().where('id', '=', threadId).executeTakeFirstOrThrow();
      expect(thread.agent_id).toBeNull();
      const messages = await db.selectFrom('messages').selectAll().where('thread_id', '=', threadId).execute();
      expect(messages.map((m) => [m.content, m.agent_id])).toEqual([['Hello', null]]);
      expect((await api({ url: `/api/v1/agents/${agent.uuid}`, token: owner.token })).status).toBe(404);
    });

    it('lets an admin delete a member’s agent', async () => {
      const agent = await createOk({ name: 'Member made', visibility: 'private' }, member.token);
      const response = await api({ method: 'DELETE', url: `/api/v1/agents/${agent.uuid}`, token: admin.token });
      expect(response.status).toBe(204);
      expect(await storedAgent(agent.uuid)).toBeUndefined();
    });
  });

  describe('train', () => {
    const paragraph = (n: number) => `Paragraph ${n} explains one part of the refund policy. `.repeat(8).trim();

    it('stores examples and document chunks as training memories of the agent', async () => {
      const agent = await createOk({ name: 'Trainee', visibility: 'workspace' });
      const document = Array.from({ length: 6 }, (_, i) => paragraph(i + 1)).join('\n\n');

      const response = await api({
        method: 'POST',
        url: `/api/v1/agents/${agent.uuid}/train`,
        token: owner.token,
        body: {
          examples: [
            { input: 'Can I get a refund?', output: 'Yes, within 30 days.' },
            { input: 'Where is my order?', output: 'Let me look it up.' },
          ],
          documents: [{ title: 'Refund policy', content: document }, { content: 'A short note.' }],
        },
      });

      expect(response.status).toBe(201);
      const data = response.body.data;
      expect(data).toMatchObject({ examples: 2, documents: 2 });
      expect(data.memories).toHaveLength(2 + data.chunks);
      const rows = await t.ctx.db.kysely.selectFrom('memories').selectAll().where('agent_id', '=', agent.uuid).execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      const stored = data.memories.map((id: string) => byId.get(id)!);
      const metadataOf = (row: { metadata: unknown }) => (typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata);
      expect(stored.every((r: { user_id: number | null; source: string; workspace_id: string }) => r.user_id === null && r.source === 'training' && r.workspace_id === workspaceId)).toBe(true);
      expect(stored[0]).toMatchObject({ type: 'example', content: 'Can I get a refund?\n\nYes, within 30 days.' });
      expect(metadataOf(stored[0])).toEqual({ input: 'Can I get a refund?', output: 'Yes, within 30 days.' });
      const chunks = stored.slice(2).filter((r: { type: string }) => r.type === 'document');
      expect(chunks).toHaveLength(data.chunks);
      const policy = chunks.filter((r: { metadata: unknown }) => metadataOf(r).title === 'Refund policy');
      expect(policy.length).toBeGreaterThan(1);
      expect(policy.map((r: { metadata: unknown }) => metadataOf(r))).toEqual(
        policy.map((_: unknown, i: number) => ({ title: 'Refund policy', chunk: i + 1, chunks: policy.length })),
      );
      for (const chunk of policy) expect(chunk.content.length).toBeLessThanOrEqual(1500);
      // Paragraphs are kept whole and in order.
      expect(policy.map((r: { content: string }) => r.content).join('\n\n')).toBe(document);
      expect(metadataOf(chunks[chunks.length - 1])).toEqual({ title: null, chunk: 1, chunks: 1 });
    });

    it('needs edit, at least one item, and keeps to the caps', async () => {
      const agent = await createOk({ name: 'Guarded trainee', visibility: 'workspace' });
      const url = `/api/v1/agents/${agent.uuid}/train`;
      const example = { input: 'Hi', output: 'Hello' };

      expect((await api({ method: 'POST', url, token: member.token, body: { examples: [example] } })).status).toBe(403);
      expect((await api({ method: 'POST', url, token: stranger.token, body: { examples: [example] }, headers: {} })).status).toBe(404);
      const empty = await api({ method: 'POST', url, token: owner.token, body: { examples: [] } });
      expect(empty.status).toBe(422);
      expect(empty.body.errors).toEqual({ examples: ['The examples field is required when documents is not present.'] });
      const tooMany = await api({ method: 'POST', url, token: owner.token, body: { examples: Array.from({ length: 201 }, () => example) } });
      expect(tooMany.body.errors).toEqual({ examples: ['The examples field must not have more than 200 items.'] });
      const blank = await api({ method: 'POST', url, token: owner.token, body: { documents: [{ content: ' \n\n ' }] } });
      expect(blank.status).toBe(422);
      expect(blank.body.errors).toEqual({ 'documents.0.content': ['The documents.0.content field is required.'] });
      const long = await api({ method: 'POST', url, token: owner.token, body: { documents: [{ content: 'x'.repeat(200_001) }] } });
      expect(long.body.errors).toEqual({ 'documents.0.content': ['The documents.0.content field must not be greater than 200000 characters.'] });
      const rows = await t.ctx.db.kysely.selectFrom('memories').selectAll().where('agent_id', '=', agent.uuid).execute();
      expect(rows).toEqual([]);

      // A body over the usual 1 MB limit is accepted here.
      const big = await api({ method: 'POST', url, token: owner.token, body: { documents: Array.from({ length: 6 }, () => ({ content: paragraph(1).repeat(400).slice(0, 200_000) })) } });
      expect(big.status).toBe(201);
      expect(big.body.data.documents).toBe(6);
    });
  });

  it('counts the agents each caller sees in the workspace metrics', async () => {
    const fresh = await createTestApp(dialect);
    try {
      const a = await fresh.signUp();
      const b = await fresh.signUp();
      const ws = a.user.primary_workspace.uuid;
      await fresh.request({ method: 'POST', url: `/api/v1/workspaces/${ws}/members`, token: a.token, body: { email: b.email, role: 'member' } });
      for (const [name, visibility] of [['One', 'private'], ['Two', 'workspace'], ['Three', 'public']]) {
        await fresh.request({ method: 'POST', url: '/api/v1/agents', token: a.token, body: { name, visibility } });
      }
      const countFor = async (token: string) => {
        const metrics = await fresh.request({ url: '/api/v1/workspaces/metrics', token, headers: { 'x-workspace-id': ws } });
        return metrics.body.data[0].counts.agents;
      };
      expect(await countFor(a.token)).toBe(3);
      expect(await countFor(b.token)).toBe(2);
    } finally {
      await fresh.close();
    }
  });
});
