import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendJson, startFakeServer, type FakeServer } from '../fakes/http-fake.js';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai-server.js';
import { GPT_4O_MINI, PROVIDERS, connectModelAccount, createAgent, eventually } from '../helpers/ai.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';
import { chain, createWorkflow, manualNode, node } from '../helpers/workflows.js';

const KEY = 'sk-workflow-agent-tools-0123456789';

const ORDER_SCHEMA = { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] };

/** agent_tool → set: looks an order up (the set node stands in for the real work). */
const lookupOrderGraph = (extra: Record<string, unknown> = {}) =>
  chain(
    node('tool', 'agent_tool', { name: 'lookup_order', description: 'Finds an order by its id.', input_schema: ORDER_SCHEMA, ...extra }),
    node('found', 'set', { values: { id: '{{ input.order_id }}', status: 'shipped' }, keep_input: false }),
  );

describe.each(DIALECTS)('workflows as agent tools on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let member: SignedUp;
  let openai: FakeOpenAi;
  /** An API that answers `/slow` after `ms` and never answers `/hang`. */
  let api: FakeServer;
  let account: string;
  let lookup: any;

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: KEY });
    api = await startFakeServer(async (request, response) => {
      if (request.path === '/hang') return;
      await new Promise((resolve) => setTimeout(resolve, Number(request.query.get('ms') ?? 0)));
      sendJson(response, 200, { done: true });
    });
    t = await createTestApp(dialect, { ATHENA_WORKFLOW_POLL_MS: '100', ATHENA_OUTBOUND_ALLOW: '127.0.0.1' });
    owner = await t.signUp();
    member = await t.signUp();
    const workspace = owner.user.primary_workspace.uuid;
    await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspace}/members`, token: owner.token, body: { email: member.email, role: 'member' } });
    account = await connectModelAccount(t, owner.token, { provider: PROVIDERS.openai, baseUrl: `${openai.url}/v1`, apiKey: KEY });
    lookup = await createWorkflow(t, owner.token, { name: 'Order lookup', description: 'Looks orders up.', ...lookupOrderGraph() });
  });
  afterAll(async () => {
    await t.close();
    await openai.close();
    await api.close();
  });

  const agentWith = (tools: string[], token = owner.token) =>
    createAgent(t, token, { name: 'Shop assistant', instructions: 'You answer questions about orders.', llm_uuid: GPT_4O_MINI, account_uuid: account, tools });
  const run = (agentUuid: string, input: string) =>
    t.request({ method: 'POST', url: `/api/v1/agents/${agentUuid}/run`, token: owner.token, body: { input } });
  const executionsOf = (workflowUuid: string) =>
    t.ctx.db.kysely.selectFrom('workflow_executions').selectAll().where('workflow_id', '=', workflowUuid).orderBy('created_at').execute();

  it('calls a workflow the agent lists as a tool and hands the workflow’s output to the model', async () => {
    const agent = await agentWith([lookup.uuid]);
    expect(agent.tools).toEqual([lookup.uuid]);
    openai.script([{ toolCalls: [{ name: 'lookup_order', input: { order_id: 'A-17' } }] }, { text: 'Order A-17 has shipped.' }]);

    const response = await run(agent.uuid, 'Where is my order A-17?');

    expect(response.status).toBe(200);
    expect(response.body.data).toMatchObject({ status: 'completed', output: 'Order A-17 has shipped.', tool_calls: 1 });
    const [first, second] = openai.chatBodies().slice(-2);
    expect(first!.tools).toEqual([
      { type: 'function', function: { name: 'lookup_order', description: 'Finds an order by its id.', parameters: expect.objectContaining(ORDER_SCHEMA) } },
    ]);
    const toolMessage = second!.messages.find((m: any) => m.role === 'tool');
    expect(JSON.parse(toolMessage.content)).toEqual({ id: 'A-17', status: 'shipped' });
    const stored = response.body.data.messages.find((m: any) => m.role === 'tool');
    expect(stored.tool_result).toMatchObject({ name: 'lookup_order', is_error: false, output: { id: 'A-17', status: 'shipped' } });

    const [execution] = await executionsOf(lookup.uuid);
    expect(execution).toMatchObject({ status: 'succeeded', trigger: 'agent', trigger_node_id: 'tool', user_id: owner.user.id });
    const retrieved = await t.request({ url: `/api/v1/workflow-executions/${execution!.id}`, token: owner.token });
    expect(retrieved.body.data.data.trigger_data).toEqual({ order_id: 'A-17' });
    expect(retrieved.body.data.output).toEqual({ id: 'A-17', status: 'shipped' });
  });

  it('accepts only workflows with an agent_tool trigger that the agent’s creator may run', async () => {
    const plain = await createWorkflow(t, owner.token, { ...chain(manualNode('start'), node('noop', 'set', { values: { a: 1 } })) });
    const disabled = await createWorkflow(t, owner.token, { ...lookupOrderGraph(), nodes: [{ ...lookupOrderGraph().nodes[0]!, disabled: true }, lookupOrderGraph().nodes[1]!] });
    const privateOfOwner = await createWorkflow(t, owner.token, { ...lookupOrderGraph(), visibility: 'private' });
    const shared = await createWorkflow(t, owner.token, { ...lookupOrderGraph(), visibility: 'workspace' });

    const refused = await t.request({
      method: 'POST',
      url: '/api/v1/agents',
      token: owner.token,
      body: { name: 'Bad tools', instructions: 'x', tools: [lookup.uuid, plain.uuid, disabled.uuid, '01980000-0000-7000-8000-0000000000ff'] },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual({
      'tools.1': ['The selected tools.1 is invalid.'],
      'tools.2': ['The selected tools.2 is invalid.'],
      'tools.3': ['The selected tools.3 is invalid.'],
    });

    // A member may give their agent a workflow of the workspace, not the owner's private one.
    const theirs = await t.request({
      method: 'POST',
      url: '/api/v1/agents',
      token: member.token,
      headers: { 'x-workspace-id': owner.user.primary_workspace.uuid },
      body: { name: 'Theirs', instructions: 'x', tools: [shared.uuid, privateOfOwner.uuid] },
    });
    expect(theirs.status).toBe(422);
    expect(Object.keys(theirs.body.errors)).toEqual(['tools.1']);
  });

  it('names a tool without a name after its workflow, with any object as input', async () => {
    const bare = await createWorkflow(t, owner.token, {
      name: 'Echo',
      description: 'Echoes what it gets.',
      ...chain(node('tool', 'agent_tool', {}), node('echo', 'set', { values: { echoed: true } })),
    });
    const agent = await agentWith([bare.uuid]);
    openai.script([{ toolCalls: [{ name: `workflow_${bare.uuid.replace(/-/g, '').slice(-8)}`, input: { anything: [1, 2] } }] }, { text: 'Done.' }]);

    const response = await run(agent.uuid, 'Echo something');

    expect(response.body.data.output).toBe('Done.');
    const sent = openai.chatBodies().at(-2)!.tools[0].function;
    expect(sent).toMatchObject({ name: `workflow_${bare.uuid.replace(/-/g, '').slice(-8)}`, description: 'Echoes what it gets.', parameters: { type: 'object' } });
    const tool = response.body.data.messages.find((m: any) => m.role === 'tool');
    expect(tool.tool_result.output).toEqual({ anything: [1, 2], echoed: true });
  });

  it('tells the model when the workflow fails, and the run goes on', async () => {
    const failing = await createWorkflow(t, owner.token, {
      ...chain(node('tool', 'agent_tool', { name: 'charge_card' }), node('charge', 'code', { code: 'throw new Error("card declined")' })),
    });
    const agent = await agentWith([failing.uuid]);
    openai.script([{ toolCalls: [{ name: 'charge_card', input: {} }] }, { text: 'The card was declined.' }]);

    const response = await run(agent.uuid, 'Charge the card');

    expect(response.body.data).toMatchObject({ status: 'completed', output: 'The card was declined.' });
    const tool = response.body.data.messages.find((m: any) => m.role === 'tool');
    expect(tool.tool_result.is_error).toBe(true);
    expect(tool.tool_result.output.error).toContain('The workflow "Greeting workflow" failed');
    expect(tool.tool_result.output.error).toContain('card declined');
  });

  it('gives up waiting after the workflow’s timeout and names the execution, which goes on', async () => {
    const slow = await createWorkflow(t, owner.token, {
      settings: { webhook_timeout_ms: 1000 },
      ...chain(node('tool', 'agent_tool', { name: 'slow_report' }), node('work', 'http_request', { url: `${api.url}/slow?ms=2500` })),
    });
    const agent = await agentWith([slow.uuid]);
    openai.script([{ toolCalls: [{ name: 'slow_report', input: {} }] }, { text: 'Still running.' }]);

    const response = await run(agent.uuid, 'Make the report');

    const tool = response.body.data.messages.find((m: any) => m.role === 'tool');
    const [execution] = await executionsOf(slow.uuid);
    expect(tool.tool_result).toMatchObject({ is_error: true, output: { error: expect.stringContaining(`execution ${execution!.id}`) } });
    expect(tool.tool_result.output.error).toContain('did not finish in time');
    const finished = await eventually(async () => {
      const rows = await executionsOf(slow.uuid);
      return rows[0]!.status === 'succeeded' ? rows[0] : undefined;
    });
    expect(finished.status).toBe('succeeded');
  });

  it('tells the model when the workflow parks on a wait', async () => {
    const approval = await createWorkflow(t, owner.token, {
      ...chain(node('tool', 'agent_tool', { name: 'ask_approval' }), node('approve', 'wait', { mode: 'resume' })),
    });
    const agent = await agentWith([approval.uuid]);
    openai.script([{ toolCalls: [{ name: 'ask_approval', input: { amount: 10 } }] }, { text: 'Waiting for approval.' }]);

    const response = await run(agent.uuid, 'Refund 10');

    const tool = response.body.data.messages.find((m: any) => m.role === 'tool');
    const [execution] = await executionsOf(approval.uuid);
    expect(execution!.status).toBe('waiting');
    expect(tool.tool_result).toMatchObject({ is_error: true, output: { error: `The workflow "Greeting workflow" is waiting (execution ${execution!.id}); its result will not come back to this call.` } });
  });

  it('cancels the execution when the run is cancelled mid-call', async () => {
    const endless = await createWorkflow(t, owner.token, {
      settings: { webhook_timeout_ms: 60_000 },
      ...chain(node('tool', 'agent_tool', { name: 'endless' }), node('call', 'http_request', { url: `${api.url}/hang` })),
    });
    const agent = await agentWith([endless.uuid]);
    openai.script([{ toolCalls: [{ name: 'endless', input: {} }] }, { text: 'Stopped.' }]);

    const pending = run(agent.uuid, 'Spin');
    const execution = await eventually(async () => (await executionsOf(endless.uuid)).find((row) => row.status === 'running'));
    const active = await t.ctx.db.kysely.selectFrom('runs').selectAll().where('agent_id', '=', agent.uuid).where('status', '=', 'running').executeTakeFirstOrThrow();
    const cancelled = await t.request({ method: 'POST', url: `/api/v1/threads/${active.thread_id}/cancel`, token: owner.token });

    expect(cancelled.status).toBe(200);
    expect((await pending).body.data.status).toBe('cancelled');
    const stopped = await eventually(async () => {
      const row = await t.ctx.db.kysely.selectFrom('workflow_executions').selectAll().where('id', '=', execution.id).executeTakeFirst();
      return row && row.status !== 'running' ? row : undefined;
    });
    expect(stopped.status).toBe('canceled');
  });

  it('lets an agent node inside a workflow call another workflow as its tool', async () => {
    const agent = await agentWith([lookup.uuid]);
    const outer = await createWorkflow(t, owner.token, {
      ...chain(manualNode('start'), node('ask', 'agent', { agent_uuid: agent.uuid, message: 'Status of {{ input.order }}?' })),
    });
    openai.script([{ toolCalls: [{ name: 'lookup_order', input: { order_id: 'B-2' } }] }, { text: 'B-2 has shipped.' }]);

    const response = await t.request({ method: 'POST', url: `/api/v1/workflows/${outer.uuid}/execute`, token: owner.token, body: { input: { order: 'B-2' }, wait: true } });

    expect(response.body.data).toMatchObject({ status: 'succeeded', output: { text: 'B-2 has shipped.' } });
    const inner = (await executionsOf(lookup.uuid)).at(-1)!;
    expect(inner).toMatchObject({ status: 'succeeded', trigger: 'agent' });
  });

  it('drops a workflow from a run once it loses its agent_tool trigger', async () => {
    const changing = await createWorkflow(t, owner.token, { ...lookupOrderGraph() });
    const agent = await agentWith([changing.uuid]);
    const updated = await t.request({
      method: 'PUT',
      url: `/api/v1/workflows/${changing.uuid}`,
      token: owner.token,
      body: { ...chain(manualNode('start'), node('found', 'set', { values: { a: 1 } })) },
    });
    expect(updated.status).toBe(200);
    openai.script([{ text: 'No tools here.' }]);

    await run(agent.uuid, 'hello');

    expect(openai.chatBodies().at(-1)!.tools).toBeUndefined();
  });
});
