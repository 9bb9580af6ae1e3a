import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendJson, startFakeServer, type FakeServer } from '../fakes/http-fake.js';
import { startFakeMcpServer, type FakeMcpServer } from '../fakes/mcp-server.js';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai-server.js';
import { PROVIDERS, parseSse } from '../helpers/ai.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const MODEL_KEY = 'sk-local-vllm-0123456789';
const API_KEY = 'weather-api-key-0123456789';
const MCP_TOKEN = 'mcp-token-0123456789';
const MEMORY_SAVE = '01980000-0000-7000-8002-000000000001';

/**
 * The "done when": a new user connects an OpenAI-compatible model, creates an agent
 * with an HTTP tool and an MCP tool, chats with it in a thread with streaming, sees its tool
 * calls, costs and memories through the API, and finds it on the leaderboard.
 */
describe.each(DIALECTS)('an agent from first connection to the leaderboard on %s', (dialect) => {
  let t: TestApp;
  let user: SignedUp;
  let friend: SignedUp;
  let openai: FakeOpenAi;
  let api: FakeServer;
  let mcp: FakeMcpServer;
  const state: Record<string, any> = {};

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: MODEL_KEY, models: [{ id: 'llama-3.1-8b-instruct', owned_by: 'vllm' }] });
    api = await startFakeServer((request, response) => {
      if (request.headers.authorization !== `Bearer ${API_KEY}`) return sendJson(response, 401, { message: 'bad key' });
      return sendJson(response, 200, { city: decodeURIComponent(request.path.split('/').pop()!), forecast: 'rain', celsius: 14 });
    });
    mcp = await startFakeMcpServer({ token: MCP_TOKEN });
    t = await createTestApp(dialect, { ATHENA_OUTBOUND_ALLOW: '127.0.0.1' });
    user = await t.signUp();
    friend = await t.signUp();
  });
  afterAll(async () => {
    await t.close();
    await Promise.all([openai.close(), api.close(), mcp.close()]);
  });

  const as = (token = user.token) => ({ token });

  it('connects an OpenAI-compatible server and finds its models in the catalog', async () => {
    const account = await t.request({
      method: 'POST',
      url: '/api/v1/accounts',
      ...as(),
      body: { provider_uuid: PROVIDERS.openaiCompatible, provider_display_name: 'Our vLLM', token: MODEL_KEY, base_url: `${openai.url}/v1` },
    });
    expect(account.status).toBe(201);
    expect((await t.request({ method: 'POST', url: `/api/v1/accounts/${account.body.data.uuid}/verify`, ...as() })).status).toBe(200);
    const models = await t.request({ url: `/api/v1/large-language-models?filter[account]=${account.body.data.uuid}`, ...as() });
    state.account = account.body.data.uuid;
    const listed = models.body.data.find((m: any) => m.model_id === 'llama-3.1-8b-instruct');
    expect(listed).toMatchObject({ is_official: false, capabilities: { tools: true, vision: false } });
    state.llm = listed.uuid;
  });

  it('defines an HTTP tool on a custom provider and lists an MCP server’s tools', async () => {
    const provider = await t.request({
      method: 'POST',
      url: '/api/v1/providers',
      ...as(),
      body: { name: 'Weather API', type: 'tool', authentication_strategy: 'token', authentication_config: { token: { type: 'bearer', key: 'Authorization' } } },
    });
    const apiAccount = await t.request({
      method: 'POST',
      url: '/api/v1/accounts',
      ...as(),
      body: { provider_uuid: provider.body.data.uuid, provider_display_name: 'Weather key', token: API_KEY },
    });
    const tool = await t.request({
      method: 'POST',
      url: '/api/v1/tools',
      ...as(),
      body: {
        provider_uuid: provider.body.data.uuid,
        account_uuid: apiAccount.body.data.uuid,
        name: 'forecast',
        description: 'The forecast for a city.',
        input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        http: { method: 'GET', url: `${api.url}/forecast/{{ input.city }}` },
      },
    });
    expect(tool.status).toBe(201);
    state.httpTool = tool.body.data.uuid;

    const mcpAccount = await t.request({
      method: 'POST',
      url: '/api/v1/accounts',
      ...as(),
      body: { provider_uuid: PROVIDERS.mcp, provider_display_name: 'Tools server', token: MCP_TOKEN, base_url: mcp.url },
    });
    expect((await t.request({ method: 'POST', url: `/api/v1/accounts/${mcpAccount.body.data.uuid}/verify`, ...as() })).status).toBe(200);
    const listed = await t.request({ url: `/api/v1/tools?filter[account]=${mcpAccount.body.data.uuid}`, ...as() });
    state.mcpTool = listed.body.data.find((x: any) => x.name === 'get_weather').uuid;
    state.failingTool = listed.body.data.find((x: any) => x.name === 'always_fails').uuid;
  });

  it('creates the agent and chats with it in a thread, streaming, with tool calls to both tools', async () => {
    const agent = await t.request({
      method: 'POST',
      url: '/api/v1/agents',
      ...as(),
      body: {
        name: 'Weather buddy',
        instructions: 'You compare forecasts.',
        llm_uuid: state.llm,
        account_uuid: state.account,
        tools: [state.httpTool, state.mcpTool, MEMORY_SAVE],
      },
    });
    expect(agent.status).toBe(201);
    state.agent = agent.body.data.uuid;
    const thread = await t.request({ method: 'POST', url: '/api/v1/threads', ...as(), body: { agent_uuid: state.agent, name: 'Weekend' } });
    state.thread = thread.body.data.uuid;

    openai.script([
      {
        toolCalls: [
          { name: 'forecast', input: { city: 'Bergen' } },
          { name: 'get_weather', input: { city: 'Bergen' } },
        ],
        usage: { input: 200, output: 40 },
      },
      { toolCalls: [{ name: 'memory_save', input: { content: 'The user spends weekends in Bergen.' } }], usage: { input: 300, output: 20 } },
      { text: 'Rain says one source, sun says the other.', usage: { input: 350, output: 12 } },
    ]);
    const response = await t.request({
      method: 'POST',
      url: `/api/v1/threads/${state.thread}/run`,
      ...as(),
      body: { content: 'Weather in Bergen this weekend?' },
      headers: { accept: 'text/event-stream' },
    });
    const events = parseSse(response.text);
    const results = events.filter((e) => e.event === 'tool.result').map((e) => e.data);
    expect(results.find((r) => r.name === 'forecast')).toMatchObject({ is_error: false, output: { city: 'Bergen', forecast: 'rain', celsius: 14 } });
    expect(results.find((r) => r.name === 'get_weather')).toMatchObject({ is_error: false, output: { city: 'Bergen', temperature: 21 } });
    expect(results.find((r) => r.name === 'memory_save')).toMatchObject({ is_error: false });
    const done = events.at(-1)!;
    expect(done).toMatchObject({ event: 'done', data: { status: 'completed', steps: 3, tool_calls: 3, usage: { input_tokens: 850, output_tokens: 72 } } });
    state.run = done.data.uuid;
    // The tools were really called, with the credentials of their accounts.
    expect(api.requests.at(-1)).toMatchObject({ path: '/forecast/Bergen' });
    expect(mcp.calls.at(-1)).toMatchObject({ name: 'get_weather', arguments: { city: 'Bergen' }, authorization: `Bearer ${MCP_TOKEN}` });
    // The model saw the tool schemas the tools declared.
    expect(openai.chatBodies().at(-3)!.tools.map((x: any) => x.function.name)).toEqual(['forecast', 'get_weather', 'memory_save']);
  });

  it('shows the tool calls, costs and memories through the API', async () => {
    const messages = await t.request({ url: `/api/v1/threads/${state.thread}/messages?per_page=50`, ...as() });
    expect(messages.body.data.map((m: any) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant', 'tool', 'assistant']);
    expect(messages.body.data[1].tool_calls.map((c: any) => c.name)).toEqual(['forecast', 'get_weather']);
    expect(messages.body.data.at(-1)).toMatchObject({ content: 'Rain says one source, sun says the other.', usage: { input_tokens: 350, output_tokens: 12 } });

    const run = await t.request({ url: `/api/v1/runs/${state.run}`, ...as() });
    expect(run.body.data).toMatchObject({ kind: 'thread', model_id: 'llama-3.1-8b-instruct', usage: { total_tokens: 922 } });
    expect(typeof run.body.data.usage.cost).toBe('number');

    const memories = await t.request({ url: `/api/v1/memories?filter[agent]=${state.agent}`, ...as() });
    expect(memories.body.data.map((m: any) => m.content)).toEqual(['The user spends weekends in Bergen.']);
  });

  it('puts the agent on the leaderboard, with the feedback given to its reply', async () => {
    const messages = await t.request({ url: `/api/v1/threads/${state.thread}/messages?filter[role]=assistant&sort=-sequence`, ...as() });
    const reply = messages.body.data[0];
    expect((await t.request({ method: 'PUT', url: `/api/v1/threads/${state.thread}/messages/${reply.uuid}`, ...as(), body: { feedback: 'up' } })).status).toBe(200);
    const board = await t.request({ url: '/api/v1/agents/leaderboard', ...as() });
    expect(board.status).toBe(200);
    expect(board.body.data[0]).toMatchObject({ rank: 1, agent: { uuid: state.agent }, runs: 1, success_rate: 1, feedback_up: 1, feedback_score: 1, total_tokens: 922 });
  });

  it('lets a user it was shared with run it from their own workspace, with its own tools', async () => {
    const shared = await t.request({ method: 'POST', url: `/api/v1/agents/${state.agent}/share`, ...as(), body: { users: [{ email: friend.email, permission: 'run' }] } });
    expect(shared.status).toBe(200);
    openai.script([{ toolCalls: [{ name: 'forecast', input: { city: 'Oslo' } }] }, { text: 'Rain in Oslo too.' }]);
    const response = await t.request({ method: 'POST', url: `/api/v1/agents/${state.agent}/run`, token: friend.token, body: { input: 'And Oslo?' } });
    expect(response.status).toBe(200);
    expect(response.body.data.messages.find((m: any) => m.role === 'tool').tool_result).toMatchObject({ name: 'forecast', is_error: false });
    expect(api.requests.at(-1)).toMatchObject({ path: '/forecast/Oslo' });
    // The thread is the friend's, in the friend's workspace; the owner does not see it.
    const threadId = response.body.data.thread_uuid;
    expect((await t.request({ url: `/api/v1/threads/${threadId}`, token: friend.token })).status).toBe(200);
    expect((await t.request({ url: `/api/v1/threads/${threadId}`, ...as() })).status).toBe(404);
  });

  it('hands a failing tool’s error back to the model and finishes the run', async () => {
    const withFailing = await t.request({
      method: 'PUT',
      url: `/api/v1/agents/${state.agent}`,
      ...as(),
      body: { tools: [state.httpTool, state.mcpTool, MEMORY_SAVE, state.failingTool] },
    });
    expect(withFailing.status).toBe(200);
    openai.script([{ toolCalls: [{ name: 'always_fails', input: {} }] }, { text: 'That service is down, sorry.' }]);
    const response = await t.request({ method: 'POST', url: `/api/v1/agents/${state.agent}/run`, ...as(), body: { input: 'Try the broken one' } });
    expect(response.status).toBe(200);
    expect(response.body.data).toMatchObject({ status: 'completed', output: 'That service is down, sorry.' });
    const result = response.body.data.messages.find((m: any) => m.role === 'tool').tool_result;
    expect(result).toMatchObject({ name: 'always_fails', is_error: true, output: { error: expect.stringContaining('The weather backend is down') } });
    // The model read the error as the tool's result.
    const sent = openai.chatBodies().at(-1)!.messages.find((m: any) => m.role === 'tool');
    expect(sent.content).toContain('The weather backend is down');
  });
});
