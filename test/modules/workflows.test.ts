import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_TYPES } from '../../src/engine/nodes/index.js';
import { nextRunAt } from '../../src/engine/schedule/index.js';
import {
  findWorkflowById,
  resolveWorkflowAccessOrThrow,
  revealSecretVariable,
  workflowGraphOf,
  workflowSettingsOf,
  workflowVariablesOf,
} from '../../src/modules/workflows/access.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type RequestOptions, type SignedUp, type TestApp } from '../helpers/test-app.js';
import {
  chain,
  createWorkflow,
  edge,
  manualNode,
  node,
  respondNode,
  scheduleNode,
  setNode,
  storedSchedules,
  storedWorkflow,
  updateWorkflow,
  webhookNode,
  workflowBody,
} from '../helpers/workflows.js';

const WORKFLOW_KEYS = [
  'uuid',
  'name',
  'description',
  'nodes',
  'edges',
  'variables',
  'triggers',
  'settings',
  'is_active',
  'visibility',
  'version',
  'webhook_url',
  'webhook_secret',
  'is_owner',
  'permission',
  'user',
  'workspace',
  'created_at',
  'updated_at',
];

const UNKNOWN = '0198ffff-0000-7000-8000-000000000000';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe.each(DIALECTS)('workflows on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let admin: SignedUp;
  let member: SignedUp;
  let viewer: SignedUp;
  let stranger: SignedUp;
  let workspaceId: string;

  /** Requests act in the owner's workspace unless they name their own headers. */
  const api = (options: RequestOptions) => t.request({ headers: { 'x-workspace-id': workspaceId }, ...options });
  const create = (body: Record<string, unknown>, token = owner.token) => api({ method: 'POST', url: '/api/v1/workflows', token, body });
  const put = (uuid: string, body: Record<string, unknown>, token = owner.token) =>
    api({ method: 'PUT', url: `/api/v1/workflows/${uuid}`, token, body });
  const get = (uuid: string, token = owner.token) => api({ url: `/api/v1/workflows/${uuid}`, token });
  const countWorkflows = async () =>
    Number((await t.ctx.db.kysely.selectFrom('workflows').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  async function addMember(user: SignedUp, role: string) {
    const response = await t.request({
      method: 'POST',
      url: `/api/v1/workspaces/${workspaceId}/members`,
      token: owner.token,
      body: { email: user.email, role },
    });
    if (response.status !== 201) throw new Error(`member failed: ${response.status} ${response.text}`);
  }

  beforeAll(async () => {
    t = await createTestApp(dialect, { ATHENA_PUBLIC_URL: 'https://athena.example.test' });
    owner = await t.signUp();
    admin = await t.signUp();
    member = await t.signUp();
    viewer = await t.signUp();
    stranger = await t.signUp();
    workspaceId = owner.user.primary_workspace.uuid;
    await addMember(admin, 'admin');
    await addMember(member, 'member');
    await addMember(viewer, 'viewer');
  });
  afterAll(() => t.close());

  it('creates, reads, updates and deletes a workflow', async () => {
    // The set node is sent bare: only id, type and parameters.
    const bare = { id: 'set', type: 'set', parameters: { values: { greeting: 'hello' } } };
    const created = await create(workflowBody({ name: '  Greeting  ', visibility: 'workspace', ...chain(webhookNode(), bare, respondNode()) }));

    expect(created.status).toBe(201);
    const workflow = created.body.data;
    expect(Object.keys(workflow)).toEqual(WORKFLOW_KEYS);
    expect(workflow).toMatchObject({
      name: 'Greeting',
      description: 'Says hello.',
      version: 1,
      is_active: false,
      visibility: 'workspace',
      is_owner: true,
      permission: 'owner',
      variables: [],
      user: { id: owner.user.id, email: owner.email, primary_workspace: {} },
      workspace: { uuid: workspaceId, is_owner: true, user: {} },
      triggers: [{ node_id: 'webhook', type: 'webhook', method: 'POST', respond: 'last_node' }],
      settings: {
        error_workflow_uuid: null,
        max_node_runs: t.config.workflows.maxNodeRuns,
        webhook_timeout_ms: t.config.workflows.webhookTimeoutMs,
        retention: { max_age_days: null, max_count: null },
      },
    });
    // Nodes and edges come back with every field, defaults filled in.
    expect(workflow.nodes[1]).toEqual({
      id: 'set',
      type: 'set',
      name: 'Set fields',
      position: { x: 0, y: 0 },
      parameters: { values: { greeting: 'hello' } },
      retry: null,
      on_error: 'stop',
      disabled: false,
      notes: null,
    });
    expect(workflow.edges).toEqual([
      { id: 'webhook-set', source: 'webhook', target: 'set', source_handle: null, target_handle: null },
      { id: 'set-respond', source: 'set', target: 'respond', source_handle: null, target_handle: null },
    ]);
    expect(workflow.webhook_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(workflow.webhook_url).toBe(`https://athena.example.test/api/v1/workflows/${workflow.uuid}/webhook?secret=${workflow.webhook_secret}`);

    const row = (await storedWorkflow(t, workflow.uuid))!;
    expect(row).toMatchObject({ workspace_id: workspaceId, user_id: owner.user.id, version: 1, visibility: 'workspace' });
    // The secret is kept sealed, and as a hash for checking calls.
    expect(row.webhook_secret).not.toContain(workflow.webhook_secret);
    expect(row.webhook_secret).toMatch(/^ath1:/);
    expect(row.webhook_secret_hash).toBe(sha256(workflow.webhook_secret));
    // What the executor reads from the row is what the API shows.
    expect(workflowGraphOf(row)).toEqual({ nodes: workflow.nodes, edges: workflow.edges });
    expect(workflowSettingsOf(row)).toEqual(workflow.settings);

    const read = await get(workflow.uuid);
    expect(read.status).toBe(200);
    expect(read.body.data).toEqual(workflow);

    const updated = await put(workflow.uuid, {
      name: 'Greeting v2',
      ...chain(manualNode(), setNode('set', { greeting: 'hi' })),
      settings: { max_node_runs: 50, retention: { max_count: 10 } },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.data).toMatchObject({
      name: 'Greeting v2',
      description: 'Says hello.',
      version: 2,
      triggers: [{ node_id: 'manual', type: 'manual' }],
      settings: { max_node_runs: 50, retention: { max_age_days: null, max_count: 10 }, webhook_timeout_ms: t.config.workflows.webhookTimeoutMs },
    });
    expect(updated.body.data.nodes.map((n: { id: string }) => n.id)).toEqual(['manual', 'set']);
    // The webhook secret does not change with the graph.
    expect(updated.body.data.webhook_secret).toBe(workflow.webhook_secret);

    // Settings merge key by key; the version counts every save.
    const again = await put(workflow.uuid, { settings: { webhook_timeout_ms: 5000 } });
    expect(again.body.data.settings).toMatchObject({ max_node_runs: 50, webhook_timeout_ms: 5000, retention: { max_count: 10 } });
    expect(again.body.data.version).toBe(3);
    expect((await storedWorkflow(t, workflow.uuid))!.version).toBe(3);

    // An empty change is not a new version.
    expect((await put(workflow.uuid, {})).body.data.version).toBe(3);

    const deleted = await api({ method: 'DELETE', url: `/api/v1/workflows/${workflow.uuid}`, token: owner.token });
    expect(deleted.status).toBe(204);
    expect(await storedWorkflow(t, workflow.uuid)).toBeUndefined();
    expect((await get(workflow.uuid)).status).toBe(404);
  });

  it('lists with pages, search, filters and sort', async () => {
    const base = { visibility: 'workspace' };
    const alpha = await createWorkflow(t, owner.token, { ...base, name: 'Alpha invoices', description: 'Sends invoices.' }, workspaceId);
    const beta = await createWorkflow(t, owner.token, { ...base, name: 'Beta reports', is_active: true }, workspaceId);
    const gamma = await createWorkflow(t, member.token, { name: 'Gamma private', description: 'Mine only.' }, workspaceId);
    const ids = [alpha.uuid, beta.uuid, gamma.uuid];

    const all = await api({ url: '/api/v1/workflows?per_page=2&sort=name&search=a', token: owner.token });
    expect(all.status).toBe(200);
    expect(all.body.meta).toMatchObject({ current_page: 1, per_page: 2 });
    expect(all.body.data).toHaveLength(2);
    expect(all.body.links.next).toContain('page=2');

    const searched = await api({ url: '/api/v1/workflows?search=INVOICES', token: owner.token });
    expect(searched.body.data.map((w: { uuid: string }) => w.uuid)).toEqual([alpha.uuid]);

    const active = await api({ url: '/api/v1/workflows?filter[is_active]=true', token: owner.token });
    expect(active.body.data.map((w: { uuid: string }) => w.uuid)).toEqual([beta.uuid]);

    const mine = await api({ url: '/api/v1/workflows?filter[mine]=true', token: member.token });
    expect(mine.body.data.map((w: { uuid: string }) => w.uuid)).toEqual([gamma.uuid]);

    // A member sees workspace workflows and their own private one, not others' private ones.
    const seenByViewer = await api({ url: '/api/v1/workflows?per_page=100&sort=name', token: viewer.token });
    const names = seenByViewer.body.data.filter((w: { uuid: string }) => ids.includes(w.uuid)).map((w: { name: string }) => w.name);
    expect(names).toEqual(['Alpha invoices', 'Beta reports']);
    expect(seenByViewer.body.data.find((w: { uuid: string }) => w.uuid === alpha.uuid)).toMatchObject({
      permission: 'view',
      webhook_url: null,
      webhook_secret: null,
    });
    // Admins see every workflow of the workspace, private ones too.
    const seenByAdmin = await api({ url: '/api/v1/workflows?filter[visibility]=private', token: admin.token });
    expect(seenByAdmin.body.data.map((w: { uuid: string }) => w.uuid)).toContain(gamma.uuid);

    const cursor = await api({ url: '/api/v1/workflows?cursor=&per_page=1', token: owner.token });
    expect(cursor.body.meta).toHaveProperty('next_cursor');
    expect(cursor.body.data).toHaveLength(1);
  });

  describe('graph validation', () => {
    async function expectInvalid(body: Record<string, unknown>, field: string, pattern: RegExp) {
      const before = await countWorkflows();
      const response = await create(workflowBody(body));
      expect(response.status, response.text).toBe(422);
      expect(response.body.errors, JSON.stringify(response.body.errors)).toHaveProperty([field]);
      expect(response.body.errors[field].join(' ')).toMatch(pattern);
      expect(await countWorkflows()).toBe(before);
      return response.body;
    }

    it('refuses an unknown node type, naming the node', async () => {
      await expectInvalid(chain(webhookNode(), node('x1', 'teleport')), 'nodes.1.type', /"x1".*unknown type "teleport"/);
    });

    it('refuses an edge to a node that does not exist', async () => {
      const { nodes } = chain(webhookNode(), setNode());
      await expectInvalid({ nodes, edges: [edge('webhook', 'set'), edge('set', 'ghost')] }, 'edges.1.target', /"set-ghost".*"ghost".*does not exist/);
    });

    it('refuses a node no trigger reaches', async () => {
      const { nodes, edges } = chain(webhookNode(), setNode());
      await expectInvalid({ nodes: [...nodes, setNode('island')], edges }, 'nodes.2', /"island".*cannot be reached/);
    });

    it('refuses a cycle that skips every loop node, and accepts one through a loop', async () => {
      const nodes = [webhookNode(), setNode('a'), setNode('b')];
      const edges = [edge('webhook', 'a'), edge('a', 'b'), edge('b', 'a')];
      await expectInvalid({ nodes, edges }, 'edges.2', /cycle.*loop node/);

      const looped = await create(
        workflowBody({
          nodes: [webhookNode(), node('loop', 'loop', { items: '{{ input.items }}' }), setNode('each'), setNode('after')],
          edges: [edge('webhook', 'loop'), edge('loop', 'each', 'item'), edge('each', 'loop'), edge('loop', 'after', 'done')],
        }),
      );
      expect(looped.status, looped.text).toBe(201);
    });

    it('refuses parameters that break the node type’s schema, naming the node and field', async () => {
      const body = await expectInvalid(
        chain(webhookNode(), node('fetch', 'http_request', { method: 'FETCH' })),
        'nodes.1.parameters.url',
        /"fetch"/,
      );
      expect(Object.keys(body.errors)).toContain('nodes.1.parameters.method');
      expect(body.message).toMatch(/fetch/);
    });

    it('refuses an expression that does not parse', async () => {
      await expectInvalid(chain(webhookNode(), setNode('set', { total: '{{ input.a + }}' })), 'nodes.1.parameters.values.total', /"set"/);
    });

    it('refuses a bad cron or time zone, and a schedule written as an expression', async () => {
      await expectInvalid(chain(scheduleNode('every', '61 * * * *'), setNode()), 'nodes.0.parameters.cron', /"every".*cron/i);
      await expectInvalid(chain(scheduleNode('every', '0 9 * * *', 'Mars/Olympus'), setNode()), 'nodes.0.parameters.timezone', /time zone/);
      await expectInvalid(chain(scheduleNode('every', '{{ vars.cron }}'), setNode()), 'nodes.0.parameters.cron', /expression/);
    });

    it('checks the whole graph on update, and keeps the stored one when it fails', async () => {
      const workflow = await createWorkflow(t, owner.token, {}, workspaceId);
      const response = await put(workflow.uuid, { edges: [edge('webhook', 'set')] });
      expect(response.status).toBe(422);
      expect(response.body.errors).toHaveProperty(['nodes.2']);
      const row = (await storedWorkflow(t, workflow.uuid))!;
      expect(row.version).toBe(1);
      expect((await get(workflow.uuid)).body.data.edges).toHaveLength(2);
    });

    it('refuses more nodes than the limit and malformed node ids', async () => {
      const many = Array.from({ length: 501 }, (_, i) => setNode(`n${i}`));
      const tooMany = await create(workflowBody({ nodes: many, edges: [] }));
      expect(tooMany.status).toBe(422);
      expect(tooMany.body.errors).toHaveProperty(['nodes']);
      const badId = await create(workflowBody({ nodes: [webhookNode('has space')], edges: [] }));
      expect(badId.status).toBe(422);
      expect(badId.body.errors).toHaveProperty(['nodes.0.id']);
    });
  });

  it('keeps secret variables write-only and encrypted at rest', async () => {
    const plainKey = 'sk-live-0123456789-very-secret';
    const workflow = await createWorkflow(
      t,
      owner.token,
      {
        variables: [
          { name: 'api_base', value: 'https://api.example.test' },
          { name: 'api_key', value: plainKey, secret: true },
          { name: 'limits', value: { max: 3 }, secret: true },
          { name: 'unset_secret', secret: true },
        ],
      },
      workspaceId,
    );
    expect(workflow.variables).toEqual([
      { name: 'api_base', value: 'https://api.example.test', secret: false },
      { name: 'api_key', value: '********', secret: true },
      { name: 'limits', value: '********', secret: true },
      { name: 'unset_secret', value: null, secret: true },
    ]);
    const row = (await storedWorkflow(t, workflow.uuid))!;
    const storedText = typeof row.variables === 'string' ? row.variables : JSON.stringify(row.variables);
    expect(storedText).not.toContain(plainKey);
    expect(storedText).not.toContain('"max"');
    expect(storedText).toContain('https://api.example.test');
    // What the engine gets: plain values, and secrets sealed until the moment of use.
    const entries = workflowVariablesOf(row);
    const key = entries.find((v) => v.name === 'api_key')!;
    expect(key).toMatchObject({ secret: true, sealed: expect.stringMatching(/^ath1:/) });
    expect(await revealSecretVariable(t.ctx, t.ctx.db.kysely, workspaceId, key.secret ? key.sealed : null)).toBe(plainKey);
    const limits = entries.find((v) => v.name === 'limits')!;
    expect(await revealSecretVariable(t.ctx, t.ctx.db.kysely, workspaceId, limits.secret ? limits.sealed : null)).toEqual({ max: 3 });
    expect(entries.find((v) => v.name === 'unset_secret')).toEqual({ name: 'unset_secret', secret: true, sealed: null });

    // Sending the mask back keeps the stored secret; a new value replaces it.
    const kept = await updateWorkflow(
      t,
      owner.token,
      workflow.uuid,
      {
        variables: [
          { name: 'api_base', value: 'https://v2.example.test' },
          { name: 'api_key', value: '********', secret: true },
          { name: 'limits', value: { max: 5 }, secret: true },
        ],
      },
      workspaceId,
    );
    expect(kept.variables.map((v: { value: unknown }) => v.value)).toEqual(['https://v2.example.test', '********', '********']);
    const keptEntries = workflowVariablesOf((await storedWorkflow(t, workflow.uuid))!);
    const keptKey = keptEntries.find((v) => v.name === 'api_key')!;
    expect(keptKey.secret && keptKey.sealed).toBe(key.secret && key.sealed);
    const newLimits = keptEntries.find((v) => v.name === 'limits')!;
    expect(await revealSecretVariable(t.ctx, t.ctx.db.kysely, workspaceId, newLimits.secret ? newLimits.sealed : null)).toEqual({ max: 5 });

    // A mask with nothing stored to keep, or one that would turn a secret plain, is refused.
    const nothingToKeep = await put(workflow.uuid, { variables: [{ name: 'other', value: '********', secret: true }] });
    expect(nothingToKeep.status).toBe(422);
    expect(nothingToKeep.body.errors).toHaveProperty(['variables.0.value']);
    const unmask = await put(workflow.uuid, { variables: [{ name: 'api_key', value: '********', secret: false }] });
    expect(unmask.status).toBe(422);
    const duplicate = await put(workflow.uuid, { variables: [{ name: 'a', value: 1 }, { name: 'a', value: 2 }] });
    expect(duplicate.status).toBe(422);
    expect(duplicate.body.errors).toHaveProperty(['variables.1.name']);
  });

  it('shows the webhook URL to editors only, and rotating the secret changes it at once', async () => {
    const workflow = await createWorkflow(t, owner.token, { visibility: 'workspace' }, workspaceId);
    const oldHash = (await storedWorkflow(t, workflow.uuid))!.webhook_secret_hash;

    const asMember = await get(workflow.uuid, member.token);
    expect(asMember.body.data).toMatchObject({ permission: 'run', webhook_url: null, webhook_secret: null });
    const asAdmin = await get(workflow.uuid, admin.token);
    expect(asAdmin.body.data).toMatchObject({ permission: 'edit', webhook_secret: workflow.webhook_secret, webhook_url: workflow.webhook_url });

    const forbidden = await api({ method: 'POST', url: `/api/v1/workflows/${workflow.uuid}/webhook-secret`, token: member.token });
    expect(forbidden.status).toBe(403);

    const rotated = await api({ method: 'POST', url: `/api/v1/workflows/${workflow.uuid}/webhook-secret`, token: admin.token });
    expect(rotated.status).toBe(200);
    const secret = rotated.body.data.webhook_secret;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(secret).not.toBe(workflow.webhook_secret);
    expect(rotated.body.data.webhook_url).toBe(`https://athena.example.test/api/v1/workflows/${workflow.uuid}/webhook?secret=${secret}`);
    const row = (await storedWorkflow(t, workflow.uuid))!;
    expect(row.webhook_secret_hash).toBe(sha256(secret));
    expect(row.webhook_secret_hash).not.toBe(oldHash);
    expect((await get(workflow.uuid)).body.data.webhook_secret).toBe(secret);
  });

  it('hides another workspace’s workflows: 404 for every operation', async () => {
    const workflow = await createWorkflow(t, owner.token, { visibility: 'workspace' }, workspaceId);
    const url = `/api/v1/workflows/${workflow.uuid}`;
    expect((await t.request({ url, token: stranger.token })).status).toBe(404);
    expect((await t.request({ method: 'PUT', url, token: stranger.token, body: { name: 'Mine now' } })).status).toBe(404);
    expect((await t.request({ method: 'DELETE', url, token: stranger.token })).status).toBe(404);
    expect((await t.request({ method: 'POST', url: `${url}/webhook-secret`, token: stranger.token })).status).toBe(404);
    expect((await t.request({ method: 'POST', url: `${url}/share`, token: stranger.token, body: { public: 'run' } })).status).toBe(404);
    expect((await t.request({ url: `/api/v1/workflows/${UNKNOWN}`, token: owner.token })).status).toBe(404);
    const list = await t.request({ url: '/api/v1/workflows?per_page=100', token: stranger.token });
    expect(list.body.data.map((w: { uuid: string }) => w.uuid)).not.toContain(workflow.uuid);
    // Acting in a workspace they do not belong to is 404 too.
    expect((await t.request({ url, token: stranger.token, headers: { 'x-workspace-id': workspaceId } })).status).toBe(404);

    // For the webhook route and runners: by id whoever asks; the access check stays scoped.
    const db = t.ctx.db.kysely;
    expect((await findWorkflowById(db, workflow.uuid.toUpperCase()))?.id).toBe(workflow.uuid);
    expect(await findWorkflowById(db, 'not-a-uuid')).toBeUndefined();
    const strangerScope = { workspaceId: stranger.user.primary_workspace.uuid, userId: stranger.user.id, role: 'owner' as const };
    await expect(resolveWorkflowAccessOrThrow(db, strangerScope, workflow.uuid, 'view')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(resolveWorkflowAccessOrThrow(db, strangerScope, 'not-a-uuid', 'view')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const memberScope = { workspaceId, userId: member.user.id, role: 'member' as const };
    expect((await resolveWorkflowAccessOrThrow(db, memberScope, workflow.uuid, 'run')).permission).toBe('run');
    await expect(resolveWorkflowAccessOrThrow(db, memberScope, workflow.uuid, 'edit')).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('lets members create, not viewers; editing needs edit and visibility needs a manager', async () => {
    const before = await countWorkflows();
    const denied = await create(workflowBody(), viewer.token);
    expect(denied.status).toBe(403);
    expect(await countWorkflows()).toBe(before);

    const workflow = await createWorkflow(t, owner.token, { visibility: 'workspace' }, workspaceId);
    expect((await put(workflow.uuid, { name: 'By member' }, member.token)).status).toBe(403);
    expect((await put(workflow.uuid, { name: 'By viewer' }, viewer.token)).status).toBe(403);
    expect((await api({ method: 'DELETE', url: `/api/v1/workflows/${workflow.uuid}`, token: member.token })).status).toBe(403);

    const byAdmin = await put(workflow.uuid, { name: 'By admin', visibility: 'private' }, admin.token);
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.data).toMatchObject({ name: 'By admin', visibility: 'private', is_owner: false, permission: 'edit' });
    expect((await get(workflow.uuid, member.token)).status).toBe(404);
  });

  it('keeps schedule rows in step with is_active and the graph', async () => {
    const before = new Date();
    const workflow = await createWorkflow(
      t,
      owner.token,
      {
        is_active: true,
        nodes: [scheduleNode('morning', '0 9 * * *', 'Europe/Berlin'), scheduleNode('off', '*/5 * * * *'), setNode()],
        edges: [edge('morning', 'set'), edge('off', 'set')],
      },
      workspaceId,
    );
    let rows = await storedSchedules(t, workflow.uuid);
    expect(rows.map((r) => [r.node_id, r.cron, r.timezone])).toEqual([
      ['morning', '0 9 * * *', 'Europe/Berlin'],
      ['off', '*/5 * * * *', 'UTC'],
    ]);
    const expected = nextRunAt('0 9 * * *', 'Europe/Berlin', before)!.toISOString();
    expect(rows[0]!.next_run_at).toBe(expected);
    expect(rows[0]).toMatchObject({ workspace_id: workspaceId, last_run_at: null });
    expect(workflow.triggers).toEqual([
      { node_id: 'morning', type: 'schedule', cron: '0 9 * * *', timezone: 'Europe/Berlin', next_run_at: expected },
      { node_id: 'off', type: 'schedule', cron: '*/5 * * * *', timezone: 'UTC', next_run_at: rows[1]!.next_run_at },
    ]);

    // Inactive: no rows, and no next run shown.
    const paused = await updateWorkflow(t, owner.token, workflow.uuid, { is_active: false }, workspaceId);
    expect(await storedSchedules(t, workflow.uuid)).toEqual([]);
    expect(paused.triggers[0]).toMatchObject({ node_id: 'morning', next_run_at: null });

    // Active again; a disabled schedule node has no row; an unchanged schedule keeps its row.
    await updateWorkflow(t, owner.token, workflow.uuid, { is_active: true }, workspaceId);
    const kept = (await storedSchedules(t, workflow.uuid)).find((r) => r.node_id === 'morning')!;
    await updateWorkflow(
      t,
      owner.token,
      workflow.uuid,
      {
        nodes: [scheduleNode('morning', '0 9 * * *', 'Europe/Berlin'), { ...scheduleNode('off', '*/5 * * * *'), disabled: true }, setNode()],
      },
      workspaceId,
    );
    rows = await storedSchedules(t, workflow.uuid);
    expect(rows.map((r) => r.node_id)).toEqual(['morning']);
    expect(rows[0]!.id).toBe(kept.id);

    // A changed cron moves its next run.
    await updateWorkflow(
      t,
      owner.token,
      workflow.uuid,
      { nodes: [scheduleNode('morning', '30 18 * * *', 'Europe/Berlin'), setNode()], edges: [edge('morning', 'set')] },
      workspaceId,
    );
    rows = await storedSchedules(t, workflow.uuid);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: kept.id, cron: '30 18 * * *' });
    expect(new Date(rows[0]!.next_run_at).getUTCMinutes()).toBe(30);

    // A graph without schedule nodes has none; deleting the workflow removes them too.
    await updateWorkflow(t, owner.token, workflow.uuid, chain(manualNode(), setNode()), workspaceId);
    expect(await storedSchedules(t, workflow.uuid)).toEqual([]);
    await updateWorkflow(t, owner.token, workflow.uuid, chain(scheduleNode(), setNode()), workspaceId);
    expect(await storedSchedules(t, workflow.uuid)).toHaveLength(1);
    await api({ method: 'DELETE', url: `/api/v1/workflows/${workflow.uuid}`, token: owner.token });
    expect(await storedSchedules(t, workflow.uuid)).toEqual([]);
  });

  it('checks the error workflow and forgets it when that workflow is deleted', async () => {
    const handler = await createWorkflow(t, owner.token, { name: 'On failure' }, workspaceId);
    const elsewhere = await createWorkflow(t, stranger.token, { name: 'Stranger’s' });

    const self = await createWorkflow(t, owner.token, { settings: { error_workflow_uuid: handler.uuid } }, workspaceId);
    expect(self.settings.error_workflow_uuid).toBe(handler.uuid);

    const itself = await put(self.uuid, { settings: { error_workflow_uuid: self.uuid } });
    expect(itself.status).toBe(422);
    expect(itself.body.errors).toHaveProperty(['settings.error_workflow_uuid']);
    const foreign = await put(self.uuid, { settings: { error_workflow_uuid: elsewhere.uuid } });
    expect(foreign.status).toBe(422);
    const missing = await put(self.uuid, { settings: { error_workflow_uuid: UNKNOWN } });
    expect(missing.status).toBe(422);
    const outOfRange = await put(self.uuid, { settings: { max_node_runs: 100_001, webhook_timeout_ms: 999 } });
    expect(outOfRange.status).toBe(422);
    expect(Object.keys(outOfRange.body.errors).sort()).toEqual(['settings.max_node_runs', 'settings.webhook_timeout_ms']);

    await api({ method: 'DELETE', url: `/api/v1/workflows/${handler.uuid}`, token: owner.token });
    expect((await get(self.uuid)).body.data.settings.error_workflow_uuid).toBeNull();
  });

  it('serves the node catalog with every type’s parameter schema', async () => {
    const response = await t.request({ url: '/api/v1/workflow-nodes', token: viewer.token });
    expect(response.status).toBe(200);
    const catalog = response.body.data as Array<Record<string, any>>;
    expect(catalog.map((entry) => entry.type)).toEqual(NODE_TYPES.map((definition) => definition.type));
    for (const entry of catalog) {
      expect(Object.keys(entry)).toEqual(['type', 'category', 'label', 'description', 'parameters', 'outputs', 'joins_inputs', 'allows_cycles']);
      expect(entry.parameters.type, entry.type).toBe('object');
    }
    const byType = new Map(catalog.map((entry) => [entry.type, entry]));
    expect(byType.get('if')).toMatchObject({ category: 'flow', outputs: ['true', 'false'], joins_inputs: false });
    expect(byType.get('switch')!.outputs).toBeNull();
    expect(byType.get('merge')!.joins_inputs).toBe(true);
    expect(byType.get('loop')).toMatchObject({ allows_cycles: true, outputs: ['item', 'done'] });
    expect(byType.get('http_request')!.parameters.required).toContain('url');
    expect(byType.get('webhook')!.parameters.properties.method.default).toBe('POST');

    expect((await t.request({ url: '/api/v1/workflow-nodes' })).status).toBe(401);
  });

  it('describes Workflow, Node and Edge as OpenAPI components', async () => {
    const document = (await t.request({ url: '/openapi.json' })).body;
    for (const name of ['Workflow', 'Node', 'Edge', 'WorkflowNodeType']) expect(document.components.schemas, name).toHaveProperty(name);
    const retrieve = document.paths['/api/v1/workflows/{workflow_uuid}'].get;
    expect(retrieve.responses['200'].content['application/json'].schema.properties.data).toEqual({ $ref: '#/components/schemas/Workflow' });
    expect(document.components.schemas.Workflow.properties.nodes.items).toEqual({ $ref: '#/components/schemas/Node' });
    expect(document.components.schemas.Workflow.properties.edges.items).toEqual({ $ref: '#/components/schemas/Edge' });
  });

  it('lists a webhook trigger with its method and respond mode', async () => {
    const workflow = await createWorkflow(
      t,
      owner.token,
      chain(webhookNode('hook', { method: 'PUT', respond: 'respond_node' }), respondNode()),
      workspaceId,
    );
    expect(workflow.triggers).toEqual([{ node_id: 'hook', type: 'webhook', method: 'PUT', respond: 'respond_node' }]);
  });
});
