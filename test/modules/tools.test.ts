import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolError, type RunScope, type RunTool } from '../../src/ai/ports.js';
import { newId } from '../../src/db/values.js';
import { customerAccountsTools } from '../../src/modules/tools/customer-accounts-tools.js';
import { closeMcpClients } from '../../src/modules/tools/mcp-client.js';
import { resolveRunTools, validateToolIds } from '../../src/modules/tools/tools.service.js';
import type { WorkspaceRole } from '../../src/modules/workspaces/workspaces.table.js';
import { sendJson, startFakeServer, type FakeServer } from '../fakes/http-fake.js';
import { startFakeMcpServer, type FakeMcpServer } from '../fakes/mcp-server.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const TOOL_KEYS = [
  'uuid',
  'kind',
  'group',
  'name',
  'display_name',
  'description',
  'input_schema',
  'provider_uuid',
  'account_uuid',
  'http',
  'is_enabled',
  'is_builtin',
  'created_at',
  'updated_at',
];

const API_TOKEN = 'api-token-CANARY-7731';
const MCP_TOKEN = 'mcp-token-CANARY-4410';
const CITY_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, days: { type: 'integer' }, units: { type: 'string' } },
  required: ['city'],
};

const call = () => ({ signal: new AbortController().signal, toolCallId: `call_${newId()}` });

