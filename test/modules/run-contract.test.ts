import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai-server.js';
import { GPT_4O_MINI, PROVIDERS, connectModelAccount, createAgent, eventually, openStream, parseSse } from '../helpers/ai.js';
import { DIALECTS } from '../helpers/databases.js';
import { createServer } from '../../src/server.js';
import { prepareAgentRun } from '../../src/modules/runs/agent-run.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const KEY = 'sk-run-contract-0123456789';

/**
 * The one run contract of agent, thread and prompt runs: Idempotency-Key, one run per thread,
 * cancel, client disconnects, resumes with Last-Event-ID, retries and timeouts. Runs against a
 * real port where a client must be able to hang up.
 */
describe.each(DIALECTS)('the run contract on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let openai: FakeOpenAi;
  let agent: any;
  let base: string;

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: KEY });
    t = await createTestApp(dialect, {
      ATHENA_STREAM_RESUME_WINDOW: '1',
      ATHENA_MODEL_TIMEOUT: '3',
      ATHENA_MODEL_MAX_RETRIES: '2',
      ATHENA_MODEL_RETRY_BUDGET: '5',
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    owner = await t.signUp();
    const account = await connectModelAccount(t, owner.token, { provider: PROVIDERS.openai, baseUrl: `${openai.url}/v1`, apiKey: KEY });
    agent = await createAgent(t, owner.token, { name: 'Contract', llm_uuid: GPT_4O_MINI, account_uuid: account });
  });
  afterAll(async () => {
    await t.close();
    await openai.close();
  });

  const run = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    t.request({ method: 'POST', url: `/api/v1/agents/${agent.uuid}/run`, token: owner.token, body, headers });
  const threadRun = (threadId: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    t.request({ method: 'POST', url: `/api/v1/threads/${threadId}/run`, token: owner.token, body, headers });
  const newThread = async () => {
    const response = await t.request({ method: 'POST', url: '/api/v1/threads', token: owner.token, body: { agent_uuid: agent.uuid } });
    return response.body.data.uuid as string;
  };
  const runRow = (id: string) => t.ctx.db.kysely.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const messagesOf = (threadId: string) =>
    t.ctx.db.kysely.selectFrom('messages').selectAll().where('thread_id', '=', threadId).orderBy('sequence').execute();

  it('answers a retry with the same Idempotency-Key with the first result, without a second model call', async () => {
    openai.script([{ text: 'Only once.' }]);
    const before = openai.calls;
    const headers = { 'idempotency-key': 'order-42' };
    const first = await run({ input: 'Charge it' }, headers);
    const second = await run({ input: 'Charge it' }, headers);
    const streamed = await run({ input: 'Charge it', stream: true }, headers);

    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.data.uuid).toBe(first.body.data.uuid);
    expect(second.body.data.output).toBe('Only once.');
    expect(parseSse(streamed.text).at(-1)).toMatchObject({ event: 'done', data: { uuid: first.body.data.uuid } });
    expect(openai.calls - before).toBe(1);

    const reused = await run({ input: 'Something else' }, headers);
    expect(reused.status).toBe(422);
    expect(reused.body.errors).toEqual({ 'Idempotency-Key': ['The Idempotency-Key was already used with a different request.'] });
  });

  it('makes concurrent requests with one Idempotency-Key share a single run', async () => {
    openai.script([{ text: 'Shared.', delayMs: 150 }]);
    const before = openai.calls;
    const headers = { 'idempotency-key': 'burst-1' };
    const answers = await Promise.all([run({ input: 'Burst' }, headers), run({ input: 'Burst' }, headers), run({ input: 'Burst' }, headers)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(new Set(answers.map((a) => a.body.data.uuid)).size).toBe(1);
    expect(openai.calls - before).toBe(1);
  });

  it('answers 409 while the thread has a run in flight, runs after it with enqueue, and cancels it with interrupt', async () => {
    const threadId = await newThread();
    openai.script([{ text: 'slow answer', delayMs: 400 }, { text: 'queued answer' }]);
    const slow = threadRun(threadId, { content: 'first' });
    await eventually(async () => (await t.request({ url: `/api/v1/threads/${threadId}`, token: owner.token })).body.data.active_run_uuid);

    const refused = await threadRun(threadId, { content: 'second' });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/has a run in progress .*"interrupt".*"enqueue"/);

    const queued = await threadRun(threadId, { content: 'second', multitask_strategy: 'enqueue' });
    expect((await slow).body.data.status).toBe('completed');
    expect(queued.status).toBe(200);
    expect(queued.body.data.output).toBe('queued answer');
    expect((await messagesOf(threadId)).map((m) => m.content)).toEqual(['first', 'slow answer', 'second', 'queued answer']);

    openai.script([{ text: 'never finished', chunkDelayMs: 50, stallAfterChunks: 1 }, { text: 'the interrupting answer' }]);
    const stalled = threadRun(threadId, { content: 'third' });
    await eventually(async () => (await messagesOf(threadId)).length === 5);
    const interrupting = await threadRun(threadId, { content: 'fourth', multitask_strategy: 'interrupt' });
    expect(interrupting.status).toBe(200);
    expect((await stalled).body.data).toMatchObject({ status: 'cancelled', finish_reason: 'interrupted' });
    expect(interrupting.body.data.output).toBe('the interrupting answer');
  });

  it('cancels a thread’s run in flight and keeps the partial reply, marked incomplete', async () => {
    const threadId = await newThread();
    openai.script([{ text: 'one two three four', chunkDelayMs: 20, stallAfterChunks: 2 }]);
    const stream = openStream(`${base}/api/v1/threads/${threadId}/run`, { token: owner.token, body: { content: 'Tell me a story' } });
    await stream.next((e) => e.event === 'message.delta' && e.data.delta === 'two ');

    const cancelled = await t.request({ method: 'POST', url: `/api/v1/threads/${threadId}/cancel`, token: owner.token });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.data).toMatchObject({ status: 'cancelled', finish_reason: 'cancelled' });
    await stream.ended;
    expect(stream.events.at(-1)).toMatchObject({ event: 'done', data: { status: 'cancelled' } });
    const reply = (await messagesOf(threadId)).at(-1)!;
    expect(reply).toMatchObject({ role: 'assistant', content: 'one two ', status: 'incomplete' });

    const nothing = await t.request({ method: 'POST', url: `/api/v1/threads/${threadId}/cancel`, token: owner.token });
    expect(nothing.status).toBe(409);
  });

  it('aborts the model call when the streaming client goes away, keeping the partial message as incomplete', async () => {
    openai.script([{ text: 'alpha beta gamma delta', chunkDelayMs: 20, stallAfterChunks: 2 }]);
    const stream = openStream(`${base}/api/v1/agents/${agent.uuid}/run`, { token: owner.token, body: { input: 'Talk' } });
    const started = await stream.next((e) => e.event === 'run.started');
    await stream.next((e) => e.event === 'message.delta' && e.data.delta === 'beta ');
    stream.drop();

    // After the resume window (1 s here) with nobody attached, the run is aborted.
    const row = await eventually(async () => {
      const current = await runRow(started.data.run_uuid);
      return current.status !== 'running' && current;
    }, 5_000);
    expect(row).toMatchObject({ status: 'cancelled', finish_reason: 'abandoned' });
    const reply = (await messagesOf(started.data.thread_uuid)).at(-1)!;
    expect(reply).toMatchObject({ role: 'assistant', content: 'alpha beta ', status: 'incomplete' });
  });

  it('resumes a broken stream with Last-Event-ID, without gaps or repeats', async () => {
    openai.script([{ text: 'a b c d e f g h', chunkDelayMs: 40 }]);
    const first = openStream(`${base}/api/v1/agents/${agent.uuid}/run`, { token: owner.token, body: { input: 'Letters' } });
    const started = await first.next((e) => e.event === 'run.started');
    await first.next((e) => e.event === 'message.delta' && e.data.delta === 'b ');
    const lastSeen = first.events.at(-1)!.id;
    first.drop();

    const resumed = openStream(`${base}/api/v1/runs/${started.data.run_uuid}/events`, {
      method: 'GET',
      token: owner.token,
      headers: { 'last-event-id': String(lastSeen) },
    });
    await resumed.ended;
    const all = [...first.events.filter((e) => e.id <= lastSeen), ...resumed.events];
    expect(all.map((e) => e.id)).toEqual(all.map((_, i) => i + 1));
    expect(all.filter((e) => e.event === 'message.delta').map((e) => e.data.delta).join('')).toBe('a b c d e f g h');
    expect(all.at(-1)).toMatchObject({ event: 'done', data: { status: 'completed', output: 'a b c d e f g h' } });

    // Within its retention, a finished run replays its own events; another process (or this one
    // later) rebuilds them from what was stored.
    const replay = await t.request({ url: `/api/v1/runs/${started.data.run_uuid}/events`, token: owner.token });
    expect(parseSse(replay.text).map((e) => e.data)).toEqual(all.map((e) => e.data));
    const other = await createServer(t.config);
    try {
      const rebuilt = await other.app.inject({ url: `/api/v1/runs/${started.data.run_uuid}/events`, headers: { authorization: `Bearer ${owner.token}` } });
      expect(parseSse(rebuilt.body).map((e) => e.event)).toEqual(['run.started', 'message.completed', 'done']);
      expect(parseSse(rebuilt.body).at(-1)!.data).toMatchObject({ status: 'completed', output: 'a b c d e f g h' });
    } finally {
      await other.app.close();
    }
  });

  it('starts the model call of a run in a new thread while the run is claimed, and stops it when the claim fails', async () => {
    const scope = { workspaceId: owner.user.primary_workspace.uuid, role: 'owner' as const, userId: owner.user.id };
    const threadsBefore = await t.ctx.db.kysely.selectFrom('threads').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    openai.script([{ text: 'one two three four five', chunkDelayMs: 40 }]);
    const calls = openai.calls;
    const abandoned = openai.abandoned;
    const prepared = await prepareAgentRun(t.ctx, scope, agent.uuid, { input: 'Early bird' });
    prepared.startEarly!();
    await eventually(async () => openai.calls > calls);
    prepared.abandon!();
    await eventually(async () => openai.abandoned > abandoned);
    // Nothing was claimed, so nothing was stored: no thread, no run, no message.
    const threadsAfter = await t.ctx.db.kysely.selectFrom('threads').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(threadsAfter.n)).toBe(Number(threadsBefore.n));
    expect(await t.ctx.db.kysely.selectFrom('runs').selectAll().where('id', '=', prepared.runId).executeTakeFirst()).toBeUndefined();
  });

  it('retries a rate-limited provider and answers once', async () => {
    openai.script([{ error: { status: 429, message: 'Slow down', retryAfter: '0' } }, { text: 'After the retry.' }]);
    const before = openai.calls;
    const response = await run({ input: 'Retry me' });
    expect(response.status).toBe(200);
    expect(response.body.data.output).toBe('After the retry.');
    expect(openai.calls - before).toBe(2);
    expect(t.logs.some((line) => line.msg === 'retrying a model call' && line.status === 429)).toBe(true);
  });

  it('gives up after the retries with 502 and the provider’s words, and times out a silent provider with 504', async () => {
    openai.script([{ error: { status: 503, message: 'The engine is overloaded.' } }]);
    const overloaded = await run({ input: 'Now?' });
    expect(overloaded.status).toBe(502);
    expect(overloaded.body.message).toBe('The model provider answered 503 Service Unavailable: The engine is overloaded.');

    openai.script([{ hang: true }]);
    const silent = await run({ input: 'Hello?' });
    expect(silent.status).toBe(504);
    expect(silent.body).toEqual({ message: 'The model did not answer within 3 seconds.' });
    // The key never shows up in what is logged or stored.
    expect(JSON.stringify(t.logs)).not.toContain(KEY);
  });

  it('hides a thread’s runs, cancel, name and events from another user, and answers 404 for unknown ids', async () => {
    openai.script([{ text: 'Mine.' }]);
    const mine = await run({ input: 'Private business' });
    const { thread_uuid: threadId, uuid: runId } = mine.body.data;
    const stranger = await t.signUp();
    const as = (method: 'GET' | 'POST', url: string, body?: unknown) => t.request({ method, url, token: stranger.token, ...(body ? { body } : {}) });
    const answers = await Promise.all([
      as('POST', `/api/v1/threads/${threadId}/run`, { content: 'hi' }),
      as('POST', `/api/v1/threads/${threadId}/cancel`),
      as('POST', `/api/v1/threads/${threadId}/generate-name`),
      as('GET', `/api/v1/runs/${runId}`),
      as('GET', `/api/v1/runs/${runId}/events`),
      as('POST', `/api/v1/agents/${agent.uuid}/run`, { input: 'hi' }),
      t.request({ method: 'POST', url: '/api/v1/threads/01980000-0000-7000-8000-0000000000ff/cancel', token: owner.token }),
      t.request({ url: '/api/v1/runs/not-a-uuid/events', token: owner.token }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 404, 404, 404, 404, 404]);
    expect(answers[0]!.body).toEqual({ message: 'Resource not found.' });
  });

  it('lists and retrieves the caller’s runs with their usage', async () => {
    const list = await t.request({ url: `/api/v1/runs?filter[agent]=${agent.uuid}&per_page=100`, token: owner.token });
    expect(list.status).toBe(200);
    expect(list.body.data.length).toBeGreaterThan(5);
    const one = list.body.data.find((r: any) => r.status === 'completed');
    const detail = await t.request({ url: `/api/v1/runs/${one.uuid}`, token: owner.token });
    expect(detail.body.data).toMatchObject({ uuid: one.uuid, usage: one.usage });
    expect((await t.request({ url: '/api/v1/runs/01980000-0000-7000-8000-0000000000ff', token: owner.token })).status).toBe(404);
  });
});
