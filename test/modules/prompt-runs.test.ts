import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai-server.js';
import { GPT_4O_MINI, PROVIDERS, connectModelAccount, parseSse } from '../helpers/ai.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const KEY = 'sk-prompt-runs-0123456789';

describe.each(DIALECTS)('prompt runs on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let member: SignedUp;
  let openai: FakeOpenAi;
  let account: string;
  let prompt: any;
  let workspace: string;

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: KEY });
    t = await createTestApp(dialect);
    owner = await t.signUp();
    member = await t.signUp();
    workspace = owner.user.primary_workspace.uuid;
    await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspace}/members`, token: owner.token, body: { email: member.email, role: 'member' } });
    account = await connectModelAccount(t, owner.token, { provider: PROVIDERS.openai, baseUrl: `${openai.url}/v1`, apiKey: KEY });
    const created = await t.request({
      method: 'POST',
      url: '/api/v1/prompts',
      token: owner.token,
      body: {
        name: 'Email writer',
        content: 'Write a {{ tone }} email to {{ name }} about {{ topic }}.',
        variables: [
          { name: 'tone', default: 'friendly' },
          { name: 'name' },
          { name: 'topic' },
        ],
        llm_uuid: GPT_4O_MINI,
        account_uuid: account,
        settings: { temperature: 0.3, max_tokens: 200 },
        visibility: 'workspace',
      },
    });
    expect(created.status).toBe(201);
    prompt = created.body.data;
  });
  afterAll(async () => {
    await t.close();
    await openai.close();
  });

  const runPrompt = (body: Record<string, unknown>, token = owner.token, headers: Record<string, string> = {}) =>
    t.request({ method: 'POST', url: `/api/v1/prompts/${prompt.uuid}/run`, token, body, headers });

  it('renders the template, sends it with the prompt’s settings and records usage, cost and version', async () => {
    openai.script([{ text: 'Dear Ada, …', usage: { input: 40, output: 60 } }]);
    const response = await runPrompt({ variables: { name: 'Ada', topic: 'the launch' } });

    expect(response.status).toBe(200);
    expect(response.body.data).toMatchObject({
      kind: 'prompt',
      status: 'completed',
      prompt_uuid: prompt.uuid,
      prompt_version: 1,
      thread_uuid: null,
      output: 'Dear Ada, …',
      output_json: null,
      messages: [],
      usage: { input_tokens: 40, output_tokens: 60, cost: (40 * 0.15 + 60 * 0.6) / 1_000_000 },
    });
    const sent = openai.chatBodies().at(-1)!;
    expect(sent.messages).toEqual([{ role: 'user', content: 'Write a friendly email to Ada about the launch.' }]);
    expect(sent).toMatchObject({ temperature: 0.3, max_tokens: 200 });
  });

  it('names every missing required variable in a 422, and calls no model', async () => {
    const before = openai.calls;
    const response = await runPrompt({ variables: { tone: 'formal' } });
    expect(response.status).toBe(422);
    expect(response.body.errors).toEqual({
      'variables.name': ['The variables.name field is required.'],
      'variables.topic': ['The variables.topic field is required.'],
    });
    expect(openai.calls).toBe(before);
  });

  it('records the version each run used, and runs an older version on request', async () => {
    const updated = await t.request({ method: 'PUT', url: `/api/v1/prompts/${prompt.uuid}`, token: owner.token, body: { content: 'Write a {{ tone }} note to {{ name }} about {{ topic }}.' } });
    expect(updated.body.data.version).toBe(2);
    openai.script([{ text: 'v2' }]);
    const current = await runPrompt({ variables: { name: 'Bo', topic: 'tea' } });
    expect(current.body.data.prompt_version).toBe(2);
    expect(openai.chatBodies().at(-1)!.messages[0].content).toBe('Write a friendly note to Bo about tea.');

    openai.script([{ text: 'v1' }]);
    const pinned = await runPrompt({ variables: { name: 'Bo', topic: 'tea' }, version: 1 });
    expect(pinned.body.data.prompt_version).toBe(1);
    expect(openai.chatBodies().at(-1)!.messages[0].content).toBe('Write a friendly email to Bo about tea.');
    const stored = await t.ctx.db.kysely.selectFrom('runs').select(['prompt_version']).where('id', '=', pinned.body.data.uuid).executeTakeFirstOrThrow();
    expect(stored.prompt_version).toBe(1);
  });

  it('asks for JSON and returns it parsed when the prompt wants JSON output', async () => {
    const json = await t.request({
      method: 'POST',
      url: '/api/v1/prompts',
      token: owner.token,
      body: { name: 'Extractor', content: 'Extract the city from: {{ text }}', llm_uuid: GPT_4O_MINI, account_uuid: account, settings: { json_output: true } },
    });
    openai.script([{ text: '{"city": "Lyon"}' }]);
    const response = await t.request({ method: 'POST', url: `/api/v1/prompts/${json.body.data.uuid}/run`, token: owner.token, body: { variables: { text: 'I live in Lyon.' } } });
    expect(response.body.data).toMatchObject({ output: '{"city": "Lyon"}', output_json: { city: 'Lyon' } });
    expect(openai.chatBodies().at(-1)!.response_format).toEqual({ type: 'json_object' });
  });

  it('streams a prompt run', async () => {
    openai.script([{ text: 'Streamed email text.' }]);
    const response = await runPrompt({ variables: { name: 'Cy', topic: 'rain' }, stream: true });
    const events = parseSse(response.text);
    expect(events.map((e) => e.event)).toEqual(['run.started', ...Array(3).fill('message.delta'), 'message.completed', 'done']);
    expect(events.at(-1)!.data).toMatchObject({ kind: 'prompt', output: 'Streamed email text.' });
  });

  it('runs a workspace prompt for another member on the prompt’s model, and on the caller’s when they name one', async () => {
    openai.script([{ text: 'For the member.' }]);
    const shared = await runPrompt({ variables: { name: 'Di', topic: 'cake' } }, member.token, { 'x-workspace-id': workspace });
    expect(shared.status).toBe(200);
    expect(shared.body.data.llm_uuid).toBe(GPT_4O_MINI);

    // Naming a model means the caller's own account: the owner's private one is not theirs.
    const borrowed = await runPrompt({ variables: { name: 'Di', topic: 'cake' }, llm_uuid: GPT_4O_MINI, account_uuid: account }, member.token, {
      'x-workspace-id': workspace,
    });
    expect(borrowed.status).toBe(422);
    expect(borrowed.body.errors).toEqual({ account_uuid: ['The selected account uuid is invalid.'] });
  });

  it('refuses a prompt without a model, an invisible prompt and a viewer', async () => {
    const bare = await t.request({ method: 'POST', url: '/api/v1/prompts', token: owner.token, body: { name: 'Bare', content: 'Hello' } });
    const noModel = await t.request({ method: 'POST', url: `/api/v1/prompts/${bare.body.data.uuid}/run`, token: owner.token, body: {} });
    expect(noModel.status).toBe(422);
    expect(noModel.body.errors.llm_uuid[0]).toMatch(/no default model/);

    const stranger = await t.signUp();
    expect((await runPrompt({ variables: { name: 'x', topic: 'y' } }, stranger.token)).status).toBe(404);
    const viewer = await t.signUp();
    await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspace}/members`, token: owner.token, body: { email: viewer.email, role: 'viewer' } });
    expect((await runPrompt({ variables: { name: 'x', topic: 'y' } }, viewer.token, { 'x-workspace-id': workspace })).status).toBe(403);
  });
});
