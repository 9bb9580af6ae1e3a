import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAgentDraft, cleanTitle } from '../../src/modules/runs/drafting.js';
import { parseJsonReply } from '../../src/modules/runs/prompt-run.js';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai-server.js';
import { GPT_4O_MINI, PROVIDERS, connectModelAccount, createAgent } from '../helpers/ai.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const KEY = 'sk-generation-0123456789';
const MEMORY_SAVE = '01980000-0000-7000-8002-000000000001';

describe('drafts and titles', () => {
  it('reads JSON answers with or without a code fence', () => {
    expect(parseJsonReply('{"a": 1}')).toEqual({ a: 1 });
    expect(parseJsonReply('```json\n{"a": 1}\n```')).toEqual({ a: 1 });
    expect(parseJsonReply('Sure! {"a": 1}')).toBeUndefined();
  });

  it('names what is wrong with a draft', () => {
    expect(checkAgentDraft('{"name": "X"}')).toEqual({ problem: "the object must have required property 'instructions'" });
    expect(checkAgentDraft('no json')).toEqual({ problem: 'the answer was not a JSON object' });
    expect(checkAgentDraft('{"name": "X", "instructions": "You answer support questions politely."}')).toMatchObject({ draft: { name: 'X' } });
  });

  it('cleans a model’s title', () => {
    expect(cleanTitle('"Trip to Lisbon."')).toBe('Trip to Lisbon');
    expect(cleanTitle('Title: **Budget review**\nmore text')).toBe('Budget review');
  });
});

describe.each(DIALECTS)('generating agents and thread names on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let openai: FakeOpenAi;
  let account: string;

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: KEY });
    t = await createTestApp(dialect);
    owner = await t.signUp();
    account = await connectModelAccount(t, owner.token, { provider: PROVIDERS.openai, baseUrl: `${openai.url}/v1`, apiKey: KEY });
  });
  afterAll(async () => {
    await t.close();
    await openai.close();
  });

  const generate = (body: Record<string, unknown>) =>
    t.request({ method: 'POST', url: '/api/v1/agents/generate', token: owner.token, body: { llm_uuid: GPT_4O_MINI, account_uuid: account, ...body } });

  it('has a model draft a complete agent from a description, with tools from the catalog', async () => {
    openai.script([
      {
        text: JSON.stringify({
          name: 'Recipe coach',
          emoji: '🍳',
          description: 'Suggests recipes and remembers tastes.',
          instructions: 'You suggest recipes. Save what the user likes with memory_save.',
          tools: ['memory_save', 'send_fax'],
        }),
        usage: { input: 500, output: 80 },
      },
    ]);
    const response = await generate({ description: 'An assistant that suggests recipes and remembers what I like.' });

    expect(response.status).toBe(201);
    expect(response.body.data).toMatchObject({
      name: 'Recipe coach',
      description: 'Suggests recipes and remembers tastes.',
      instructions: 'You suggest recipes. Save what the user likes with memory_save.',
      llm_uuid: GPT_4O_MINI,
      account_uuid: account,
      tools: [MEMORY_SAVE],
      profile_photo_config: { emoji: '🍳' },
    });
    expect(response.body.meta).toMatchObject({ suggested_tools: ['memory_save', 'send_fax'], ignored_tools: ['send_fax'] });
    const sent = openai.chatBodies().at(-1)!;
    expect(sent.messages[0].content).toContain('- memory_save: ');
    expect(sent.messages[1].content).toContain('suggests recipes');
    const run = await t.request({ url: `/api/v1/runs/${response.body.meta.run_uuid}`, token: owner.token });
    expect(run.body.data).toMatchObject({ kind: 'generate', status: 'completed', usage: { input_tokens: 500, output_tokens: 80 } });
  });

  it('asks again once when the draft is invalid, then answers 502 without creating anything', async () => {
    const count = async () => Number((await t.ctx.db.kysely.selectFrom('agents').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    openai.script([{ text: '{"name": "Half"}' }, { text: 'still not json' }]);
    const response = await generate({ description: 'Something vague enough.' });
    expect(response.status).toBe(502);
    expect(response.body.message).toBe('The model did not draft a valid agent: the answer was not a JSON object.');
    expect(openai.chatBodies().at(-1)!.messages[1].content).toContain("Your previous answer was not usable: the object must have required property 'instructions'");
    expect(await count()).toBe(before);

    openai.script([{ text: '{"name": "Half"}' }, { text: '{"name": "Whole", "instructions": "You do the whole job, carefully."}' }]);
    const retried = await generate({ description: 'Something vague enough.' });
    expect(retried.status).toBe(201);
    expect(retried.body.data.name).toBe('Whole');
  });

  it('validates the request: description, model and account', async () => {
    const short = await generate({ description: 'short' });
    expect(short.status).toBe(422);
    const noModel = await t.request({ method: 'POST', url: '/api/v1/agents/generate', token: owner.token, body: { description: 'A long enough description.' } });
    expect(Object.keys(noModel.body.errors).sort()).toEqual(['account_uuid', 'llm_uuid']);
  });

  it('names a thread from its messages with the agent’s model', async () => {
    const agent = await createAgent(t, owner.token, { llm_uuid: GPT_4O_MINI, account_uuid: account });
    openai.script([{ text: 'Sure, Lisbon in May is lovely.' }]);
    const ran = await t.request({ method: 'POST', url: `/api/v1/agents/${agent.uuid}/run`, token: owner.token, body: { input: 'Plan a trip to Lisbon in May' } });
    const threadId = ran.body.data.thread_uuid;

    openai.script([{ text: '"Lisbon trip in May."' }]);
    const named = await t.request({ method: 'POST', url: `/api/v1/threads/${threadId}/generate-name`, token: owner.token });
    expect(named.status).toBe(200);
    expect(named.body.data).toMatchObject({ uuid: threadId, name: 'Lisbon trip in May' });
    expect(openai.chatBodies().at(-1)!.messages[1].content).toBe('user: Plan a trip to Lisbon in May\nassistant: Sure, Lisbon in May is lovely.');

    const empty = await t.request({ method: 'POST', url: '/api/v1/threads', token: owner.token, body: { agent_uuid: agent.uuid } });
    const refused = await t.request({ method: 'POST', url: `/api/v1/threads/${empty.body.data.uuid}/generate-name`, token: owner.token });
    expect(refused.status).toBe(422);
  });
});
