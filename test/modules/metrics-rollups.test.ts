import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildRollups } from '../../src/modules/metrics/rebuild.js';
import { readRollups } from '../../src/modules/metrics/rollups.js';
import { bucketOf, SERIES, type SeriesName } from '../../src/modules/metrics/series.js';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai-server.js';
import { GPT_4O_MINI, PROVIDERS, connectModelAccount, createAgent } from '../helpers/ai.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';
import { chain, createWorkflow, manualNode, node, setNode, webhookNode } from '../helpers/workflows.js';

const KEY = 'sk-metrics-rollups-0123456789';
const SERIES_NAMES = Object.keys(SERIES) as SeriesName[];

async function eventually<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

type Row = Record<string, unknown>;

/** Rows keyed `dim owner bucket`, counters rounded, rows whose counters are all zero left out (a rating set then cleared leaves one). */
function normalized(rows: Row[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const row of rows) {
    const { workspace_id, dim, owner_id, bucket, ...counters } = row;
    const values = Object.fromEntries(Object.entries(counters).map(([name, value]) => [name, Math.round(Number(value) * 1e9) / 1e9 + 0]));
    if (Object.values(values).every((v) => v === 0)) continue;
    out[`${String(workspace_id)} ${String(dim) || "''"} ${String(owner_id)} ${String(bucket)}`] = values;
  }
  return out;
}

/** The sum of one counter over the rows of a dimension and owner (all buckets). */
function total(rows: Row[], dim: string, counter: string, owner?: number): number {
  return rows.filter((r) => r.dim === dim && (owner === undefined || Number(r.owner_id) === owner)).reduce((sum, r) => sum + Number(r[counter]), 0);
}

