import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastUserText, startFakeOpenAi, type FakeOpenAi } from '../fakes/openai-server.js';
import { GPT_4O_MINI, PROVIDERS, connectModelAccount, createAgent } from '../helpers/ai.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const KEY = 'sk-workflow-generate-0123456789';

/** webhook → agent → if → two responds: the kind of graph a model drafts for a support inbox. */
function supportDraft(agentUuid: string) {
  return {
    name: 'Support triage',
    description: 'Asks the triage agent about each ticket and answers by urgency.',
    nodes: [
      { id: 'ticket', type: 'webhook', name: 'New ticket', parameters: { method: 'POST', respond: 'respond_node' } },
      { id: 'triage', type: 'agent', name: 'Triage', parameters: { agent_uuid: agentUuid, message: 'Is this urgent? {{ trigger.body.text }}' } },
      { id: 'urgent', type: 'if', name: 'Urgent?', parameters: { condition: "{{ $contains($lowercase(input.text), 'urgent') }}" } },
      { id: 'page', type: 'respond', name: 'Page on-call', parameters: { status: 202, body: { routed: 'on-call' } } },
      { id: 'queue', type: 'respond', name: 'Queue', parameters: { body: { routed: 'queue' } } },
    ],
    edges: [
      { id: 'e1', source: 'ticket', target: 'triage' },
      { id: 'e2', source: 'triage', target: 'urgent' },
      { id: 'e3', source: 'urgent', target: 'page', source_handle: 'true' },
      { id: 'e4', source: 'urgent', target: 'queue', source_handle: 'false' },
    ],
  };
}

