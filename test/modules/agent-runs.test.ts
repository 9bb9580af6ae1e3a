import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic-server.js';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai-server.js';
import { CLAUDE_HAIKU, DEEPSEEK_R1, GPT_4O_MINI, PROVIDERS, connectModelAccount, createAgent, parseSse } from '../helpers/ai.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const KEY = 'sk-agent-runs-0123456789';
const MEMORY_SAVE = '01980000-0000-7000-8002-000000000001';

/** gpt-4o-mini's catalog prices: $0.15 and $0.60 per million tokens. */
const costOf = (input: number, output: number) => Math.round(((input * 0.15 + output * 0.6) / 1_000_000) * 1e9) / 1e9;

describe.each(DIALECTS)('agent and thread runs on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let member: SignedUp;
  let openai: FakeOpenAi;
  let anthropic: FakeAnthropic;
  let account: string;
  let agent: any;
  let sharedWorkspace: string;

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: KEY });
    anthropic = await startFakeAnthropic({ apiKey: KEY });
    t = await createTestApp(dialect);
    owner = await t.signUp();
    member = await t.signUp();
    account = await connectModelAccount(t, owner.token, { provider: PROVIDERS.openai, baseUrl: `${openai.url}/v1`, apiKey: KEY });
    agent = await createAgent(t, owner.token, {
      name: 'Travel helper',
      instructions: 'You plan trips for {{ traveller | default: "the user" }}.',
      llm_uuid: GPT_4O_MINI,
      account_uuid: account,
      tools: [MEMORY_SAVE],
    });
    const workspace = await t.request({ method: 'POST', url: '/api/v1/workspaces', token: owner.token, body: { name: 'Shared' } });
    sharedWorkspace = workspace.body.data.uuid;
    await t.request({ method: 'POST', url: `/api/v1/workspaces/${sharedWorkspace}/members`, token: owner.token, body: { email: member.email, role: 'member' } });
  });
  afterAll(async () => {
    await t.close();
    await openai.close();
    await anthropic.close();
  });

  const run = (agentId: string, body: Record<string, unknown>, token = owner.token, headers: Record<string, string> = {}) =>
    t.request({ method: 'POST', url: `/api/v1/agents/${agentId}/run`, token, body, headers });

  it('runs an agent in a new thread and stores the user message, the reply, tokens and cost', async () => {
    openai.script([{ text: 'Pack light for Lisbon.', usage: { input: 120, output: 30 } }]);
    const response = await run(agent.uuid, { input: 'Going to Lisbon, tips?', variables: { traveller: 'Ada' } });

    expect(response.status).toBe(200);
    const result = response.body.data;
    expect(result).toMatchObject({
      kind: 'agent',
      status: 'completed',
      finish_reason: 'stop',
      agent_uuid: agent.uuid,
      llm_uuid: GPT_4O_MINI,
      model_id: 'gpt-4o-mini',
      provider: 'openai',
      output: 'Pack light for Lisbon.',
      steps: 1,
      tool_calls: 0,
      usage: { input_tokens: 120, output_tokens: 30, total_tokens: 150, cost: costOf(120, 30) },
    });
    expect(result.messages.map((m: any) => [m.role, m.content, m.status])).toEqual([
      ['user', 'Going to Lisbon, tips?', 'completed'],
      ['assistant', 'Pack light for Lisbon.', 'completed'],
    ]);
    expect(result.messages[1].usage).toMatchObject({ input_tokens: 120, output_tokens: 30, cost: costOf(120, 30) });

    // What Athena sent: the rendered instructions as the system prompt, then the input.
    const sent = openai.chatBodies().at(-1)!;
    expect(sent.model).toBe('gpt-4o-mini');
    expect(sent.messages[0]).toEqual({ role: 'system', content: 'You plan trips for Ada.' });
    expect(sent.messages.at(-1)).toEqual({ role: 'user', content: 'Going to Lisbon, tips?' });
    expect(sent.tools.map((tool: any) => tool.function.name)).toEqual(['memory_save']);

    const thread = await t.request({ url: `/api/v1/threads/${result.thread_uuid}`, token: owner.token });
    expect(thread.body.data).toMatchObject({ agent_uuid: agent.uuid, message_count: 2, active_run_uuid: null });
    const stored = await t.ctx.db.kysely.selectFrom('runs').selectAll().where('id', '=', result.uuid).executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ status: 'completed', input_tokens: 120, output_tokens: 30, thread_id: result.thread_uuid });
    expect(Number(stored.cost)).toBeCloseTo(costOf(120, 30), 9);
  });

  it('continues a thread: the conversation so far goes back to the model', async () => {
    openai.script([{ text: 'First answer.' }]);
    const first = await run(agent.uuid, { input: 'First question' });
    const threadId = first.body.data.thread_uuid;
    openai.script([{ text: 'Second answer.' }]);
    const second = await t.request({ method: 'POST', url: `/api/v1/threads/${threadId}/run`, token: owner.token, body: { content: 'Second question' } });

    expect(second.status).toBe(200);
    expect(second.body.data).toMatchObject({ kind: 'thread', thread_uuid: threadId, output: 'Second answer.' });
    const sent = openai.chatBodies().at(-1)!.messages.slice(1);
    expect(sent).toEqual([
      { role: 'user', content: 'First question' },
      { role: 'assistant', content: 'First answer.' },
      { role: 'user', content: 'Second question' },
    ]);
    const messages = await t.request({ url: `/api/v1/threads/${threadId}/messages`, token: owner.token });
    expect(messages.body.data.map((m: any) => m.sequence)).toEqual([1, 2, 3, 4]);
  });

  it('streams typed events when asked, with deltas that add up to the stored reply', async () => {
    openai.script([{ text: 'Streaming works fine.', usage: { input: 10, output: 4 } }]);
    const response = await t.request({
      method: 'POST',
      url: `/api/v1/agents/${agent.uuid}/run`,
      token: owner.token,
      body: { input: 'Stream please' },
      headers: { accept: 'text/event-stream' },
    });

    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = parseSse(response.text);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]!.event).toBe('run.started');
    expect(events.at(-1)!.event).toBe('done');
    const deltas = events.filter((e) => e.event === 'message.delta');
    expect(deltas.map((e) => e.data.delta).join('')).toBe('Streaming works fine.');
    const completed = events.find((e) => e.event === 'message.completed')!;
    expect(completed.data.message).toMatchObject({ role: 'assistant', content: 'Streaming works fine.', uuid: deltas[0]!.data.message_uuid });
    expect(completed.data.usage).toMatchObject({ input_tokens: 10, output_tokens: 4 });
    expect(events.at(-1)!.data).toMatchObject({ status: 'completed', output: 'Streaming works fine.' });
  });

  it('streams tool calls and results, and the memory tool writes a memory later runs retrieve', async () => {
    openai.script([
      { toolCalls: [{ name: 'memory_save', input: { content: 'The user is vegetarian.' } }] },
      { text: 'Noted: vegetarian.' },
    ]);
    const response = await run(agent.uuid, { input: 'Remember that I am vegetarian.', stream: true });
    const events = parseSse(response.text);
    const call = events.find((e) => e.event === 'tool.call')!;
    const result = events.find((e) => e.event === 'tool.result')!;
    expect(call.data).toMatchObject({ name: 'memory_save', input: { content: 'The user is vegetarian.' } });
    expect(result.data).toMatchObject({ name: 'memory_save', is_error: false, output: { saved: true } });
    const done = events.at(-1)!.data;
    expect(done.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(done.messages[1].tool_calls).toEqual([{ id: call.data.tool_call_id, name: 'memory_save', input: { content: 'The user is vegetarian.' } }]);
    expect(done.messages[2].tool_result).toMatchObject({ tool_call_id: call.data.tool_call_id, is_error: false });

    const memories = await t.request({ url: `/api/v1/memories?filter[agent]=${agent.uuid}`, token: owner.token });
    expect(memories.body.data.map((m: any) => [m.content, m.source])).toEqual([['The user is vegetarian.', 'tool']]);

    openai.script([{ text: 'Try the vegetarian tasca.' }]);
    await run(agent.uuid, { input: 'Where should a vegetarian eat in Lisbon?' });
    const system = openai.chatBodies().at(-1)!.messages[0].content as string;
    expect(system).toContain('You plan trips for the user.');
    expect(system).toContain('- The user is vegetarian.');
  });

  it('gives training examples as few-shot turns and documents as reference material', async () => {
    const trainee = await createAgent(t, owner.token, { name: 'Support', llm_uuid: GPT_4O_MINI, account_uuid: account });
    const trained = await t.request({
      method: 'POST',
      url: `/api/v1/agents/${trainee.uuid}/train`,
      token: owner.token,
      body: {
        examples: [{ input: 'How do I reset my password?', output: 'Use the reset link on the sign-in page.' }],
        documents: [{ title: 'Refund policy', content: 'Refunds are paid within 14 days of a password reset request.' }],
      },
    });
    expect(trained.status).toBe(201);
    openai.script([{ text: 'Use the reset link.' }]);
    await run(trainee.uuid, { input: 'I forgot my password, how do I reset it?' });
    const sent = openai.chatBodies().at(-1)!.messages;
    expect(sent[0].content).toContain('[Refund policy]\nRefunds are paid within 14 days');
    expect(sent.slice(1, 3)).toEqual([
      { role: 'user', content: 'How do I reset my password?' },
      { role: 'assistant', content: 'Use the reset link on the sign-in page.' },
    ]);
  });

  it('stops at the agent’s step limit and says so', async () => {
    const looping = await createAgent(t, owner.token, {
      name: 'Looper',
      llm_uuid: GPT_4O_MINI,
      account_uuid: account,
      tools: [MEMORY_SAVE],
      settings: { max_steps: 2 },
    });
    openai.script([{ toolCalls: [{ name: 'memory_save', input: { content: 'again' } }] }]);
    const before = openai.calls;
    const response = await run(looping.uuid, { input: 'Loop forever' });

    expect(response.status).toBe(200);
    expect(response.body.data).toMatchObject({ status: 'incomplete', finish_reason: 'step_limit', steps: 2, tool_calls: 2 });
    expect(response.body.data.error).toMatch(/after 2 steps/);
    expect(openai.calls - before).toBe(2);
  });

  it('answers a provider failure with 502 and its reason, stored on the run', async () => {
    openai.script([{ error: { status: 400, message: 'This model does not exist.' } }]);
    const response = await run(agent.uuid, { input: 'Hello?' });

    expect(response.status).toBe(502);
    expect(response.body).toEqual({ message: 'The model provider answered 400 Bad Request: This model does not exist.' });
    const failed = await t.ctx.db.kysely.selectFrom('runs').selectAll().orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    expect(failed).toMatchObject({ status: 'failed', finish_reason: 'error', error: 'The model provider answered 400 Bad Request: This model does not exist.' });
  });

  it('runs on Anthropic’s wire format too', async () => {
    const claudeAccount = await connectModelAccount(t, owner.token, { provider: PROVIDERS.anthropic, baseUrl: `${anthropic.url}/v1`, apiKey: KEY });
    const claude = await createAgent(t, owner.token, { name: 'Claude', instructions: 'Be brief.', llm_uuid: CLAUDE_HAIKU, account_uuid: claudeAccount });
    anthropic.script([{ text: 'Brief answer.', usage: { input: 1000, output: 100 } }]);
    const response = await run(claude.uuid, { input: 'Hi' });

    expect(response.status).toBe(200);
    expect(response.body.data).toMatchObject({ output: 'Brief answer.', provider: 'anthropic', usage: { cost: (1000 * 0.8 + 100 * 4) / 1_000_000 } });
    expect(anthropic.messageBodies().at(-1)).toMatchObject({ model: 'claude-3-5-haiku-20241022', system: [{ type: 'text', text: 'Be brief.' }], stream: true });
  });

  it('refuses images for a model without vision and inlines text files', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
    const upload = (name: string, type: string, content: Buffer) => {
      const boundary = '----athena-test';
      const payload = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`),
        content,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      return t.request({ method: 'POST', url: '/api/v1/media', token: owner.token, payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    };
    const image = await upload('pixel.png', 'image/png', png);
    const notes = await upload('notes.md', 'text/markdown', Buffer.from('# Packing\n- passport\n'));
    expect([image.status, notes.status]).toEqual([201, 201]);

    const blind = await createAgent(t, owner.token, { name: 'Blind', llm_uuid: DEEPSEEK_R1, account_uuid: await connectModelAccount(t, owner.token, { provider: '01980000-0000-7000-8000-000000000006', baseUrl: `${openai.url}/v1`, apiKey: KEY }) });
    const refused = await run(blind.uuid, { input: 'What is in the picture?', attachments: [image.body.data.uuid] });
    expect(refused.status).toBe(422);
    expect(refused.body.errors.attachments[0]).toMatch(/does not accept images/);

    openai.script([{ text: 'Bring your passport.' }]);
    const answered = await run(agent.uuid, { input: 'Check my list', attachments: [notes.body.data.uuid, image.body.data.uuid] });
    expect(answered.status).toBe(200);
    const content = openai.chatBodies().at(-1)!.messages.at(-1).content;
    expect(content[0]).toEqual({ type: 'text', text: 'Check my list' });
    expect(content[1]).toEqual({ type: 'text', text: '--- notes.md ---\n# Packing\n- passport\n' });
    expect(content[2].type).toBe('image_url');
    expect(answered.body.data.messages[0].attachments.map((a: any) => a.media.filename)).toEqual(['notes.md', 'pixel.png']);
  });

  it('validates the request before anything is written', async () => {
    const before = await t.ctx.db.kysely.selectFrom('runs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const noModel = await createAgent(t, owner.token, { name: 'No model' });
    const cases = await Promise.all([
      run(agent.uuid, {}),
      run(agent.uuid, { input: 'x', thread_uuid: '01980000-0000-7000-8000-0000000000ff' }),
      run(agent.uuid, { input: 'x', attachments: ['01980000-0000-7000-8000-0000000000ff'] }),
      run(agent.uuid, { input: 'x', multitask_strategy: 'whenever' }),
      run(noModel.uuid, { input: 'x' }),
    ]);
    expect(cases.map((r) => r.status)).toEqual([422, 422, 422, 422, 422]);
    expect(Object.keys(cases[0]!.body.errors)).toEqual(['input']);
    expect(cases[1]!.body.errors).toEqual({ thread_uuid: ['The selected thread uuid is invalid.'] });
    expect(Object.keys(cases[2]!.body.errors)).toEqual(['attachments.0']);
    expect(cases[4]!.body.errors.llm_uuid[0]).toMatch(/has no model/);
    const after = await t.ctx.db.kysely.selectFrom('runs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it('hides private agents and threads from other members and from other workspaces (404)', async () => {
    const headers = { 'x-workspace-id': sharedWorkspace };
    const sharedAccount = await connectModelAccount(t, owner.token, { provider: PROVIDERS.openai, baseUrl: `${openai.url}/v1`, apiKey: KEY, headers });
    const privateAgent = await createAgent(t, owner.token, { name: 'Mine', llm_uuid: GPT_4O_MINI, account_uuid: sharedAccount, visibility: 'private' }, headers);
    const teamAgent = await createAgent(t, owner.token, { name: 'Team', llm_uuid: GPT_4O_MINI, account_uuid: sharedAccount, visibility: 'workspace' }, headers);

    expect((await run(privateAgent.uuid, { input: 'hi' }, member.token, headers)).status).toBe(404);
    // The member's own primary workspace does not see the shared workspace's agents either.
    expect((await run(teamAgent.uuid, { input: 'hi' }, member.token)).status).toBe(404);

    openai.script([{ text: 'Hello team.' }]);
    const memberRun = await run(teamAgent.uuid, { input: 'hi' }, member.token, headers);
    expect(memberRun.status).toBe(200);
    const threadId = memberRun.body.data.thread_uuid;
    // The member's thread is private to them: the agent's owner cannot read or run it.
    expect((await t.request({ url: `/api/v1/threads/${threadId}`, token: owner.token, headers })).status).toBe(404);
    expect((await t.request({ method: 'POST', url: `/api/v1/threads/${threadId}/run`, token: owner.token, headers, body: { content: 'x' } })).status).toBe(404);
    expect((await t.request({ url: `/api/v1/runs/${memberRun.body.data.uuid}`, token: owner.token, headers })).status).toBe(404);
    expect((await t.request({ url: `/api/v1/runs/${memberRun.body.data.uuid}`, token: member.token, headers })).status).toBe(200);
  });
});