describe.each(DIALECTS)('metrics rollups kept in the write transactions (%s)', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let member: SignedUp;
  let openai: FakeOpenAi;
  let account: string;
  let workspaceId: string;
  const live: Partial<Record<SeriesName, Row[]>> = {};

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: KEY });
    t = await createTestApp(dialect, { ATHENA_WORKFLOW_POLL_MS: '100' });
    owner = await t.signUp();
    member = await t.signUp();
    account = await connectModelAccount(t, owner.token, { provider: PROVIDERS.openai, baseUrl: `${openai.url}/v1`, apiKey: KEY });
    const workspaces = await t.request({ url: '/api/v1/workspaces', token: owner.token });
    workspaceId = workspaces.body.data[0].uuid;
    const invited = await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspaceId}/members`, token: owner.token, body: { email: member.email, role: 'member' } });
    if (invited.status !== 201 && invited.status !== 200) throw new Error(`invite failed: ${invited.status} ${invited.text}`);
  });
  afterAll(async () => {
    await t.close();
    await openai.close();
  });

  const as = (user: SignedUp) => ({ token: user.token, headers: { 'x-workspace-id': workspaceId } });
  const read = async (series: SeriesName) => readRollups(t.ctx.db.kysely, series, workspaceId);
  const execute = (workflowId: string) =>
    t.request({ method: 'POST', url: `/api/v1/workflows/${workflowId}/execute`, ...as(owner), body: { input: { n: 1 }, wait: true } });
  const execution = (id: string) => t.request({ url: `/api/v1/workflow-executions/${id}`, ...as(owner) });
  const agentRun = (agentId: string, body: Record<string, unknown>) => t.request({ method: 'POST', url: `/api/v1/agents/${agentId}/run`, ...as(owner), body });
  const threadRun = (threadId: string, body: Record<string, unknown>) => t.request({ method: 'POST', url: `/api/v1/threads/${threadId}/run`, ...as(owner), body });
  const messagesOf = async (threadId: string) => (await t.request({ url: `/api/v1/threads/${threadId}/messages`, ...as(owner) })).body.data as any[];
  const rate = (user: SignedUp, threadId: string, messageId: string, feedback: 'up' | 'down' | null) =>
    t.request({ method: 'PUT', url: `/api/v1/threads/${threadId}/messages/${messageId}`, ...as(user), body: { feedback } });

  const workflows = {} as Record<'ok' | 'broken' | 'hold' | 'hook', any>;
  const agents = {} as Record<'main' | 'other', any>;
  const threads = {} as Record<'main' | 'failed' | 'notes', string>;

  it('counts executions as they end: succeeded, failed, cancelled while waiting, and a burst of webhooks in group commits', async () => {
    workflows.ok = await createWorkflow(t, owner.token, { name: 'ok', ...chain(manualNode('start'), setNode('s', { v: 1 })) }, workspaceId);
    workflows.broken = await createWorkflow(t, owner.token, { name: 'broken', ...chain(manualNode('start'), node('boom', 'transform', { output: '{{ $boom(input) }}' })) }, workspaceId);
    workflows.hold = await createWorkflow(t, owner.token, { name: 'hold', ...chain(manualNode('start'), node('hold', 'wait', { mode: 'resume' })) }, workspaceId);
    workflows.hook = await createWorkflow(t, owner.token, { name: 'hook', is_active: true, ...chain(webhookNode('hook'), setNode('s', { v: 2 })) }, workspaceId);

    for (let i = 0; i < 3; i++) expect((await execute(workflows.ok.uuid)).body.data.status).toBe('succeeded');
    for (let i = 0; i < 2; i++) expect((await execute(workflows.broken.uuid)).body.data.status).toBe('failed');
    const held = await execute(workflows.hold.uuid);
    await eventually(async () => (await execution(held.body.data.uuid)).body.data.status === 'waiting');
    const cancelled = await t.request({ method: 'POST', url: `/api/v1/workflow-executions/${held.body.data.uuid}/cancel`, ...as(owner) });
    expect(cancelled.body.data.status).toBe('canceled');

    const url = new URL(workflows.hook.webhook_url);
    const calls = await Promise.all(Array.from({ length: 20 }, (_, n) => t.request({ method: 'POST', url: `${url.pathname}${url.search}`, body: { n } })));
    expect(calls.every((c) => c.status === 200)).toBe(true);
    await eventually(async () => {
      const counts = await t.request({ url: `/api/v1/workflow-executions/counts?workflow_uuid=${workflows.hook.uuid}`, ...as(owner) });
      return counts.body.data.by_status.succeeded === 20;
    });

    const rows = await read('executions');
    expect(total(rows, '', 'executions')).toBe(26);
    expect(total(rows, '', 'succeeded')).toBe(23);
    expect(total(rows, '', 'failed')).toBe(2);
    expect(total(rows, '', 'canceled')).toBe(1);
    expect(total(rows, '', 'trigger_manual')).toBe(6);
    expect(total(rows, '', 'trigger_webhook')).toBe(20);
    expect(total(rows, `workflow:${workflows.hook.uuid}`, 'executions')).toBe(20);
    expect(total(rows, `workflow:${workflows.broken.uuid}`, 'failed')).toBe(2);
    // Every execution in exactly one duration class.
    const classes = rows.filter((r) => r.dim === '').reduce((sum, r) => sum + Object.keys(r).filter((k) => /^d\d\d$/.test(k)).reduce((s, k) => s + Number(r[k]), 0), 0);
    expect(classes).toBe(26);
    // The stored executions' durations add up to the counted sum.
    const stored = await t.ctx.db.kysely.selectFrom('workflow_executions').select(['created_at', 'started_at', 'finished_at']).where('workspace_id', '=', workspaceId).execute();
    const durations = stored.reduce((sum, e) => sum + Math.max(0, Date.parse(e.finished_at!) - Date.parse(e.started_at ?? e.created_at)), 0);
    expect(total(rows, '', 'duration_ms_sum')).toBe(durations);
    expect(rows.every((r) => Number(r.owner_id) === 0 && Number(r.bucket) % 15 === 0)).toBe(true);
  });

  it('counts agent runs as they end, completed, failed and interrupted, with their threads and messages', async () => {
    agents.main = await createAgent(t, owner.token, { name: 'Main', llm_uuid: GPT_4O_MINI, account_uuid: account }, { 'x-workspace-id': workspaceId });

    openai.script([{ text: 'First answer.', usage: { input: 120, output: 30 } }]);
    const first = await agentRun(agents.main.uuid, { input: 'First question' });
    expect(first.body.data.status).toBe('completed');
    threads.main = first.body.data.thread_uuid;
    openai.script([{ text: 'Second answer.', usage: { input: 200, output: 10 } }]);
    expect((await threadRun(threads.main, { content: 'Second question' })).body.data.status).toBe('completed');

    openai.script([{ error: { status: 400, message: 'bad request' } }]);
    const failed = await agentRun(agents.main.uuid, { input: 'This one fails' });
    expect(failed.status).toBe(502);
    threads.failed = (await t.ctx.db.kysely.selectFrom('runs').select('thread_id').where('status', '=', 'failed').executeTakeFirstOrThrow()).thread_id!;

    openai.script([{ text: 'never finished', chunkDelayMs: 50, stallAfterChunks: 1 }, { text: 'Interrupting answer.', usage: { input: 5, output: 5 } }]);
    const stalled = threadRun(threads.main, { content: 'Third question' });
    await eventually(async () => (await messagesOf(threads.main)).length === 5);
    const interrupting = await threadRun(threads.main, { content: 'Fourth question', multitask_strategy: 'interrupt' });
    expect(interrupting.status).toBe(200);
    expect((await stalled).body.data.status).toBe('cancelled');

    const runs = await read('agent_runs');
    const dim = `agent:${agents.main.uuid}`;
    expect(total(runs, dim, 'runs')).toBe(5);
    expect(total(runs, dim, 'succeeded')).toBe(3);
    expect(total(runs, dim, 'failed')).toBe(1);
    expect(total(runs, dim, 'canceled')).toBe(1);
    expect(total(runs, dim, 'input_tokens')).toBe(325);
    expect(total(runs, '', 'runs')).toBe(5);

    const conversations = await read('conversations');
    const ownerId = owner.user.id as number;
    // Threads are private by default: counted under their owner's id only.
    expect(total(conversations, '', 'threads', ownerId)).toBe(2);
    expect(total(conversations, '', 'threads', 0)).toBe(0);
    const stored = await t.ctx.db.kysely.selectFrom('messages').select(['role']).where('workspace_id', '=', workspaceId).execute();
    expect(total(conversations, '', 'messages', ownerId)).toBe(stored.length);
    expect(total(conversations, `user:${ownerId}`, 'user_messages', ownerId)).toBe(stored.filter((m) => m.role === 'user').length);
    expect(total(conversations, dim, 'assistant_messages', ownerId)).toBe(stored.filter((m) => m.role === 'assistant').length);
    expect(total(conversations, dim, 'input_tokens', ownerId)).toBe(325);
  });

  it('counts feedback where it was given, moving it when changed and removing it when cleared', async () => {
    const replies = (await messagesOf(threads.main)).filter((m) => m.role === 'assistant');
    expect((await rate(owner, threads.main, replies[0].uuid, 'up')).status).toBe(200);
    expect((await rate(owner, threads.main, replies[0].uuid, 'down')).status).toBe(200);
    expect((await rate(owner, threads.main, replies[1].uuid, 'up')).status).toBe(200);
    expect((await rate(owner, threads.main, replies[2].uuid, 'up')).status).toBe(200);
    expect((await rate(owner, threads.main, replies[2].uuid, null)).status).toBe(200);

    const runs = await read('agent_runs');
    expect(total(runs, `agent:${agents.main.uuid}`, 'feedback_up')).toBe(1);
    expect(total(runs, `agent:${agents.main.uuid}`, 'feedback_down')).toBe(1);
    const ratedAt = await t.ctx.db.kysely.selectFrom('messages').select('feedback_at').where('id', '=', replies[1].uuid).executeTakeFirstOrThrow();
    const bucket = bucketOf(ratedAt.feedback_at!);
    expect(runs.find((r) => r.dim === '' && Number(r.bucket) === bucket)?.feedback_up).toBeGreaterThanOrEqual(1);
  });

  it('moves a thread’s counts to the shared key when it becomes visible, and to another agent when its agent changes', async () => {
    const ownerId = owner.user.id as number;
    const before = await read('conversations');
    const messages = total(before, '', 'messages', ownerId);
    const ofMain = (await messagesOf(threads.main)).length;

    const shared = await t.request({ method: 'PUT', url: `/api/v1/threads/${threads.main}`, ...as(owner), body: { visibility: 'workspace' } });
    expect(shared.status).toBe(200);
    let rows = await read('conversations');
    expect(total(rows, '', 'messages', ownerId)).toBe(messages - ofMain);
    expect(total(rows, '', 'messages', 0)).toBe(ofMain);
    expect(total(rows, '', 'threads', 0)).toBe(1);
    expect(total(rows, `user:${ownerId}`, 'messages', 0)).toBe(ofMain);

    // A hand-written thread without agent gets one: its messages without their own agent follow.
    agents.other = await createAgent(t, owner.token, { name: 'Other', llm_uuid: GPT_4O_MINI, account_uuid: account }, { 'x-workspace-id': workspaceId });
    const created = await t.request({ method: 'POST', url: '/api/v1/threads', ...as(owner), body: { name: 'Notes', visibility: 'workspace' } });
    expect(created.status).toBe(201);
    threads.notes = created.body.data.uuid;
    for (const [role, content] of [['user', 'a'], ['assistant', 'b'], ['user', 'c']]) {
      const posted = await t.request({ method: 'POST', url: `/api/v1/threads/${threads.notes}/messages`, ...as(owner), body: { role, content } });
      expect(posted.status).toBe(201);
    }
    const notes = await messagesOf(threads.notes);
    expect((await t.request({ method: 'DELETE', url: `/api/v1/threads/${threads.notes}/messages/${notes[2].uuid}`, ...as(owner) })).status).toBe(204);
    const moved = await t.request({ method: 'PUT', url: `/api/v1/threads/${threads.notes}`, ...as(owner), body: { agent_uuid: agents.other.uuid } });
    expect(moved.status).toBe(200);
    rows = await read('conversations');
    expect(total(rows, `agent:${agents.other.uuid}`, 'threads', 0)).toBe(1);
    expect(total(rows, `agent:${agents.other.uuid}`, 'messages', 0)).toBe(2);
    expect(total(rows, `agent:${agents.other.uuid}`, 'user_messages', 0)).toBe(1);
  });

  it('keeps the live rollups equal to a rebuild from the raw tables', async () => {
    for (const series of SERIES_NAMES) live[series] = await read(series);
    await rebuildRollups(t.ctx.db, workspaceId);
    for (const series of SERIES_NAMES) expect(normalized(live[series]!), series).toEqual(normalized(await read(series)));
  });

  it('takes a deleted agent’s runs out of the totals, keeps its conversations in them, and stays equal to a rebuild', async () => {
    openai.script([{ text: 'Other answer.', usage: { input: 7, output: 3 } }]);
    const run = await agentRun(agents.other.uuid, { input: 'Hello other' });
    expect(run.body.data.status).toBe('completed');
    const reply = (await messagesOf(run.body.data.thread_uuid)).find((m) => m.role === 'assistant');
    expect((await rate(owner, run.body.data.thread_uuid, reply.uuid, 'up')).status).toBe(200);
    // Messages of the other agent in a thread of the main agent (its agent changed behind the API's
    // back, then rebuilt): they move to the main agent once their own is gone.
    await t.ctx.db.kysely.updateTable('threads').set({ agent_id: agents.main.uuid }).where('id', '=', run.body.data.thread_uuid).execute();
    await rebuildRollups(t.ctx.db, workspaceId);
    const mainMessages = total(await read('conversations'), `agent:${agents.main.uuid}`, 'messages');

    const before = await read('conversations');
    const runsBefore = await read('agent_runs');
    const removed = await t.request({ method: 'DELETE', url: `/api/v1/agents/${agents.other.uuid}`, ...as(owner) });
    expect(removed.status).toBe(204);

    const runs = await read('agent_runs');
    expect(runs.some((r) => r.dim === `agent:${agents.other.uuid}`)).toBe(false);
    expect(total(runs, '', 'runs')).toBe(total(runsBefore, '', 'runs') - 1);
    expect(total(runs, '', 'feedback_up')).toBe(total(runsBefore, '', 'feedback_up') - 1);
    const conversations = await read('conversations');
    expect(conversations.some((r) => r.dim === `agent:${agents.other.uuid}`)).toBe(false);
    expect(total(conversations, '', 'messages')).toBe(total(before, '', 'messages'));
    expect(total(conversations, '', 'threads')).toBe(total(before, '', 'threads'));
    expect(total(conversations, `agent:${agents.main.uuid}`, 'messages')).toBe(mainMessages + 2);

    for (const series of SERIES_NAMES) live[series] = await read(series);
    await rebuildRollups(t.ctx.db, workspaceId);
    for (const series of SERIES_NAMES) expect(normalized(live[series]!), series).toEqual(normalized(await read(series)));
  });

  it('takes a deleted workflow’s and a deleted thread’s counts away with them, keeps a pruned execution, and stays equal to a rebuild', async () => {
    const removed = await t.request({ method: 'DELETE', url: `/api/v1/workflows/${workflows.broken.uuid}`, ...as(owner) });
    expect(removed.status).toBe(204);
    let rows = await read('executions');
    expect(rows.some((r) => r.dim === `workflow:${workflows.broken.uuid}`)).toBe(false);
    expect(total(rows, '', 'executions')).toBe(24);
    expect(total(rows, '', 'failed')).toBe(0);

    const runsBefore = await read('agent_runs');
    const deleted = await t.request({ method: 'DELETE', url: `/api/v1/threads/${threads.failed}`, ...as(owner) });
    expect(deleted.status).toBe(204);
    const runs = await read('agent_runs');
    // The failed run went with its thread (cascade), and so did its count.
    expect(total(runs, '', 'failed')).toBe(total(runsBefore, '', 'failed') - 1);
    expect(total(runs, '', 'runs')).toBe(total(runsBefore, '', 'runs') - 1);

    for (const series of SERIES_NAMES) live[series] = await read(series);
    await rebuildRollups(t.ctx.db);
    for (const series of SERIES_NAMES) expect(normalized(live[series]!), series).toEqual(normalized(await read(series)));

    // Deleting one execution (as retention does) keeps it in the metrics: a rebuild no longer sees it.
    const list = await t.request({ url: `/api/v1/workflow-executions?filter[workflow_uuid]=${workflows.ok.uuid}`, ...as(owner) });
    expect((await t.request({ method: 'DELETE', url: `/api/v1/workflow-executions/${list.body.data[0].uuid}`, ...as(owner) })).status).toBe(204);
    rows = await read('executions');
    expect(total(rows, `workflow:${workflows.ok.uuid}`, 'executions')).toBe(3);
    await rebuildRollups(t.ctx.db, workspaceId);
    expect(total(await read('executions'), `workflow:${workflows.ok.uuid}`, 'executions')).toBe(2);
  });
});
