import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastUserText, startFakeOpenAi, type FakeOpenAi } from '../fakes/openai-server.js';
import { GPT_4O_MINI, PROVIDERS, connectModelAccount, createAgent, eventually } from '../helpers/ai.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';
import { chain, createWorkflow, manualNode, node } from '../helpers/workflows.js';

const KEY = 'sk-workflow-ai-nodes-0123456789';

/** gpt-4o-mini's catalog prices: $0.15 and $0.60 per million tokens. */
const costOf = (input: number, output: number) => Math.round(((input * 0.15 + output * 0.6) / 1_000_000) * 1e9) / 1e9;

describe.each(DIALECTS)('prompt and agent nodes on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let openai: FakeOpenAi;
  let account: string;
  let agent: any;
  let prompt: any;
  let jsonPrompt: any;

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: KEY });
    t = await createTestApp(dialect, { ATHENA_WORKFLOW_POLL_MS: '100' });
    owner = await t.signUp();
    account = await connectModelAccount(t, owner.token, { provider: PROVIDERS.openai, baseUrl: `${openai.url}/v1`, apiKey: KEY });
    agent = await createAgent(t, owner.token, { name: 'Triage', instructions: 'You triage support tickets.', llm_uuid: GPT_4O_MINI, account_uuid: account, visibility: 'workspace' });
    const created = await t.request({
      method: 'POST',
      url: '/api/v1/prompts',
      token: owner.token,
      body: {
        name: 'Summarizer',
        content: 'Summarize for {{ audience }}: {{ text }}',
        variables: [{ name: 'audience', default: 'engineers' }, { name: 'text' }],
        llm_uuid: GPT_4O_MINI,
        account_uuid: account,
        visibility: 'workspace',
      },
    });
    expect(created.status).toBe(201);
    prompt = created.body.data;
    const json = await t.request({
      method: 'POST',
      url: '/api/v1/prompts',
      token: owner.token,
      body: { name: 'Classifier', content: 'Classify: {{ text }}', llm_uuid: GPT_4O_MINI, account_uuid: account, settings: { json_output: true } },
    });
    expect(json.status).toBe(201);
    jsonPrompt = json.body.data;
  });
  afterAll(async () => {
    await t.close();
    await openai.close();
  });

  const execute = (workflowUuid: string, input: unknown, token = owner.token) =>
    t.request({ method: 'POST', url: `/api/v1/workflows/${workflowUuid}/execute`, token, body: { input, wait: true } });
  const retrieve = (uuid: string) => t.request({ url: `/api/v1/workflow-executions/${uuid}`, token: owner.token });
  const storedRun = (uuid: string) => t.ctx.db.kysely.selectFrom('runs').selectAll().where('id', '=', uuid).executeTakeFirst();

  it('runs a prompt node with variables from expressions and outputs its text, usage and run', async () => {
    const workflow = await createWorkflow(t, owner.token, {
      ...chain(manualNode('start'), node('summary', 'prompt', { prompt_uuid: prompt.uuid, variables: { text: '{{ input.ticket }}' } })),
    });
    openai.script([{ text: 'Login fails after the update.', usage: { input: 30, output: 8 } }]);

    const response = await execute(workflow.uuid, { ticket: 'Users cannot log in since 2.3' });

    expect(response.status).toBe(200);
    expect(response.body.data.status).toBe('succeeded');
    const output = response.body.data.output;
    expect(output).toEqual({
      text: 'Login fails after the update.',
      json: null,
      usage: { input_tokens: 30, output_tokens: 8, total_tokens: 38, cost: costOf(30, 8) },
      run_uuid: expect.any(String),
    });
    expect(lastUserText(openai.chatBodies().at(-1)!)).toBe('Summarize for engineers: Users cannot log in since 2.3');
    const run = await storedRun(output.run_uuid);
    expect(run).toMatchObject({ kind: 'prompt', status: 'completed', prompt_id: prompt.uuid, user_id: owner.user.id, output: 'Login fails after the update.' });
    const data = (await retrieve(response.body.data.uuid)).body.data.data;
    expect(data.nodes.map((n: any) => [n.node_id, n.status])).toEqual([
      ['start', 'succeeded'],
      ['summary', 'succeeded'],
    ]);
    expect(data.nodes[1].output.text).toBe('Login fails after the update.');
  });

  it('parses the reply of a prompt that asks for JSON, and later nodes read it', async () => {
    const workflow = await createWorkflow(t, owner.token, {
      ...chain(
        manualNode('start'),
        node('classify', 'prompt', { prompt_uuid: jsonPrompt.uuid, variables: { text: '{{ input.ticket }}' } }),
        node('route', 'set', { values: { route: '{{ input.json.queue & "/" & $string(input.json.priority) }}' }, keep_input: false }),
      ),
    });
    openai.script([{ text: '{"queue": "billing", "priority": 2}' }]);

    const response = await execute(workflow.uuid, { ticket: 'I was charged twice' });

    expect(response.body.data).toMatchObject({ status: 'succeeded', output: { route: 'billing/2' } });
    const nodes = (await retrieve(response.body.data.uuid)).body.data.data.nodes;
    expect(nodes[1].output.json).toEqual({ queue: 'billing', priority: 2 });
    expect(openai.chatBodies().at(-1)!.response_format).toMatchObject({ type: 'json_object' });
  });

  it('asks an agent in a new thread, then continues that thread from a later node', async () => {
    const workflow = await createWorkflow(t, owner.token, {
      ...chain(
        manualNode('start'),
        node('ask', 'agent', { agent_uuid: agent.uuid, message: 'Ticket: {{ input.ticket }}' }),
        node('follow_up', 'agent', { agent_uuid: agent.uuid, message: 'And the priority?', thread_uuid: '{{ nodes.ask.output.thread_uuid }}' }),
      ),
    });
    openai.script([
      { text: 'This is a login problem.', usage: { input: 50, output: 6 } },
      { text: 'High priority.', usage: { input: 70, output: 3 } },
    ]);

    const response = await execute(workflow.uuid, { ticket: 'Cannot log in' });

    expect(response.body.data.status).toBe('succeeded');
    const nodes = (await retrieve(response.body.data.uuid)).body.data.data.nodes;
    const first = nodes[1].output;
    expect(first).toEqual({
      text: 'This is a login problem.',
      thread_uuid: expect.any(String),
      run_uuid: expect.any(String),
      usage: { input_tokens: 50, output_tokens: 6, total_tokens: 56, cost: costOf(50, 6) },
    });
    expect(response.body.data.output).toMatchObject({ text: 'High priority.', thread_uuid: first.thread_uuid });
    // The second call carried the conversation so far, after the agent's instructions.
    const sent = openai.chatBodies().at(-1)!.messages;
    expect(sent[0]).toEqual({ role: 'system', content: 'You triage support tickets.' });
    expect(sent.slice(1)).toEqual([
      { role: 'user', content: 'Ticket: Cannot log in' },
      { role: 'assistant', content: 'This is a login problem.' },
      { role: 'user', content: 'And the priority?' },
    ]);
    const thread = await t.request({ url: `/api/v1/threads/${first.thread_uuid}`, token: owner.token });
    expect(thread.body.data).toMatchObject({ agent_uuid: agent.uuid, message_count: 4 });
    expect(await storedRun(first.run_uuid)).toMatchObject({ kind: 'agent', status: 'completed', agent_id: agent.uuid, user_id: owner.user.id });
  });

  it('sends an object message as JSON', async () => {
    const workflow = await createWorkflow(t, owner.token, {
      ...chain(manualNode('start'), node('ask', 'agent', { agent_uuid: agent.uuid, message: '{{ input }}' })),
    });
    openai.script([{ text: 'ok' }]);
    const response = await execute(workflow.uuid, { id: 7, subject: 'Refund' });
    expect(response.body.data.status).toBe('succeeded');
    expect(lastUserText(openai.chatBodies().at(-1)!)).toBe('{"id":7,"subject":"Refund"}');
  });

  it('fails the node with the provider’s reason when the model call fails', async () => {
    const workflow = await createWorkflow(t, owner.token, {
      ...chain(manualNode('start'), node('ask', 'agent', { agent_uuid: agent.uuid, message: 'hello' })),
    });
    openai.script([{ error: { status: 400, message: 'This model’s maximum context length is 128000 tokens.', type: 'invalid_request_error' } }]);

    const response = await execute(workflow.uuid, {});

    expect(response.body.data.status).toBe('failed');
    expect(response.body.data.error).toMatchObject({ node_id: 'ask', kind: 'node' });
    expect(response.body.data.error.message).toContain('The agent run failed');
    expect(response.body.data.error.message).toContain('maximum context length');
  });

  it('fails the node naming an agent or prompt the workflow’s user cannot use', async () => {
    const missing = '01980000-0000-7000-8000-0000000000ff';
    const agentFlow = await createWorkflow(t, owner.token, { ...chain(manualNode('start'), node('ask', 'agent', { agent_uuid: missing, message: 'hi' })) });
    const agentRun = await execute(agentFlow.uuid, {});
    expect(agentRun.body.data.status).toBe('failed');
    expect(agentRun.body.data.error.message).toBe(`Agent ${missing} was not found, or the workflow's user may not see it.`);

    const promptFlow = await createWorkflow(t, owner.token, { ...chain(manualNode('start'), node('ask', 'prompt', { prompt_uuid: prompt.uuid })) });
    const promptRun = await execute(promptFlow.uuid, {});
    expect(promptRun.body.data.status).toBe('failed');
    // The required `text` variable has no value: the prompt's own 422, as the node's error.
    expect(promptRun.body.data.error.message).toContain(`Prompt ${prompt.uuid} could not run: variables.text`);
  });

  it('stops the model call when the execution is cancelled, and stores the run as cancelled', async () => {
    const workflow = await createWorkflow(t, owner.token, { ...chain(manualNode('start'), node('ask', 'agent', { agent_uuid: agent.uuid, message: 'think hard' })) });
    openai.script([{ hang: true }]);
    const started = await t.request({ method: 'POST', url: `/api/v1/workflows/${workflow.uuid}/execute`, token: owner.token, body: { input: {} } });
    expect(started.status).toBe(202);
    const executionId = started.body.data.uuid;
    const run = await eventually(async () =>
      t.ctx.db.kysely.selectFrom('runs').selectAll().where('agent_id', '=', agent.uuid).where('status', '=', 'running').executeTakeFirst(),
    );

    const cancelled = await t.request({ method: 'POST', url: `/api/v1/workflow-executions/${executionId}/cancel`, token: owner.token });

    expect(cancelled.status).toBe(200);
    const stored = await eventually(async () => {
      const row = await storedRun(run.id);
      return row?.status !== 'running' ? row : undefined;
    });
    expect(stored).toMatchObject({ status: 'cancelled', finish_reason: 'cancelled' });
    const execution = await eventually(async () => {
      const current = (await retrieve(executionId)).body.data;
      return current.status === 'canceled' ? current : undefined;
    });
    expect(execution.status).toBe('canceled');
  });
});