describe.each(DIALECTS)('workflow generation on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let openai: FakeOpenAi;
  let account: string;
  let agent: any;

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: KEY });
    t = await createTestApp(dialect);
    owner = await t.signUp();
    account = await connectModelAccount(t, owner.token, { provider: PROVIDERS.openai, baseUrl: `${openai.url}/v1`, apiKey: KEY });
    agent = await createAgent(t, owner.token, { name: 'Ticket triage', description: 'Sorts support tickets.', llm_uuid: GPT_4O_MINI, account_uuid: account });
  });
  afterAll(async () => {
    await t.close();
    await openai.close();
  });

  const generate = (body: Record<string, unknown>, token = owner.token) =>
    t.request({ method: 'POST', url: '/api/v1/workflows/generate', token, body: { llm_uuid: GPT_4O_MINI, account_uuid: account, ...body } });

  it('drafts a valid graph from the node catalog that can be saved as it is', async () => {
    openai.script([{ text: JSON.stringify(supportDraft(agent.uuid)), usage: { input: 3000, output: 400 } }]);

    const response = await generate({ description: 'Triage support tickets from our helpdesk webhook and page on-call for urgent ones.' });

    expect(response.status).toBe(200);
    const draft = response.body.data;
    expect(draft).toMatchObject({ name: 'Support triage', description: 'Asks the triage agent about each ticket and answers by urgency.' });
    expect(draft.nodes.map((n: any) => [n.id, n.type])).toEqual([
      ['ticket', 'webhook'],
      ['triage', 'agent'],
      ['urgent', 'if'],
      ['page', 'respond'],
      ['queue', 'respond'],
    ]);
    // Every field filled in, positions laid out by depth from the trigger.
    expect(draft.nodes[0]).toEqual({
      id: 'ticket',
      type: 'webhook',
      name: 'New ticket',
      position: { x: 0, y: 0 },
      parameters: { method: 'POST', respond: 'respond_node' },
      retry: null,
      on_error: 'stop',
      disabled: false,
      notes: null,
    });
    expect(draft.nodes.map((n: any) => n.position.x)).toEqual([0, 280, 560, 840, 840]);
    expect(draft.nodes[4].position.y).toBe(160);
    expect(draft.edges[2]).toEqual({ id: 'e3', source: 'urgent', target: 'page', source_handle: 'true', target_handle: null });
    expect(response.body.meta).toEqual({ run_uuid: expect.any(String), attempts: 1 });

    // The model was told the catalog, the expression language and the agents it may use.
    const sent = openai.chatBodies().at(-1)!;
    const system = sent.messages[0].content as string;
    for (const type of ['manual', 'webhook', 'schedule', 'agent_tool', 'http_request', 'code', 'loop', 'respond', 'agent', 'prompt']) {
      expect(system).toContain(`### ${type} (`);
    }
    expect(system).toContain('JSONata');
    expect(system).toContain(`- ${agent.uuid}: Ticket triage — Sorts support tickets.`);
    expect(sent.response_format).toMatchObject({ type: 'json_object' });
    expect(lastUserText(sent)).toContain('page on-call for urgent ones');

    const run = await t.ctx.db.kysely.selectFrom('runs').selectAll().where('id', '=', response.body.meta.run_uuid).executeTakeFirstOrThrow();
    expect(run).toMatchObject({ kind: 'generate', status: 'completed', input_tokens: 3000, output_tokens: 400, user_id: owner.user.id });

    const saved = await t.request({ method: 'POST', url: '/api/v1/workflows', token: owner.token, body: { name: draft.name, description: draft.description, nodes: draft.nodes, edges: draft.edges } });
    expect(saved.status).toBe(201);
  });

  it('hands the problems back to the model and returns the repaired draft', async () => {
    const broken = supportDraft(agent.uuid);
    broken.nodes[3] = { ...broken.nodes[3]!, type: 'send_pager' };
    broken.edges.push({ id: 'e5', source: 'queue', target: 'nowhere' });
    openai.script([{ text: JSON.stringify(broken) }, { text: `\`\`\`json\n${JSON.stringify(supportDraft(agent.uuid))}\n\`\`\`` }]);

    const response = await generate({ description: 'Triage support tickets and page on-call.' });

    expect(response.status).toBe(200);
    expect(response.body.meta.attempts).toBe(2);
    expect(response.body.data.nodes[3].type).toBe('respond');
    const repair = lastUserText(openai.chatBodies().at(-1)!);
    expect(repair).toContain('Triage support tickets and page on-call.');
    expect(repair).toContain('"send_pager"');
    expect(repair).toContain('nodes.3.type: Node "page" (Page on-call) has an unknown type "send_pager".');
    expect(repair).toMatch(/edges\.4\.target: .*nowhere/);
  });

  it('refuses uuids the model made up for agents, prompts and workflows', async () => {
    const invented = supportDraft('01980000-0000-7000-8000-0000000000ee');
    openai.script([{ text: JSON.stringify(invented) }, { text: JSON.stringify(supportDraft(agent.uuid)) }]);

    const response = await generate({ description: 'Triage tickets with an agent.' });

    expect(response.body.meta.attempts).toBe(2);
    expect(lastUserText(openai.chatBodies().at(-1)!)).toContain(
      'nodes.1.parameters.agent_uuid: Node "triage" (Triage): 01980000-0000-7000-8000-0000000000ee is not an agent the user can run; use one of the listed uuids.',
    );
  });

  it('answers 422 naming the problems when no repair works, after three model calls', async () => {
    openai.script([
      { text: 'I would build a webhook that calls your agent.' },
      { text: JSON.stringify({ name: 'Loop', nodes: [{ id: 'a', type: 'manual' }, { id: 'b', type: 'set', parameters: { values: {} } }, { id: 'c', type: 'set', parameters: { values: {} } }], edges: [{ source: 'a', target: 'b' }, { source: 'b', target: 'c' }, { source: 'c', target: 'b' }] }) },
    ]);
    const before = openai.calls;

    const response = await generate({ description: 'Something that loops forever.' });

    expect(response.status).toBe(422);
    expect(openai.calls - before).toBe(3);
    expect(response.body.message).toMatch(/^The model did not draft a valid workflow in 3 attempts: Edges "b-c", "c-b" form a cycle/);
    expect(Object.keys(response.body.errors)).toEqual(['edges.2']);
    expect(response.body.errors['edges.2'][0]).toContain('a cycle must go through a loop node');
    // The first answer was prose: the model heard so.
    expect(lastUserText(openai.chatBodies().at(-2)!)).toContain('draft: The answer was not one JSON object.');
  });

  it('drafts with the caller’s own account and a model of its provider when none is named', async () => {
    openai.script([{ text: JSON.stringify(supportDraft(agent.uuid)) }]);

    const response = await t.request({ method: 'POST', url: '/api/v1/workflows/generate', token: owner.token, body: { description: 'Triage support tickets by urgency.' } });

    expect(response.status).toBe(200);
    const run = await t.ctx.db.kysely.selectFrom('runs').selectAll().where('id', '=', response.body.meta.run_uuid).executeTakeFirstOrThrow();
    expect(run).toMatchObject({ account_id: account, provider_slug: 'openai' });

    const stranger = await t.signUp();
    const refused = await t.request({ method: 'POST', url: '/api/v1/workflows/generate', token: stranger.token, body: { description: 'Triage support tickets by urgency.' } });
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual({ llm_uuid: ['No connected account with a language model to draft with: send llm_uuid and account_uuid.'] });
  });

  it('answers 502 with the provider’s reason when the model call fails', async () => {
    openai.script([{ error: { status: 400, message: 'Invalid schema for response_format.' } }]);
    const response = await generate({ description: 'Triage support tickets by urgency.' });
    expect(response.status).toBe(502);
    expect(response.body.message).toContain('Invalid schema for response_format.');
  });
});
