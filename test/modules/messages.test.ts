import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendMessages, loadHistory } from '../../src/modules/threads/messages.service.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';
import { createThreadWorld, insertAgent, insertMedia, type ThreadWorld } from '../helpers/thread-fixtures.js';

const MESSAGE_KEYS = [
  'uuid',
  'thread_uuid',
  'run_uuid',
  'sequence',
  'role',
  'content',
  'tool_calls',
  'tool_result',
  'status',
  'attachments',
  'llm_uuid',
  'model_id',
  'usage',
  'feedback',
  'feedback_comment',
  'metadata',
  'user',
  'created_at',
  'updated_at',
];

describe.each(DIALECTS)('messages on %s', (dialect) => {
  let t: TestApp;
  let w: ThreadWorld;
  let agentId: string;

  const db = () => t.ctx.db.kysely;
  const storedThread = (id: string) => db().selectFrom('threads').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const storedMessage = (id: string) => db().selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
  const newThread = async (user: SignedUp, body: Record<string, unknown> = {}) => {
    const response = await w.call(user, { method: 'POST', url: '/api/v1/threads', body: { agent_uuid: agentId, ...body } });
    expect(response.status, response.text).toBe(201);
    return response.body.data.uuid as string;
  };
  const post = (user: SignedUp, threadId: string, body: Record<string, unknown>) =>
    w.call(user, { method: 'POST', url: `/api/v1/threads/${threadId}/messages`, body });
  const put = (user: SignedUp, threadId: string, messageId: string, body: Record<string, unknown>) =>
    w.call(user, { method: 'PUT', url: `/api/v1/threads/${threadId}/messages/${messageId}`, body });
  /** An assistant reply as a run stores it: with the agent, usage and tool calls. */
  const storeReply = (threadId: string, content: string) =>
    db()
      .transaction()
      .execute((trx) =>
        appendMessages(trx, { id: threadId, workspaceId: w.workspaceId }, [
          { role: 'assistant', content, agentId, modelId: 'gpt-4o-mini', inputTokens: 12, outputTokens: 30, cost: 0.0002, latencyMs: 840 },
        ]),
      )
      .then((rows) => rows[0]!);

  beforeAll(async () => {
    t = await createTestApp(dialect);
    w = await createThreadWorld(t);
    agentId = await insertAgent(t, { workspaceId: w.workspaceId, userId: w.owner.user.id, name: 'Support Agent' });
  });
  afterAll(() => t.close());

  describe('create', () => {
    it('appends a user message with the caller as author, and updates the thread', async () => {
      const threadId = await newThread(w.member);
      const response = await post(w.member, threadId, { content: 'Where is my order?', metadata: { client: 'web' } });

      expect(response.status, response.text).toBe(201);
      const message = response.body.data;
      expect(Object.keys(message)).toEqual(MESSAGE_KEYS);
      expect(message).toMatchObject({
        thread_uuid: threadId,
        run_uuid: null,
        sequence: 1,
        role: 'user',
        content: 'Where is my order?',
        tool_calls: null,
        tool_result: null,
        status: 'completed',
        attachments: [],
        llm_uuid: null,
        model_id: null,
        usage: null,
        feedback: null,
        feedback_comment: null,
        metadata: { client: 'web' },
        user: { id: w.member.user.id, primary_workspace: {} },
      });
      expect(await storedMessage(message.uuid)).toMatchObject({ workspace_id: w.workspaceId, user_id: w.member.user.id, agent_id: null, sequence: 1 });
      const thread = await storedThread(threadId);
      expect(thread.message_count).toBe(1);
      expect(thread.last_message_at).toBe(message.created_at);

      const assistant = await post(w.member, threadId, { role: 'assistant', content: 'It ships today.' });
      expect(assistant.body.data).toMatchObject({ role: 'assistant', sequence: 2, user: null });
      const retrieved = await w.call(w.member, { url: `/api/v1/threads/${threadId}` });
      expect(retrieved.body.data).toMatchObject({ message_count: 2, last_message_at: assistant.body.data.created_at });
    });

    it('validates role, content, attachments and unknown fields (422) and stores nothing', async () => {
      const threadId = await newThread(w.member);
      const cases: Array<[Record<string, unknown>, Record<string, string[]>]> = [
        [{ role: 'tool', content: 'x' }, { role: ['The selected role is invalid.'] }],
        [{ role: 'robot', content: 'x' }, { role: ['The selected role is invalid.'] }],
        [{ content: '' }, { content: ['The content field is required.'] }],
        [{}, { content: ['The content field is required.'] }],
        [{ content: 'x'.repeat(100_001) }, { content: ['The content field must not be greater than 100000 characters.'] }],
        [{ content: 42 }, { content: ['The content field must be a string.'] }],
        [{ content: 'x', attachments: ['nope'] }, { 'attachments.0': ['The attachments.0 field must be a valid UUID.'] }],
        [{ content: 'x', sequence: 7 }, { sequence: ['The sequence field is prohibited.'] }],
      ];
      for (const [body, errors] of cases) {
        const response = await post(w.member, threadId, body);
        expect(response.status, JSON.stringify(body).slice(0, 80)).toBe(422);
        expect(response.body.errors).toEqual(errors);
      }
      expect((await storedThread(threadId)).message_count).toBe(0);
    });

    it('attaches media in the order given, and refuses unknown or foreign media (422)', async () => {
      const threadId = await newThread(w.member);
      const notes = await insertMedia(t, { workspaceId: w.workspaceId, userId: w.member.user.id, filename: 'notes.txt' });
      const spec = await insertMedia(t, { workspaceId: w.workspaceId, userId: w.member.user.id, filename: 'spec.md' });
      const response = await post(w.member, threadId, { content: 'See attached', attachments: [spec, notes] });
      expect(response.status, response.text).toBe(201);
      expect(response.body.data.attachments.map((a: any) => [a.position, a.media.uuid, a.media.filename])).toEqual([
        [0, spec, 'spec.md'],
        [1, notes, 'notes.txt'],
      ]);
      const rows = await db().selectFrom('message_attachments').selectAll().where('message_id', '=', response.body.data.uuid).orderBy('position').execute();
      expect(rows.map((r) => r.media_id)).toEqual([spec, notes]);

      const foreign = await insertMedia(t, { workspaceId: w.stranger.user.primary_workspace.uuid, userId: w.stranger.user.id, filename: 'x.txt' });
      for (const id of ['0192f5a0-7c1e-7b3a-9d2e-6f1a2b3c4d5e', foreign]) {
        const refused = await post(w.member, threadId, { content: 'Bad file', attachments: [id] });
        expect(refused.status).toBe(422);
        expect(Object.keys(refused.body.errors)[0]).toMatch(/^attachments/);
      }
      expect((await storedThread(threadId)).message_count).toBe(1);
    });

    it('lets only the thread’s owner append (403 for readers, 404 for a private thread)', async () => {
      const shared = await newThread(w.member, { visibility: 'workspace' });
      const privateThread = await newThread(w.member);
      for (const user of [w.owner, w.admin, w.viewer]) {
        expect((await post(user, shared, { content: 'Me too' })).status).toBe(403);
        expect((await post(user, privateThread, { content: 'Me too' })).status).toBe(404);
      }
      const strangers = await t.request({ method: 'POST', url: `/api/v1/threads/${shared}/messages`, token: w.stranger.token, body: { content: 'Hi' } });
      expect(strangers.status).toBe(404);
      expect((await storedThread(shared)).message_count).toBe(0);
    });

    it('gives concurrent appends distinct consecutive sequences', async () => {
      const threadId = await newThread(w.member);
      const responses = await Promise.all(Array.from({ length: 25 }, (_, i) => post(w.member, threadId, { content: `message ${i}` })));
      expect(responses.map((r) => r.status)).toEqual(Array(25).fill(201));
      const sequences = responses.map((r) => r.body.data.sequence).sort((a, b) => a - b);
      expect(sequences).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      const stored = await db().selectFrom('messages').select('sequence').where('thread_id', '=', threadId).orderBy('sequence').execute();
      expect(stored.map((r) => r.sequence)).toEqual(sequences);
      expect((await storedThread(threadId)).message_count).toBe(25);
    });
  });

  describe('list and retrieve', () => {
    let threadId: string;

    beforeAll(async () => {
      threadId = await newThread(w.member, { visibility: 'workspace' });
      for (const [role, content] of [
        ['system', 'Be brief.'],
        ['user', 'One'],
        ['assistant', 'Two'],
        ['user', 'Three'],
        ['assistant', 'Four'],
      ] as const) {
        expect((await post(w.member, threadId, { role, content })).status).toBe(201);
      }
    });

    it('lists in conversation order, as a Laravel page', async () => {
      const response = await w.call(w.viewer, { url: `/api/v1/threads/${threadId}/messages` });
      expect(response.status).toBe(200);
      expect(response.body.data.map((m: any) => [m.sequence, m.content])).toEqual([
        [1, 'Be brief.'],
        [2, 'One'],
        [3, 'Two'],
        [4, 'Three'],
        [5, 'Four'],
      ]);
      expect(response.body.meta).toMatchObject({ total: 5, current_page: 1 });
      const newest = await w.call(w.viewer, { url: `/api/v1/threads/${threadId}/messages?sort=-sequence&per_page=2` });
      expect(newest.body.data.map((m: any) => m.content)).toEqual(['Four', 'Three']);
      expect(newest.body.meta.last_page).toBe(3);
    });

    it('filters by role', async () => {
      const response = await w.call(w.member, { url: `/api/v1/threads/${threadId}/messages?filter[role]=assistant` });
      expect(response.body.data.map((m: any) => m.content)).toEqual(['Two', 'Four']);
      const bad = await w.call(w.member, { url: `/api/v1/threads/${threadId}/messages?filter[role]=robot` });
      expect(bad.status).toBe(422);
      expect(bad.body.errors).toEqual({ 'filter.role': ['The selected filter.role is invalid.'] });
    });

    it('searches the content, case-insensitively and with LIKE wildcards taken literally', async () => {
      const response = await w.call(w.member, { url: `/api/v1/threads/${threadId}/messages?search=THR` });
      expect(response.body.data.map((m: any) => m.content)).toEqual(['Three']);
      const literal = await w.call(w.member, { url: `/api/v1/threads/${threadId}/messages?search=%25` });
      expect(literal.body.data).toEqual([]);
    });

    it('reads cursor pages in both directions', async () => {
      const url = `/api/v1/threads/${threadId}/messages?per_page=2`;
      const first = await w.call(w.member, { url: `${url}&cursor=` });
      expect(first.body.data.map((m: any) => m.sequence)).toEqual([1, 2]);
      const second = await w.call(w.member, { url: `${url}&cursor=${first.body.meta.next_cursor}` });
      expect(second.body.data.map((m: any) => m.sequence)).toEqual([3, 4]);
      const third = await w.call(w.member, { url: `${url}&cursor=${second.body.meta.next_cursor}` });
      expect(third.body.data.map((m: any) => m.sequence)).toEqual([5]);
      expect(third.body.meta.next_cursor).toBeNull();
      const back = await w.call(w.member, { url: `${url}&cursor=${third.body.meta.prev_cursor}` });
      expect(back.body.data.map((m: any) => m.sequence)).toEqual([3, 4]);
    });

    it('retrieves one message, and 404s across threads, private threads and workspaces', async () => {
      const list = await w.call(w.member, { url: `/api/v1/threads/${threadId}/messages` });
      const messageId = list.body.data[1].uuid;
      const one = await w.call(w.viewer, { url: `/api/v1/threads/${threadId}/messages/${messageId}` });
      expect(one.status).toBe(200);
      expect(one.body.data).toMatchObject({ uuid: messageId, content: 'One' });

      const otherThread = await newThread(w.member);
      expect((await w.call(w.member, { url: `/api/v1/threads/${otherThread}/messages/${messageId}` })).status).toBe(404);
      expect((await w.call(w.owner, { url: `/api/v1/threads/${otherThread}/messages` })).status).toBe(404);
      expect((await t.request({ url: `/api/v1/threads/${threadId}/messages/${messageId}`, token: w.stranger.token })).status).toBe(404);
      expect((await t.request({ url: `/api/v1/threads/${threadId}/messages`, token: w.stranger.token })).status).toBe(404);
    });
  });

  describe('update', () => {
    let threadId: string;
    let userMessage: string;

    beforeAll(async () => {
      threadId = await newThread(w.member, { visibility: 'workspace' });
      userMessage = (await post(w.member, threadId, { content: 'Typo hre' })).body.data.uuid;
    });

    it('lets the owner edit content and metadata', async () => {
      const response = await put(w.member, threadId, userMessage, { content: 'Typo here', metadata: { edited: true } });
      expect(response.status, response.text).toBe(200);
      expect(response.body.data).toMatchObject({ content: 'Typo here', metadata: { edited: true }, sequence: 1 });
      expect(await storedMessage(userMessage)).toMatchObject({ content: 'Typo here' });
    });

    it('refuses edits by other readers (403) and feedback on anything but assistant messages (422)', async () => {
      const edit = await put(w.owner, threadId, userMessage, { content: 'Not yours' });
      expect(edit.status).toBe(403);
      const feedback = await put(w.member, threadId, userMessage, { feedback: 'up' });
      expect(feedback.status).toBe(422);
      expect(feedback.body.errors).toEqual({ feedback: ['Feedback can only be given on assistant messages.'] });
      expect(await storedMessage(userMessage)).toMatchObject({ content: 'Typo here', feedback: null });
    });

    it('takes feedback on an assistant reply from any member who reads the thread', async () => {
      const reply = await storeReply(threadId, 'Fixed it for you.');
      const resource = await w.call(w.owner, { url: `/api/v1/threads/${threadId}/messages/${reply.id}` });
      expect(resource.body.data).toMatchObject({
        role: 'assistant',
        model_id: 'gpt-4o-mini',
        usage: { input_tokens: 12, output_tokens: 30, cost: 0.0002, latency_ms: 840 },
        user: null,
      });

      const up = await put(w.owner, threadId, reply.id, { feedback: 'up', feedback_comment: 'Helpful' });
      expect(up.status, up.text).toBe(200);
      expect(up.body.data).toMatchObject({ feedback: 'up', feedback_comment: 'Helpful', content: 'Fixed it for you.' });
      const stored = await storedMessage(reply.id);
      expect(stored).toMatchObject({ feedback: 'up', feedback_comment: 'Helpful', agent_id: agentId });
      expect(stored!.feedback_at).not.toBeNull();

      const down = await put(w.admin, threadId, reply.id, { feedback: 'down' });
      expect(down.body.data).toMatchObject({ feedback: 'down', feedback_comment: 'Helpful' });

      const cleared = await put(w.member, threadId, reply.id, { feedback: null });
      expect(cleared.body.data).toMatchObject({ feedback: null, feedback_comment: null });
      expect(await storedMessage(reply.id)).toMatchObject({ feedback: null, feedback_comment: null, feedback_at: null });
    });

    it('validates feedback values and needs feedback for a comment', async () => {
      const reply = await storeReply(threadId, 'Another answer.');
      const bad = await put(w.member, threadId, reply.id, { feedback: 'meh' });
      expect(bad.status).toBe(422);
      expect(bad.body.errors).toEqual({ feedback: ['The selected feedback is invalid.'] });
      const lonely = await put(w.member, threadId, reply.id, { feedback_comment: 'No rating' });
      expect(lonely.status).toBe(422);
      expect(lonely.body.errors).toEqual({ feedback: ['The feedback field is required when feedback comment is present.'] });
    });

    it('refuses viewers (403), even for feedback', async () => {
      const reply = await storeReply(threadId, 'Viewer-proof.');
      const response = await put(w.viewer, threadId, reply.id, { feedback: 'up' });
      expect(response.status).toBe(403);
      expect((await storedMessage(reply.id))!.feedback).toBeNull();
    });

    it('refuses changes to a tool message (422)', async () => {
      const [, tool] = await db()
        .transaction()
        .execute((trx) =>
          appendMessages(trx, { id: threadId, workspaceId: w.workspaceId }, [
            { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'lookup', input: { q: 'x' } }] },
            { role: 'tool', content: '{"ok":true}', toolResult: { tool_call_id: 'call_1', name: 'lookup', output: { ok: true }, is_error: false } },
          ]),
        );
      const response = await put(w.member, threadId, tool!.id, { content: 'tampered' });
      expect(response.status).toBe(422);
      expect(response.body.errors).toEqual({ content: ['The content of a tool message cannot be changed.'] });
      const resource = await w.call(w.member, { url: `/api/v1/threads/${threadId}/messages/${tool!.id}` });
      expect(resource.body.data).toMatchObject({
        role: 'tool',
        tool_result: { tool_call_id: 'call_1', name: 'lookup', output: { ok: true }, is_error: false },
      });
    });
  });

  describe('delete', () => {
    it('lets the owner delete a message; the count and last activity follow, and sequences go on', async () => {
      const threadId = await newThread(w.member, { visibility: 'workspace' });
      const ids: string[] = [];
      for (const content of ['a', 'b', 'c']) ids.push((await post(w.member, threadId, { content })).body.data.uuid);
      const before = await storedThread(threadId);

      expect((await w.call(w.owner, { method: 'DELETE', url: `/api/v1/threads/${threadId}/messages/${ids[1]}` })).status).toBe(403);
      const response = await w.call(w.member, { method: 'DELETE', url: `/api/v1/threads/${threadId}/messages/${ids[1]}` });
      expect(response.status).toBe(204);
      expect(await storedMessage(ids[1]!)).toBeUndefined();
      expect((await storedThread(threadId)).message_count).toBe(2);
      expect((await w.call(w.member, { method: 'DELETE', url: `/api/v1/threads/${threadId}/messages/${ids[1]}` })).status).toBe(404);

      const last = await w.call(w.member, { method: 'DELETE', url: `/api/v1/threads/${threadId}/messages/${ids[2]}` });
      expect(last.status).toBe(204);
      const first = await storedMessage(ids[0]!);
      const after = await storedThread(threadId);
      expect(after.message_count).toBe(1);
      expect(after.last_message_at).toBe(first!.created_at);
      expect(after.last_message_at! <= before.last_message_at!).toBe(true);

      const next = await post(w.member, threadId, { content: 'd' });
      expect(next.body.data.sequence).toBe(2);
      expect((await storedThread(threadId)).message_count).toBe(2);
    });
  });

  describe('history for runs', () => {
    it('returns the last messages in order with media, never opening on an orphaned tool result', async () => {
      const threadId = await newThread(w.member);
      const media = await insertMedia(t, { workspaceId: w.workspaceId, userId: w.member.user.id, filename: 'photo.txt' });
      await db()
        .transaction()
        .execute((trx) =>
          appendMessages(trx, { id: threadId, workspaceId: w.workspaceId }, [
            { role: 'user', content: 'Look this up', userId: w.member.user.id, attachments: [media] },
            { role: 'assistant', content: '', agentId, toolCalls: [{ id: 'c1', name: 'lookup', input: {} }, { id: 'c2', name: 'lookup', input: {} }] },
            { role: 'tool', content: 'r1', toolResult: { tool_call_id: 'c1', name: 'lookup', output: 'r1', is_error: false } },
            { role: 'tool', content: 'r2', toolResult: { tool_call_id: 'c2', name: 'lookup', output: 'r2', is_error: true } },
            { role: 'assistant', content: 'Done', agentId },
          ]),
        );

      const all = await loadHistory(db(), threadId, 10);
      expect(all.map((m) => [m.sequence, m.role])).toEqual([
        [1, 'user'],
        [2, 'assistant'],
        [3, 'tool'],
        [4, 'tool'],
        [5, 'assistant'],
      ]);
      expect(all[0]!.attachments.map((m) => m.id)).toEqual([media]);
      expect(all[1]!.attachments).toEqual([]);

      // The last three would open on c1's and c2's results, whose call is cut off.
      const window = await loadHistory(db(), threadId, 3);
      expect(window.map((m) => m.sequence)).toEqual([5]);
      const wider = await loadHistory(db(), threadId, 4);
      expect(wider.map((m) => m.sequence)).toEqual([2, 3, 4, 5]);
    });
  });
});