/** The body the fake API answers with: what it received. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text === '' ? null : text;
  }
}

describe.each(DIALECTS)('tools on %s', (dialect) => {
  let t: TestApp;
  let api: FakeServer;
  let mcp: FakeMcpServer;
  let owner: SignedUp;
  let member: SignedUp;
  let viewer: SignedUp;
  let admin: SignedUp;
  let stranger: SignedUp;
  let workspace: string;
  let bearerProvider: string;
  let bearerAccount: string;
  let builtinCount: number;

  const as = (user: SignedUp) => ({ token: user.token, headers: { 'x-workspace-id': workspace } });
  const runOf = (user: SignedUp, role: WorkspaceRole, workspaceId = workspace): RunScope => ({
    ctx: t.ctx,
    scope: { workspaceId, role, userId: user.user.id },
    runId: newId(),
    agentId: null,
    threadId: null,
  });
  const createProvider = async (user: SignedUp, body: Record<string, unknown>, headers?: Record<string, string>) => {
    const response = await t.request({ method: 'POST', url: '/api/v1/providers', token: user.token, headers, body: { type: 'tool', ...body } });
    if (response.status !== 201) throw new Error(`provider: ${response.status} ${response.text}`);
    return response.body.data.uuid as string;
  };
  const createAccount = async (user: SignedUp, body: Record<string, unknown>, headers?: Record<string, string>) => {
    const response = await t.request({ method: 'POST', url: '/api/v1/accounts', token: user.token, headers, body: { provider_display_name: 'Account', ...body } });
    if (response.status !== 201) throw new Error(`account: ${response.status} ${response.text}`);
    return response.body.data.uuid as string;
  };
  const verify = (user: SignedUp, account: string, headers?: Record<string, string>) =>
    t.request({ method: 'POST', url: `/api/v1/accounts/${account}/verify`, token: user.token, headers });
  const httpTool = (overrides: Record<string, unknown> = {}) => ({
    provider_uuid: bearerProvider,
    name: `weather_${newId().slice(-8)}`,
    description: 'The weather forecast for a city.',
    input_schema: CITY_SCHEMA,
    http: { method: 'GET', url: `${api.url}/weather/{{ input.city }}` },
    ...overrides,
  });
  const createTool = async (body: Record<string, unknown>, user = owner) => {
    const response = await t.request({ method: 'POST', url: '/api/v1/tools', ...as(user), body });
    if (response.status !== 201) throw new Error(`tool: ${response.status} ${response.text}`);
    return response.body.data;
  };
  const runTool = async (id: string, input: unknown, run = runOf(owner, 'owner')) => {
    const [tool] = await resolveRunTools(run, [id]);
    if (!tool) throw new Error('tool not resolved');
    return tool.execute(input, call());
  };

  beforeAll(async () => {
    api = await startFakeServer((request, response) => {
      if (request.path === '/') return sendJson(response, 200, { id: 'api-user' });
      if (request.path === '/fail') return sendJson(response, 503, { message: `Upstream is down (you sent ${request.headers.authorization})` });
      if (request.path === '/echo') return sendJson(response, 200, { saw: request.headers.authorization ?? null });
      if (request.path === '/big') return sendJson(response, 200, { items: 'x'.repeat(60_000) });
      if (request.path === '/text') {
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end('plain words');
        return;
      }
      return sendJson(response, 200, {
        method: request.method,
        path: request.path,
        query: Object.fromEntries(request.query),
        body: parsed(request.body),
      });
    });
    mcp = await startFakeMcpServer({ token: MCP_TOKEN, pageSize: 2 });
    t = await createTestApp(dialect, { ATHENA_OUTBOUND_ALLOW: '127.0.0.1', ATHENA_OUTBOUND_TIMEOUT: '2' });
    owner = await t.signUp();
    member = await t.signUp();
    viewer = await t.signUp();
    admin = await t.signUp();
    stranger = await t.signUp();
    workspace = owner.user.primary_workspace.uuid;
    for (const [user, role] of [
      [member, 'member'],
      [viewer, 'viewer'],
      [admin, 'admin'],
    ] as const) {
      await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspace}/members`, token: owner.token, body: { email: user.email, role } });
    }
    bearerProvider = await createProvider(owner, {
      name: 'Weather API',
      slug: 'weather-api',
      authentication_strategy: 'token',
      authentication_config: { token: { type: 'bearer', key: 'Authorization' } },
    });
    bearerAccount = await createAccount(owner, { provider_uuid: bearerProvider, token: API_TOKEN, base_url: api.url });
    expect((await verify(owner, bearerAccount)).status).toBe(200);
    builtinCount = (await t.request({ url: '/api/v1/tools?filter[kind]=builtin&per_page=100', ...as(owner) })).body.meta.total;
  });
  afterAll(async () => {
    await t.close();
    await api.close();
    await mcp.close();
  });

  describe('the catalog', () => {
    it('lists built-in tools first, with fixed uuids and timestamps', async () => {
      const response = await t.request({ url: '/api/v1/tools?filter[group]=customer_accounts', ...as(owner) });

      expect(response.status).toBe(200);
      expect(response.body.meta).toMatchObject({ current_page: 1, total: 7, per_page: 15 });
      const [first] = response.body.data;
      expect(Object.keys(first)).toEqual(TOOL_KEYS);
      expect(response.body.data.map((tool: any) => tool.name).sort()).toEqual(customerAccountsTools.map((tool) => tool.name).sort());
      expect(first).toMatchObject({
        kind: 'builtin',
        group: 'customer_accounts',
        provider_uuid: null,
        account_uuid: null,
        http: null,
        is_enabled: true,
        is_builtin: true,
        created_at: '2025-07-01T00:00:00.000Z',
      });
      expect(first.uuid).toMatch(/^01980000-0000-7000-8003-0000000000\d\d$/);
      expect(first.input_schema.type).toBe('object');
    });

    it('has the memory tools and the customer-accounts tools as built-ins', async () => {
      const response = await t.request({ url: '/api/v1/tools?filter[kind]=builtin&per_page=100', ...as(owner) });
      expect(response.body.meta.total).toBe(9);
      expect(response.body.data.map((tool: any) => [tool.group, tool.name])).toEqual([
        ['memory', 'memory_save'],
        ['memory', 'memory_search'],
        ...customerAccountsTools.map((tool) => ['customer_accounts', tool.name]),
      ].sort((a, b) => a[1]!.localeCompare(b[1]!)));
      const memory = await t.request({ url: '/api/v1/tools/01980000-0000-7000-8002-000000000001', ...as(owner) });
      expect(memory.body.data).toMatchObject({ kind: 'builtin', group: 'memory', name: 'memory_save' });
    });

    it('retrieves a built-in tool, and answers 404 for an unknown uuid', async () => {
      const create = customerAccountsTools.find((tool) => tool.name === 'create_customer_account')!;
      const found = await t.request({ url: `/api/v1/tools/${create.uuid}`, ...as(viewer) });
      expect(found.status).toBe(200);
      expect(found.body.data).toMatchObject({ name: 'create_customer_account', kind: 'builtin', input_schema: { required: ['name', 'primaryDomain'] } });

      const missing = await t.request({ url: `/api/v1/tools/${newId()}`, ...as(owner) });
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({ message: 'Resource not found.' });
    });

    it('pages over built-in and stored tools together, filters by kind, provider and search', async () => {
      const stored = await createTool(httpTool({ name: 'catalog_probe', description: 'Finds the zebra crossing.' }));

      const all = await t.request({ url: '/api/v1/tools?per_page=100', ...as(member) });
      expect(all.body.data.slice(0, builtinCount).every((tool: any) => tool.is_builtin)).toBe(true);
      expect(all.body.data.map((tool: any) => tool.uuid)).toContain(stored.uuid);

      const total = all.body.meta.total;
      const pageSize = builtinCount;
      const second = await t.request({ url: `/api/v1/tools?per_page=${pageSize}&page=2`, ...as(member) });
      expect(second.body.meta).toMatchObject({ total, current_page: 2 });
      expect(second.body.data.every((tool: any) => !tool.is_builtin)).toBe(true);

      const http = await t.request({ url: `/api/v1/tools?filter[kind]=http&filter[provider]=${bearerProvider}&search=zebra`, ...as(member) });
      expect(http.body.data.map((tool: any) => tool.uuid)).toEqual([stored.uuid]);
      expect(http.body.data[0]).toMatchObject({ kind: 'http', group: 'weather-api', is_builtin: false });

      const builtins = await t.request({ url: '/api/v1/tools?filter[kind]=builtin&search=zebra', ...as(member) });
      expect(builtins.body.meta.total).toBe(0);
    });

    it('keeps another workspace’s tools out of sight (404)', async () => {
      const tool = await createTool(httpTool());
      const list = await t.request({ url: '/api/v1/tools?filter[kind]=http&per_page=100', token: stranger.token });
      expect(list.body.data).toEqual([]);
      for (const method of ['GET', 'PUT', 'DELETE'] as const) {
        const response = await t.request({ method, url: `/api/v1/tools/${tool.uuid}`, token: stranger.token, ...(method === 'PUT' ? { body: { description: 'x' } } : {}) });
        expect(response.status).toBe(404);
      }
      const forced = await t.request({ url: `/api/v1/tools/${tool.uuid}`, token: stranger.token, headers: { 'x-workspace-id': workspace } });
      expect(forced.status).toBe(404);
    });
  });

  describe('HTTP tools', () => {
    it('creates one on a custom tool provider and stores its definition', async () => {
      const response = await t.request({
        method: 'POST',
        url: '/api/v1/tools',
        ...as(owner),
        body: httpTool({
          name: 'get_forecast',
          account_uuid: bearerAccount,
          input_schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', ...CITY_SCHEMA },
          http: { method: 'GET', url: `${api.url}/forecast/{{ input.city }}`, headers: { 'X-Units': '{{ input.units | default: "metric" }}' }, query: { days: '{{ input.days }}' } },
        }),
      });

      expect(response.status).toBe(201);
      expect(Object.keys(response.body.data)).toEqual(TOOL_KEYS);
      expect(response.body.data).toMatchObject({
        kind: 'http',
        group: 'weather-api',
        name: 'get_forecast',
        display_name: 'Get forecast',
        provider_uuid: bearerProvider,
        account_uuid: bearerAccount,
        input_schema: CITY_SCHEMA,
        http: { method: 'GET', url: `${api.url}/forecast/{{ input.city }}`, headers: { 'X-Units': '{{ input.units | default: "metric" }}' }, query: { days: '{{ input.days }}' }, body: null },
        is_enabled: true,
        is_builtin: false,
      });
      const row = await t.ctx.db.kysely.selectFrom('tools').selectAll().where('id', '=', response.body.data.uuid).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ workspace_id: workspace, kind: 'http', default_account_id: bearerAccount, account_id: null, user_id: owner.user.id });
      expect(JSON.parse(typeof row.input_schema === 'string' ? row.input_schema : JSON.stringify(row.input_schema))).toEqual(CITY_SCHEMA);
    });

    it.each([
      ['a schema that is not an object schema', { input_schema: { type: 'string' } }, 'input_schema', /type must be "object"/],
      ['a schema Ajv does not compile', { input_schema: { type: 'object', properties: { a: { type: 'objekt' } } } }, 'input_schema', /not a valid JSON Schema/],
      ['a template syntax error', { http: { method: 'GET', url: `https://api.example.test/w/{{ input.city ` } }, 'http.url', /template syntax error/],
      ['an unknown filter', { http: { method: 'GET', url: `https://api.example.test/w/{{ input.city | shell }}` } }, 'http.url', /undefined filter: shell/],
      ['an include tag', { http: { method: 'POST', url: `https://api.example.test/w`, body: { a: '{% include "secrets" %}' } } }, 'http.body.a', /include tag is not allowed/],
      ['a templated host', { http: { method: 'GET', url: 'https://{{ input.host }}/w' } }, 'http.url', /scheme and host without template tags/],
      ['a URL that is not http(s)', { http: { method: 'GET', url: 'file:///etc/passwd' } }, 'http.url', /must start with http/],
      ['an authorization header', { http: { method: 'GET', url: `https://api.example.test/w`, headers: { Authorization: 'Bearer abc' } } }, 'http.headers.Authorization', /credentials come from the account/],
      ['a body on GET', { http: { method: 'GET', url: `https://api.example.test/w`, body: { a: 1 } } }, 'http.body', /not allowed for GET/],
      ['a bad function name', { name: '1-weather' }, 'name', /./],
    ])('answers 422 for %s, naming the field', async (_case, overrides, field, message) => {
      const before = await t.ctx.db.kysely.selectFrom('tools').select('id').execute();
      const response = await t.request({ method: 'POST', url: '/api/v1/tools', ...as(owner), body: httpTool(overrides) });

      expect(response.status).toBe(422);
      expect(Object.keys(response.body.errors)).toContain(field);
      expect(response.body.errors[field][0]).toMatch(message);
      expect((await t.ctx.db.kysely.selectFrom('tools').select('id').execute()).length).toBe(before.length);
    });

    it('answers 422 for a duplicate name on the same provider', async () => {
      await createTool(httpTool({ name: 'twice' }));
      const response = await t.request({ method: 'POST', url: '/api/v1/tools', ...as(owner), body: httpTool({ name: 'twice' }) });
      expect(response.status).toBe(422);
      expect(response.body.errors).toEqual({ name: ['The name has already been taken.'] });
    });

    it('answers 422 for a provider of another type, an official one, another workspace’s, and an account of another provider', async () => {
      const modelProvider = await createProvider(owner, { name: 'Private LLM', type: 'large_language_model', authentication_strategy: 'none' });
      const official = (await t.request({ url: '/api/v1/providers?search=http', token: owner.token })).body.data.find((p: any) => p.slug === 'http').uuid;
      const foreign = await createProvider(stranger, { name: 'Stranger Tools', authentication_strategy: 'none' });
      const otherProvider = await createProvider(owner, { name: 'Other API', authentication_strategy: 'token' });
      const otherAccount = await createAccount(owner, { provider_uuid: otherProvider, token: 'other-token' });

      const cases: Array<[Record<string, unknown>, string, string]> = [
        [{ provider_uuid: modelProvider }, 'provider_uuid', 'The selected provider must be of type tool.'],
        [{ provider_uuid: official }, 'provider_uuid', 'HTTP tools can only be defined on a custom provider of this workspace.'],
        [{ provider_uuid: foreign }, 'provider_uuid', 'The selected provider uuid is invalid.'],
        [{ account_uuid: otherAccount }, 'account_uuid', 'The selected account uuid is not an account of the Weather API provider.'],
        [{ account_uuid: newId() }, 'account_uuid', 'The selected account uuid is invalid.'],
      ];
      for (const [overrides, field, message] of cases) {
        const response = await t.request({ method: 'POST', url: '/api/v1/tools', ...as(owner), body: httpTool(overrides) });
        expect(response.status).toBe(422);
        expect(response.body.errors[field]).toEqual([message]);
      }
    });

    it('lets only who may edit the provider create, change and delete its tools', async () => {
      const viewerCreate = await t.request({ method: 'POST', url: '/api/v1/tools', ...as(viewer), body: httpTool() });
      expect(viewerCreate.status).toBe(403);
      expect(viewerCreate.body).toEqual({ message: 'This action is unauthorized.' });
      const memberCreate = await t.request({ method: 'POST', url: '/api/v1/tools', ...as(member), body: httpTool() });
      expect(memberCreate.status).toBe(403);

      const tool = await createTool(httpTool());
      for (const user of [viewer, member]) {
        const update = await t.request({ method: 'PUT', url: `/api/v1/tools/${tool.uuid}`, ...as(user), body: { description: 'Changed' } });
        expect(update.status).toBe(403);
        const remove = await t.request({ method: 'DELETE', url: `/api/v1/tools/${tool.uuid}`, ...as(user) });
        expect(remove.status).toBe(403);
      }
      // Members see it all the same.
      expect((await t.request({ url: `/api/v1/tools/${tool.uuid}`, ...as(viewer) })).status).toBe(200);

      const byAdmin = await t.request({ method: 'PUT', url: `/api/v1/tools/${tool.uuid}`, ...as(admin), body: { description: 'Changed by an admin' } });
      expect(byAdmin.status).toBe(200);
      expect(byAdmin.body.data.description).toBe('Changed by an admin');

      // A member edits the tools of the provider they created.
      const own = await createProvider(member, { name: 'Member API', authentication_strategy: 'none' }, { 'x-workspace-id': workspace });
      const memberTool = await createTool(httpTool({ provider_uuid: own }), member);
      expect(memberTool.provider_uuid).toBe(own);
    });

    it('updates a definition, clears its account, and refuses a name taken on the provider', async () => {
      const tool = await createTool(httpTool({ name: 'to_update', account_uuid: bearerAccount }));
      await createTool(httpTool({ name: 'taken_name' }));

      const updated = await t.request({
        method: 'PUT',
        url: `/api/v1/tools/${tool.uuid}`,
        ...as(owner),
        body: { name: 'updated_name', account_uuid: null, http: { method: 'POST', url: `${api.url}/report`, body: { city: '{{ input.city }}' } }, is_enabled: false },
      });
      expect(updated.status).toBe(200);
      expect(updated.body.data).toMatchObject({ name: 'updated_name', account_uuid: null, is_enabled: false, http: { method: 'POST', body: { city: '{{ input.city }}' } } });
      const row = await t.ctx.db.kysely.selectFrom('tools').selectAll().where('id', '=', tool.uuid).executeTakeFirstOrThrow();
      expect(row.default_account_id).toBeNull();

      const clash = await t.request({ method: 'PUT', url: `/api/v1/tools/${tool.uuid}`, ...as(owner), body: { name: 'taken_name' } });
      expect(clash.status).toBe(422);
      expect(clash.body.errors).toEqual({ name: ['The name has already been taken.'] });

      const bad = await t.request({ method: 'PUT', url: `/api/v1/tools/${tool.uuid}`, ...as(owner), body: { http: { method: 'GET', url: `${api.url}/{% layout "x" %}` } } });
      expect(bad.status).toBe(422);
      expect(Object.keys(bad.body.errors)).toEqual(['http.url']);
    });

    it('deletes a tool; the tool stays when its default account is deleted', async () => {
      const account = await createAccount(owner, { provider_uuid: bearerProvider, token: 'short-lived' });
      const kept = await createTool(httpTool({ account_uuid: account }));
      const gone = await createTool(httpTool());

      expect((await t.request({ method: 'DELETE', url: `/api/v1/tools/${gone.uuid}`, ...as(owner) })).status).toBe(204);
      expect(await t.ctx.db.kysely.selectFrom('tools').select('id').where('id', '=', gone.uuid).executeTakeFirst()).toBeUndefined();

      expect((await t.request({ method: 'DELETE', url: `/api/v1/accounts/${account}`, token: owner.token })).status).toBe(204);
      const after = await t.request({ url: `/api/v1/tools/${kept.uuid}`, ...as(owner) });
      expect(after.status).toBe(200);
      expect(after.body.data.account_uuid).toBeNull();
    });
  });

  describe('running HTTP tools', () => {
    it('renders the URL (encoded), the default query of a GET and injects the bearer token', async () => {
      const tool = await createTool(httpTool({ http: { method: 'GET', url: `${api.url}/weather/{{ input.city }}`, headers: { 'X-Units': '{{ input.units | default: "metric" }}' } } }));

      const output = await runTool(tool.uuid, { city: 'São Paulo/Centro', days: 3 });

      expect(output).toEqual({ method: 'GET', path: '/weather/S%C3%A3o%20Paulo%2FCentro', query: { city: 'São Paulo/Centro', days: '3' }, body: null });
      const seen = api.requests.at(-1)!;
      expect(seen.headers.authorization).toBe(`Bearer ${API_TOKEN}`);
      expect(seen.headers['x-units']).toBe('metric');
    });

    it('keeps JSON types of single-expression body values and sends the input as JSON without a body template', async () => {
      const templated = await createTool(
        httpTool({
          http: { method: 'POST', url: `${api.url}/report`, query: { q: '{{ input.city | upcase }}', n: '{{ input.days }}' }, body: { place: '{{ input.city }}', days: '{{ input.days }}', label: 'for {{ input.days }} days', tags: ['{{ input.units }}'] } },
        }),
      );
      const plain = await createTool(httpTool({ http: { method: 'PUT', url: `${api.url}/raw` } }));

      expect(await runTool(templated.uuid, { city: 'Oslo', days: 2, units: 'si' })).toEqual({
        method: 'POST',
        path: '/report',
        query: { q: 'OSLO', n: '2' },
        body: { place: 'Oslo', days: 2, label: 'for 2 days', tags: ['si'] },
      });
      expect(api.requests.at(-1)!.headers['content-type']).toBe('application/json');
      expect(await runTool(plain.uuid, { city: 'Oslo', days: 2 })).toEqual({ method: 'PUT', path: '/raw', query: {}, body: { city: 'Oslo', days: 2 } });
    });

    it.each([
      ['header', { type: 'header', key: 'X-Api-Key' }, (r: any) => r.headers['x-api-key']],
      ['query', { type: 'query', key: 'api_key' }, (r: any) => r.query.get('api_key')],
      ['basic', { type: 'basic' }, (r: any) => r.headers.authorization],
    ])('injects a %s token as the provider says', async (type, tokenConfig, read) => {
      const provider = await createProvider(owner, { name: `Token ${type}`, authentication_strategy: 'token', authentication_config: { token: { ...tokenConfig, headers: { 'X-Client': 'athena' } } } });
      const account = await createAccount(owner, { provider_uuid: provider, token: API_TOKEN });
      const tool = await createTool(httpTool({ provider_uuid: provider, account_uuid: account }));

      await runTool(tool.uuid, { city: 'Rome' });

      const seen = api.requests.at(-1)!;
      const expected = type === 'basic' ? `Basic ${Buffer.from(`${API_TOKEN}:`).toString('base64')}` : API_TOKEN;
      expect(read(seen)).toBe(expected);
      expect(seen.headers['x-client']).toBe('athena');
    });

    it('uses basic credentials of a basic provider', async () => {
      const provider = await createProvider(owner, { name: 'Basic API', authentication_strategy: 'basic' });
      const account = await createAccount(owner, { provider_uuid: provider, username: 'svc', password: 'pw-CANARY-99' });
      const tool = await createTool(httpTool({ provider_uuid: provider, account_uuid: account }));
      await runTool(tool.uuid, { city: 'Lima' });
      expect(api.requests.at(-1)!.headers.authorization).toBe(`Basic ${Buffer.from('svc:pw-CANARY-99').toString('base64')}`);
    });

    it('turns failures into ToolErrors without credentials, masks echoed secrets and cuts large answers', async () => {
      const failing = await createTool(httpTool({ http: { method: 'GET', url: `${api.url}/fail` } }));
      const echo = await createTool(httpTool({ http: { method: 'GET', url: `${api.url}/echo` } }));
      const big = await createTool(httpTool({ http: { method: 'GET', url: `${api.url}/big` } }));
      const text = await createTool(httpTool({ http: { method: 'GET', url: `${api.url}/text` } }));

      const error = await runTool(failing.uuid, { city: 'x' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ToolError);
      expect((error as Error).message).toBe('Weather API answered 503: Upstream is down (you sent Bearer ********)');

      expect(await runTool(echo.uuid, { city: 'x' })).toEqual({ saw: 'Bearer ********' });
      const cut = (await runTool(big.uuid, { city: 'x' })) as string;
      expect(typeof cut).toBe('string');
      expect(cut).toMatch(/\[Truncated: the response was \d+ bytes; only the first 51200 are shown\.\]$/);
      expect(await runTool(text.uuid, { city: 'x' })).toBe('plain words');
    });

    it('uses the newest verified account of the run’s user, and says so when there is none', async () => {
      const provider = await createProvider(owner, { name: 'Needs Keys', authentication_strategy: 'token' });
      const tool = await createTool(httpTool({ provider_uuid: provider }));
      const missing = await runTool(tool.uuid, { city: 'x' }).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(ToolError);
      expect((missing as Error).message).toBe('No verified Needs Keys account is available to this user: connect one and verify it.');

      const account = await createAccount(owner, { provider_uuid: provider, token: 'newest-token', base_url: api.url });
      expect((await verify(owner, account)).status).toBe(200);
      await runTool(tool.uuid, { city: 'x' });
      expect(api.requests.at(-1)!.headers.authorization).toBe('Bearer newest-token');
    });

    it('refuses loopback, link-local and private addresses without ATHENA_OUTBOUND_ALLOW (no request is sent)', async () => {
      const closed = await createTestApp(dialect);
      try {
        const user = await closed.signUp();
        const provider = await closed.request({ method: 'POST', url: '/api/v1/providers', token: user.token, body: { name: 'Internal', type: 'tool', authentication_strategy: 'none' } });
        const run: RunScope = { ctx: closed.ctx, scope: { workspaceId: user.user.primary_workspace.uuid, role: 'owner', userId: user.user.id }, runId: newId(), agentId: null, threadId: null };
        const before = api.requests.length;
        for (const [url, address] of [
          [`${api.url}/weather/x`, '127.0.0.1'],
          ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
          ['http://10.0.0.1/admin', '10.0.0.1'],
        ]) {
          const created = await closed.request({
            method: 'POST',
            url: '/api/v1/tools',
            token: user.token,
            body: { provider_uuid: provider.body.data.uuid, name: `internal_${newId().slice(-6)}`, description: 'x', input_schema: { type: 'object' }, http: { method: 'GET', url } },
          });
          expect(created.status).toBe(201);
          const [tool] = await resolveRunTools(run, [created.body.data.uuid]);
          const error = await tool!.execute({}, call()).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(ToolError);
          expect((error as Error).message).toContain(`(${address}) are not allowed`);
        }
        expect(api.requests.length).toBe(before);
      } finally {
        await closed.close();
      }
    });
  });

  describe('the tools of a run', () => {
    it('validates tool ids: built-ins and visible, enabled stored tools only', async () => {
      const enabled = await createTool(httpTool());
      const disabled = await createTool(httpTool({ is_enabled: false }));
      const scope = runOf(owner, 'owner').scope;
      const builtin = customerAccountsTools[0]!.uuid;

      await expect(validateToolIds(t.ctx.db.kysely, scope, [builtin, enabled.uuid])).resolves.toBeUndefined();
      const error = await validateToolIds(t.ctx.db.kysely, scope, [builtin, disabled.uuid, 'not-a-uuid', enabled.uuid, newId()], 'tools').catch((e: unknown) => e);
      expect((error as any).fields).toEqual({
        'tools.1': ['The selected tools.1 is invalid.'],
        'tools.2': ['The selected tools.2 is invalid.'],
        'tools.4': ['The selected tools.4 is invalid.'],
      });
      const foreign = await validateToolIds(t.ctx.db.kysely, { workspaceId: stranger.user.primary_workspace.uuid, role: 'owner', userId: stranger.user.id }, [enabled.uuid]).catch((e: unknown) => e);
      expect((foreign as any).fields).toEqual({ 'tools.0': ['The selected tools.0 is invalid.'] });
    });

    it('resolves tools in order, skips vanished and disabled ones, and makes names unique', async () => {
      const first = await createTool(httpTool({ name: 'same_name' }));
      const otherProvider = await createProvider(owner, { name: 'Twin API', authentication_strategy: 'none' });
      const second = await createTool(httpTool({ provider_uuid: otherProvider, name: 'same_name' }));
      const disabled = await createTool(httpTool({ is_enabled: false }));
      const builtin = customerAccountsTools[1]!;

      const tools: RunTool[] = await resolveRunTools(runOf(owner, 'owner'), [second.uuid, newId(), builtin.uuid, disabled.uuid, first.uuid]);

      expect(tools.map((tool) => [tool.uuid, tool.name])).toEqual([
        [second.uuid, 'same_name'],
        [builtin.uuid, builtin.name],
        [first.uuid, 'same_name_2'],
      ]);
      expect(tools[0]!.inputSchema).toEqual(CITY_SCHEMA);
      expect(tools[0]!.description).toBe('The weather forecast for a city.');
    });
  });

  describe('MCP servers', () => {
    let mcpProvider: string;
    let mcpAccount: string;

    beforeAll(async () => {
      mcpProvider = (await t.request({ url: '/api/v1/providers?filter[type]=mcp_server', token: owner.token })).body.data[0].uuid;
      mcpAccount = await createAccount(owner, { provider_uuid: mcpProvider, provider_display_name: 'Weather MCP', token: MCP_TOKEN, base_url: mcp.url, scope: 'public' });
    });

    it('lists the server’s tools (every page) when the account is verified', async () => {
      const response = await verify(owner, mcpAccount);

      expect(response.status).toBe(200);
      expect(response.body.data.provider_account_id).toBe(`fake-weather@${new URL(mcp.url).host}`);
      expect(response.body.meta.verification_status).toBe('verified');
      const list = await t.request({ url: `/api/v1/tools?filter[account]=${mcpAccount}`, ...as(member) });
      expect(list.body.data.map((tool: any) => tool.name)).toEqual(['always_fails', 'docs_search', 'get_weather']);
      expect(list.body.data.find((tool: any) => tool.name === 'get_weather')).toMatchObject({
        kind: 'mcp',
        group: 'mcp',
        display_name: 'Get weather',
        description: 'The current weather in a city.',
        provider_uuid: mcpProvider,
        account_uuid: mcpAccount,
        http: null,
        input_schema: { type: 'object', required: ['city'] },
      });
      const rows = await t.ctx.db.kysely.selectFrom('tools').select(['name', 'config', 'kind', 'user_id']).where('account_id', '=', mcpAccount).orderBy('name').execute();
      expect(rows.map((row) => [row.name, typeof row.config === 'string' ? JSON.parse(row.config) : row.config])).toEqual([
        ['always_fails', { name: 'always_fails' }],
        ['docs_search', { name: 'docs.search' }],
        ['get_weather', { name: 'get_weather' }],
      ]);
      expect(mcp.requests.every((request) => request.headers.authorization === `Bearer ${MCP_TOKEN}`)).toBe(true);
    });

    it('keeps tool uuids and switches when verified again', async () => {
      const before = (await t.request({ url: `/api/v1/tools?filter[account]=${mcpAccount}`, ...as(owner) })).body.data;
      const weather = before.find((tool: any) => tool.name === 'get_weather');
      expect((await t.request({ method: 'PUT', url: `/api/v1/tools/${weather.uuid}`, ...as(owner), body: { is_enabled: false } })).status).toBe(200);

      expect((await verify(owner, mcpAccount)).status).toBe(200);

      const after = (await t.request({ url: `/api/v1/tools?filter[account]=${mcpAccount}`, ...as(owner) })).body.data;
      expect(after.map((tool: any) => tool.uuid).sort()).toEqual(before.map((tool: any) => tool.uuid).sort());
      expect(after.find((tool: any) => tool.name === 'get_weather').is_enabled).toBe(false);
      await t.request({ method: 'PUT', url: `/api/v1/tools/${weather.uuid}`, ...as(owner), body: { is_enabled: true } });
    });

    it('lets only is_enabled change, by the account’s owner, and refuses deletion with 409', async () => {
      const tool = (await t.request({ url: `/api/v1/tools?filter[account]=${mcpAccount}&search=docs`, ...as(owner) })).body.data[0];

      const renamed = await t.request({ method: 'PUT', url: `/api/v1/tools/${tool.uuid}`, ...as(owner), body: { name: 'renamed', is_enabled: true } });
      expect(renamed.status).toBe(422);
      expect(renamed.body.errors).toEqual({ name: ['The name field cannot be changed on an MCP tool: its server defines it.'] });

      const byMember = await t.request({ method: 'PUT', url: `/api/v1/tools/${tool.uuid}`, ...as(member), body: { is_enabled: false } });
      expect(byMember.status).toBe(403);

      const removed = await t.request({ method: 'DELETE', url: `/api/v1/tools/${tool.uuid}`, ...as(owner) });
      expect(removed.status).toBe(409);
      expect(removed.body.message).toMatch(/^MCP tools come from their server/);
    });

    it('calls tools: structured content, isError as a ToolError, other content summarized, one session reused', async () => {
      await closeMcpClients(t.ctx);
      const tools = (await t.request({ url: `/api/v1/tools?filter[account]=${mcpAccount}`, ...as(member) })).body.data;
      const id = (name: string) => tools.find((tool: any) => tool.name === name).uuid;
      const sessions = mcp.initializations;
      const run = runOf(member, 'member');
      const resolved = await resolveRunTools(run, [id('get_weather'), id('always_fails'), id('docs_search')]);

      expect(await resolved[0]!.execute({ city: 'Bergen' }, call())).toEqual({ city: 'Bergen', temperature: 21, unit: 'c', conditions: 'sunny' });
      const failure = await resolved[1]!.execute({}, call()).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(ToolError);
      expect((failure as Error).message).toBe('The weather backend is down: try again later.');
      expect(await resolved[2]!.execute({ q: 'tools' }, call())).toBe(
        '2 results for tools\n[image: image/png, 8 bytes]\n[resource link: https://docs.example.test/a (Page A)]',
      );

      expect(mcp.initializations - sessions).toBe(1);
      expect(mcp.calls.slice(-3).map((c) => [c.name, c.arguments, c.authorization])).toEqual([
        ['get_weather', { city: 'Bergen' }, `Bearer ${MCP_TOKEN}`],
        ['always_fails', {}, `Bearer ${MCP_TOKEN}`],
        ['docs.search', { q: 'tools' }, `Bearer ${MCP_TOKEN}`],
      ]);
    });

    it('reconnects once when the server has forgotten the session', async () => {
      const tool = (await t.request({ url: `/api/v1/tools?filter[account]=${mcpAccount}&search=weather`, ...as(owner) })).body.data[0];
      const [resolved] = await resolveRunTools(runOf(owner, 'owner'), [tool.uuid]);
      await resolved!.execute({ city: 'Turku' }, call());
      const sessions = mcp.initializations;

      await mcp.forgetSessions();

      expect(await resolved!.execute({ city: 'Vaasa' }, call())).toMatchObject({ city: 'Vaasa' });
      expect(mcp.initializations - sessions).toBe(1);
    });

    it('answers 422 when the server rejects the credentials, and marks the account failed', async () => {
      const account = await createAccount(owner, { provider_uuid: mcpProvider, token: 'wrong-token', base_url: mcp.url });
      const response = await verify(owner, account);

      expect(response.status).toBe(422);
      expect(response.body.errors).toEqual({ token: ['The access token is invalid or expired.'] });
      const row = await t.ctx.db.kysely.selectFrom('connected_accounts').selectAll().where('id', '=', account).executeTakeFirstOrThrow();
      expect(row.verification_status).toBe('failed');
      expect(await t.ctx.db.kysely.selectFrom('tools').select('id').where('account_id', '=', account).execute()).toEqual([]);
    });

    it('answers 502 for an unreachable server and 422 on base_url for a blocked one', async () => {
      const gone = await startFakeServer(() => undefined);
      const url = `${gone.url}/mcp`;
      await gone.close();
      const unreachable = await createAccount(owner, { provider_uuid: mcpProvider, token: MCP_TOKEN, base_url: url });
      const response = await verify(owner, unreachable);
      expect(response.status).toBe(502);
      expect(response.body.message).toMatch(/^The provider could not be reached: /);

      const closed = await createTestApp(dialect);
      try {
        const user = await closed.signUp();
        const provider = (await closed.request({ url: '/api/v1/providers?filter[type]=mcp_server', token: user.token })).body.data[0].uuid;
        const created = await closed.request({ method: 'POST', url: '/api/v1/accounts', token: user.token, body: { provider_uuid: provider, provider_display_name: 'x', token: MCP_TOKEN, base_url: mcp.url } });
        const before = mcp.requests.length;
        const blocked = await closed.request({ method: 'POST', url: `/api/v1/accounts/${created.body.data.uuid}/verify`, token: user.token });
        expect(blocked.status).toBe(422);
        expect(blocked.body.errors.base_url[0]).toMatch(/^Outbound calls to 127\.0\.0\.1 \(127\.0\.0\.1\) are not allowed/);
        expect(mcp.requests.length).toBe(before);
      } finally {
        await closed.close();
      }
    });

    it('shows a private account’s MCP tools to its owner only', async () => {
      const privateAccount = await createAccount(owner, { provider_uuid: mcpProvider, token: MCP_TOKEN, base_url: mcp.url });
      expect((await verify(owner, privateAccount)).status).toBe(200);
      const mine = await t.request({ url: `/api/v1/tools?filter[account]=${privateAccount}`, ...as(owner) });
      expect(mine.body.meta.total).toBe(3);
      const theirs = await t.request({ url: `/api/v1/tools?filter[account]=${privateAccount}`, ...as(member) });
      expect(theirs.body.meta.total).toBe(0);
      expect((await t.request({ url: `/api/v1/tools/${mine.body.data[0].uuid}`, ...as(member) })).status).toBe(404);
    });
  });

  describe('customer-accounts tools', () => {
    const byName = (name: string) => customerAccountsTools.find((tool) => tool.name === name)!.uuid;

    it('creates an account as the run’s user, visible through /v1', async () => {
      const created = (await runTool(byName('create_customer_account'), { name: 'Globex', primaryDomain: 'globex.test' }, runOf(member, 'member'))) as any;

      expect(created).toMatchObject({ name: 'Globex', primaryDomain: 'globex.test', status: expect.any(String) });
      const seen = await t.request({ url: `/v1/accounts/${created.id}`, ...as(owner) });
      expect(seen.status).toBe(200);
      expect(seen.body).toEqual(created);

      const found = (await runTool(byName('search_customer_accounts'), { search: 'globex' }, runOf(viewer, 'viewer'))) as any;
      expect(found.total).toBe(1);
      expect(found.accounts[0].id).toBe(created.id);

      const note = (await runTool(byName('create_customer_note'), { accountId: created.id, content: 'Met at the fair.' }, runOf(member, 'member'))) as any;
      expect(note).toMatchObject({ accountId: created.id, content: 'Met at the fair.' });
      const task = (await runTool(byName('create_customer_task'), { accountId: created.id, title: 'Send the offer' }, runOf(member, 'member'))) as any;
      expect(task).toMatchObject({ accountId: created.id, title: 'Send the offer' });
      const contact = (await runTool(byName('create_customer_contact'), { firstName: 'Ada', email: 'ada@globex.test', accountIds: [created.id] }, runOf(member, 'member'))) as any;
      const contacts = (await runTool(byName('search_customer_contacts'), { accountId: created.id }, runOf(member, 'member'))) as any;
      expect(contacts.contacts.map((c: any) => c.id)).toEqual([contact.id]);
      const updated = (await runTool(byName('update_customer_account'), { id: created.id, employees: 50 }, runOf(member, 'member'))) as any;
      expect(updated.employees).toBe(50);
    });

    it('hands the model what the services refuse as ToolErrors', async () => {
      const denied = await runTool(byName('create_customer_account'), { name: 'Initech', primaryDomain: 'initech.test' }, runOf(viewer, 'viewer')).catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(ToolError);
      expect((denied as Error).message).toMatch(/may not change accounts/);

      const invalid = await runTool(byName('create_customer_account'), { name: 'Initech', primaryDomain: 'not a domain' }, runOf(member, 'member')).catch((e: unknown) => e);
      expect(invalid).toBeInstanceOf(ToolError);
      expect((invalid as Error).message).toMatch(/^Invalid input: primaryDomain/);

      await runTool(byName('create_customer_account'), { name: 'Initech', primaryDomain: 'initech.test' }, runOf(member, 'member'));
      const duplicate = await runTool(byName('create_customer_account'), { name: 'Initech 2', primaryDomain: 'initech.test' }, runOf(member, 'member')).catch((e: unknown) => e);
      expect(duplicate).toBeInstanceOf(ToolError);
      expect((duplicate as Error).message).toBe('An account with the primary domain initech.test already exists');

      const missing = await runTool(byName('update_customer_account'), { id: newId(), name: 'x' }, runOf(member, 'member')).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(ToolError);
      expect((missing as Error).message).toMatch(/^No such account in this workspace/);
    });
  });
});
