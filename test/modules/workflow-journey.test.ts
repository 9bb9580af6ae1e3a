import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai-server.js';
import { GPT_4O_MINI, PROVIDERS, connectModelAccount, createAgent, eventually } from '../helpers/ai.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';
import { edge, node } from '../helpers/workflows.js';

const KEY = 'sk-workflow-journey-0123456789';

/**
 * The "done when" as one story: a webhook takes an order, an HTTP API gives the
 * customer's tier, an agent judges the order, the workflow branches on the verdict and answers.
 */
describe.each(DIALECTS)('a workflow that calls an API, asks an agent and branches (%s)', (dialect) => {
  let t: TestApp;
  let user: SignedUp;
  let openai: FakeOpenAi;
  let api: http.Server;
  let apiUrl: string;
  const apiCalls: string[] = [];

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: KEY });
    api = http.createServer((request, response) => {
      apiCalls.push(request.url ?? '');
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ customer: new URL(request.url!, 'http://x').searchParams.get('id'), tier: 'gold' }));
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    t = await createTestApp(dialect, { ATHENA_OUTBOUND_ALLOW: '127.0.0.1' });
    user = await t.signUp();
  });
  afterAll(async () => {
    await t.close();
    await openai.close();
    await new Promise((resolve) => api.close(resolve));
  });

  it('answers the webhook by the agent’s verdict and keeps every step', async () => {
    const account = await connectModelAccount(t, user.token, { provider: PROVIDERS.openai, baseUrl: `${openai.url}/v1`, apiKey: KEY });
    const agent = await createAgent(t, user.token, { name: 'Order judge', instructions: 'Answer APPROVE or REJECT.', llm_uuid: GPT_4O_MINI, account_uuid: account });
    const created = await t.request({
      method: 'POST',
      url: '/api/v1/workflows',
      token: user.token,
      body: {
        name: 'Order approval',
        is_active: true,
        nodes: [
          node('order', 'webhook', { method: 'POST', respond: 'respond_node' }),
          node('customer', 'http_request', { method: 'GET', url: `${apiUrl}/customers`, query: { id: '{{ trigger.body.customer_id }}' } }),
          node('judge', 'agent', { agent_uuid: agent.uuid, message: '{{ "Order of " & $string(trigger.body.amount) & " for a " & input.body.tier & " customer" }}' }),
          node('approved', 'if', { condition: '{{ $contains(input.text, "APPROVE") }}' }),
          node('yes', 'respond', { status: 200, body: { approved: true, tier: '{{ nodes.customer.output.body.tier }}' } }),
          node('no', 'respond', { status: 422, body: { approved: false, reason: '{{ nodes.judge.output.text }}' } }),
        ],
        edges: [edge('order', 'customer'), edge('customer', 'judge'), edge('judge', 'approved'), edge('approved', 'yes', 'true'), edge('approved', 'no', 'false')],
      },
    });
    expect(created.status).toBe(201);
    const hook = new URL(created.body.data.webhook_url);

    openai.script([{ text: 'APPROVE: fine.' }]);
    const approved = await t.request({ method: 'POST', url: `${hook.pathname}${hook.search}`, body: { customer_id: 'c-7', amount: 120 } });
    expect(approved.status).toBe(200);
    expect(approved.body).toEqual({ approved: true, tier: 'gold' });
    expect(apiCalls.at(-1)).toBe('/customers?id=c-7');

    openai.script([{ text: 'REJECT: too large.' }]);
    const rejected = await t.request({ method: 'POST', url: `${hook.pathname}${hook.search}`, body: { customer_id: 'c-8', amount: 99000 } });
    expect(rejected.status).toBe(422);
    expect(rejected.body).toEqual({ approved: false, reason: 'REJECT: too large.' });

    const executions = await t.request({ url: `/api/v1/workflow-executions?filter[workflow_uuid]=${created.body.data.uuid}`, token: user.token });
    expect(executions.body.meta.total).toBe(2);
    const last = await eventually(async () => {
      const response = await t.request({ url: `/api/v1/workflow-executions/${executions.body.data[0].uuid}`, token: user.token });
      return response.body.data.status === 'succeeded' ? response.body.data : undefined;
    });
    expect(last.data.nodes.map((n: any) => n.node_id)).toEqual(['order', 'customer', 'judge', 'approved', 'no']);
    expect(last.data.nodes[2].output).toMatchObject({ text: 'REJECT: too large.' });
  });
});
