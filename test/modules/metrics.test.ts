import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/db/values.js';
import { explainSumRollups } from '../../src/modules/metrics/metrics.repository.js';
import { DURATION_COLUMNS, SERIES, agentDim, bucketOf, durationClassBounds, durationClassOf, userDim, workflowDim, type SeriesName } from '../../src/modules/metrics/series.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';
import { createThreadWorld, insertAgent, type ThreadWorld } from '../helpers/thread-fixtures.js';
import { chain, createWorkflow, manualNode, setNode } from '../helpers/workflows.js';

/** A week of February 2025, daily in UTC: the window every rollup row below falls in. */
const WEEK = 'from=2025-02-03T00:00:00Z&to=2025-02-10T00:00:00Z&interval=day';
const DAY = (d: number, hour = 12) => `2025-02-${String(d).padStart(2, '0')}T${String(hour).padStart(2, '0')}:00:00.000Z`;

const sumOf = (series: any[], field: string) => series.reduce((sum, bucket) => sum + bucket[field], 0);

for (const dialect of DIALECTS) {
  describe(`metrics (${dialect})`, () => {
    let t: TestApp;
    let w: ThreadWorld;

    beforeAll(async () => {
      t = await createTestApp(dialect, { ATHENA_WORKFLOW_POLL_MS: '100' });
      w = await createThreadWorld(t);
    });
    afterAll(async () => t.close());

    const get = (user: SignedUp, path: string) => w.call(user, { url: `/api/v1/metrics/${path}` });

    /** One rollup row, written as the write side would: counters by name, the rest 0. */
    async function rollup(series: SeriesName, row: { dim: string; owner?: number; at: string; counters: Record<string, number> }) {
      await t.ctx.db.kysely
        .insertInto(SERIES[series].table as 'execution_rollups')
        .values({ workspace_id: w.workspaceId, dim: row.dim, owner_id: row.owner ?? 0, bucket: bucketOf(row.at), ...row.counters } as never)
        .execute();
    }

    /** The same counters under `''` and under each resource's own dimension. */
    async function event(series: SeriesName, dims: string[], at: string, counters: Record<string, number>, owner = 0) {
      for (const dim of ['', ...dims]) await rollup(series, { dim, owner, at, counters });
    }

    describe('parameters', () => {
      it('answers 422 with the field for a bad time zone, interval, date, order or size', async () => {
        const cases: [string, string][] = [
          ['timezone=Mars/Olympus_Mons', 'timezone'],
          ['interval=year', 'interval'],
          ['from=yesterday', 'from'],
          ['from=2025-02-30', 'from'],
          ['from=2025-02-10T00:00:00Z&to=2025-02-03T00:00:00Z', 'to'],
          ['from=2025-02-03T00:00:00Z&to=2025-02-03T00:00:00Z', 'to'],
          ['from=2025-01-01&to=2025-04-01&interval=hour', 'interval'],
        ];
        for (const [query, field] of cases) {
          for (const path of ['agents', 'workflows', 'threads', 'messages', 'workflow-executions']) {
            const response = await get(w.owner, `${path}?${query}`);
            expect(response.status, `${path}?${query}`).toBe(422);
            expect(Object.keys(response.body.errors), `${path}?${query}`).toEqual([field]);
          }
        }
        const tooMany = await get(w.owner, 'agents?from=2025-01-01&to=2025-04-01&interval=hour');
        expect(tooMany.body.message).toMatch(/more than 2000 hour buckets/);
      });

      it('answers the largest series allowed, 2000 hours, on every endpoint', async () => {
        for (const path of ['agents', 'workflows', 'threads', 'messages', 'workflow-executions']) {
          const response = await get(w.owner, `${path}?from=2025-01-01T00:00:00Z&to=2025-03-25T08:00:00Z&interval=hour`);
          expect(response.status, response.text).toBe(200);
          expect(response.body.data.series).toHaveLength(2000);
        }
        expect((await get(w.owner, 'threads?from=2025-01-01T00:00:00Z&to=2025-03-25T08:00:01Z&interval=hour')).status).toBe(422);
      });

      it('needs a signed-in caller', async () => {
        expect((await t.request({ url: '/api/v1/metrics/agents' })).status).toBe(401);
      });

      it('defaults to daily buckets over the last 30 days in UTC, every bucket present', async () => {
        const response = await get(w.owner, 'messages');
        expect(response.status).toBe(200);
        const data = response.body.data;
        expect(data).toMatchObject({ interval: 'day', timezone: 'UTC' });
        expect(data.series).toHaveLength(31);
        expect(data.series[0].start).toMatch(/T00:00:00\.000Z$/);
        for (let i = 1; i < data.series.length; i++) expect(data.series[i].start).toBe(data.series[i - 1].end);
        expect(data.from).toBe(data.series[0].start);
        expect(data.to).toBe(data.series[30].end);
        expect(Date.parse(data.to)).toBeGreaterThan(Date.now() - 1000);
      });

      it('aligns buckets to the time zone and reads dates there, the whole `to` day included', async () => {
        const response = await get(w.owner, 'threads?from=2025-03-29&to=2025-03-31&timezone=Europe/Berlin');
        expect(response.status).toBe(200);
        const series = response.body.data.series;
        expect(series.map((b: any) => b.start)).toEqual(['2025-03-28T23:00:00.000Z', '2025-03-29T23:00:00.000Z', '2025-03-30T22:00:00.000Z']);
        // March 30 in Berlin is 23 hours long.
        expect(Date.parse(series[1].end) - Date.parse(series[1].start)).toBe(23 * 3_600_000);
        expect(response.body.data.to).toBe('2025-03-31T22:00:00.000Z');
        const hours = await get(w.owner, 'threads?from=2025-10-26&to=2025-10-26&interval=hour&timezone=Europe/Berlin');
        expect(hours.body.data.series).toHaveLength(25);
      });
    });

    describe('workflow executions', () => {
      let open: any;
      let secret: any;
      let hidden: any;

      beforeAll(async () => {
        // The member's two private workflows and the owner's workspace one.
        open = await createWorkflow(t, w.owner.token, { name: 'Open', visibility: 'workspace' }, w.workspaceId);
        secret = await createWorkflow(t, w.member.token, { name: 'Secret', visibility: 'private' }, w.workspaceId);
        hidden = await createWorkflow(t, w.member.token, { name: 'Hidden', visibility: 'private' }, w.workspaceId);
        const duration = (ms: number) => ({ duration_ms_sum: ms, [DURATION_COLUMNS[durationClassOf(ms)]!]: 1 });
        await event('executions', [workflowDim(open.uuid)], DAY(3), { executions: 1, succeeded: 1, trigger_manual: 1, ...duration(100) });
        await event('executions', [workflowDim(open.uuid)], DAY(5), { executions: 2, succeeded: 1, failed: 1, trigger_webhook: 2, duration_ms_sum: 300, [DURATION_COLUMNS[durationClassOf(150)]!]: 2 });
        await event('executions', [workflowDim(secret.uuid)], DAY(5, 13), { executions: 4, failed: 4, trigger_schedule: 4, ...duration(10_000), [DURATION_COLUMNS[durationClassOf(10_000)]!]: 4, duration_ms_sum: 40_000 });
        await event('executions', [workflowDim(hidden.uuid)], DAY(7), { executions: 8, canceled: 8, trigger_manual: 8 });
        // Still in progress: a running one of the open workflow, a waiting one of the secret one.
        await insertExecution(open.uuid, 'running', DAY(6));
        await insertExecution(secret.uuid, 'waiting', DAY(6));
      });

      async function insertExecution(workflowId: string, status: 'running' | 'waiting', createdAt: string) {
        await t.ctx.db.kysely
          .insertInto('workflow_executions')
          .values({
            id: newId(),
            workspace_id: w.workspaceId,
            workflow_id: workflowId,
            user_id: null,
            status,
            trigger: 'webhook',
            trigger_node_id: 'webhook',
            workflow_version: 1,
            trigger_data: null,
            state: null,
            output: null,
            error: null,
            response: null,
            resume_data: null,
            idempotency_key: null,
            parent_execution_id: null,
            retry_of_id: null,
            node_runs: 0,
            // Not claimable by this app's runner: another's live lease, a wake far ahead.
            lease_owner: status === 'running' ? 'elsewhere' : null,
            lease_expires_at: status === 'running' ? '2099-01-01T00:00:00.000Z' : null,
            wake_at: status === 'waiting' ? '2099-01-01T00:00:00.000Z' : null,
            started_at: createdAt,
            finished_at: null,
            created_at: createdAt,
            updated_at: createdAt,
          })
          .execute();
      }

      it('counts every execution for the owner and admins, by status and trigger, totals equal to the series', async () => {
        for (const who of [w.owner, w.admin]) {
          const response = await get(who, `workflow-executions?${WEEK}`);
          expect(response.status, response.text).toBe(200);
          const { totals, series } = response.body.data;
          expect(series).toHaveLength(7);
          expect(totals).toMatchObject({ executions: 17, succeeded: 2, failed: 5, canceled: 8, running: 1, waiting: 1, queued: 0 });
          expect(totals.by_trigger).toEqual({ manual: 9, webhook: 4, schedule: 4, agent: 0, workflow: 0, error: 0, retry: 0 });
          for (const field of ['executions', 'succeeded', 'failed', 'canceled', 'running', 'waiting']) expect(sumOf(series, field)).toBe(totals[field]);
          // Feb 3, 5, 6, 7 have executions; the other days are present with zeros.
          expect(series.map((b: any) => b.executions)).toEqual([1, 0, 6, 2, 8, 0, 0]);
          expect(series[1]).toMatchObject({ executions: 0, succeeded: 0, duration_ms: { p50: null, p95: null } });
        }
      });

      it('sums quarter hours into the time zone’s buckets: Kathmandu hours start at :15 UTC', async () => {
        const response = await get(w.owner, 'workflow-executions?from=2025-02-05T10:00:00Z&to=2025-02-05T14:00:00Z&interval=hour&timezone=Asia/Kathmandu');
        const series = response.body.data.series;
        expect(series.map((b: any) => b.start)).toEqual(['2025-02-05T09:15:00.000Z', '2025-02-05T10:15:00.000Z', '2025-02-05T11:15:00.000Z', '2025-02-05T12:15:00.000Z', '2025-02-05T13:15:00.000Z']);
        // 12:00Z is 17:45 there (the 11:15Z bucket), 13:00Z is 18:45 (the 12:15Z one).
        expect(series.map((b: any) => b.executions)).toEqual([0, 0, 2, 4, 0]);
        const weeks = await get(w.owner, 'workflow-executions?from=2025-02-01&to=2025-02-28&interval=week&timezone=America/New_York');
        expect(weeks.body.data.series[0].start).toBe('2025-01-27T05:00:00.000Z');
        expect(weeks.body.data.series.map((b: any) => b.executions)).toEqual([0, 17, 0, 0, 0]);
      });

      it('does not count a member’s private workflows for another member, until shared', async () => {
        const viewer = await get(w.viewer, `workflow-executions?${WEEK}`);
        expect(viewer.body.data.totals).toMatchObject({ executions: 4, succeeded: 2, failed: 1, canceled: 0, running: 1, waiting: 0 });
        expect(viewer.body.data.totals.by_trigger).toMatchObject({ manual: 1, webhook: 3, schedule: 0 });
        const creator = await get(w.member, `workflow-executions?${WEEK}`);
        expect(creator.body.data.totals).toMatchObject({ executions: 17, failed: 5, canceled: 8, waiting: 1 });

        const shared = await w.call(w.member, { method: 'POST', url: `/api/v1/workflows/${secret.uuid}/share`, body: { users: [{ email: w.viewer.email, permission: 'view' }] } });
        expect(shared.status, shared.text).toBe(200);
        // Now one hidden (subtracted from the workspace's rows) rather than two (visible ones added up).
        const after = await get(w.viewer, `workflow-executions?${WEEK}`);
        expect(after.body.data.totals).toMatchObject({ executions: 9, succeeded: 2, failed: 5, canceled: 0, running: 1, waiting: 1 });
        expect(after.body.data.series.map((b: any) => b.executions)).toEqual([1, 0, 6, 2, 0, 0, 0]);
        await w.call(w.member, { method: 'POST', url: `/api/v1/workflows/${hidden.uuid}/share`, body: { users: [{ email: w.viewer.email, permission: 'view' }] } });
        expect((await get(w.viewer, `workflow-executions?${WEEK}`)).body.data.totals.executions).toBe(17);
      });

      it('filters by a workflow the caller sees; another’s private one is as unknown as a random id', async () => {
        const one = await get(w.owner, `workflow-executions?${WEEK}&workflow_uuid=${secret.uuid}`);
        expect(one.body.data.totals).toMatchObject({ executions: 5, failed: 4, waiting: 1, running: 0 });
        const other = await createWorkflow(t, w.admin.token, { name: 'Admin only', visibility: 'private' }, w.workspaceId);
        const invisible = await get(w.viewer, `workflow-executions?${WEEK}&workflow_uuid=${other.uuid}`);
        const unknown = await get(w.viewer, `workflow-executions?${WEEK}&workflow_uuid=${newId()}`);
        expect(invisible.status).toBe(422);
        expect(invisible.body).toEqual(unknown.body);
        expect(unknown.body.errors).toEqual({ workflow_uuid: ['The selected workflow uuid is invalid.'] });
        // Another workspace's workflow, even a public one, is not this workspace's to count.
        const elsewhere = await createWorkflow(t, w.stranger.token, { name: 'Elsewhere', visibility: 'public' });
        for (const path of ['workflow-executions', 'workflows']) {
          const foreign = await get(w.admin, `${path}?${WEEK}&workflow_uuid=${elsewhere.uuid}`);
          expect(foreign.status).toBe(422);
          expect(foreign.body).toEqual(unknown.body);
        }
        expect((await get(w.viewer, `workflows?${WEEK}&workflow_uuid=not-a-uuid`)).status).toBe(422);
      });

      it('reads duration percentiles from the histogram, within the class of the true value', async () => {
        const response = await get(w.owner, `workflow-executions?${WEEK}&workflow_uuid=${open.uuid}`);
        const { totals, series } = response.body.data;
        // 100, 150, 150 ms: the median is in 150's class, p95 too.
        const [lo, hi] = durationClassBounds(durationClassOf(150));
        expect(totals.duration_ms.p50).toBeGreaterThanOrEqual(Math.floor(lo));
        expect(totals.duration_ms.p50).toBeLessThanOrEqual(Math.ceil(hi));
        expect(totals.duration_ms.avg).toBe(Math.round(400 / 3));
        expect(series[0].duration_ms.p50).toBeGreaterThanOrEqual(Math.floor(durationClassBounds(durationClassOf(100))[0]));
        expect(series[0].duration_ms.p50).toBeLessThan(Math.ceil(durationClassBounds(durationClassOf(100))[1]));
        const none = await get(w.owner, 'workflow-executions?from=2024-01-01&to=2024-01-03');
        expect(none.body.data.totals.duration_ms).toEqual({ avg: null, p50: null, p95: null });
      });

      it('workflows metrics: visible workflows, active ones and their executions', async () => {
        const response = await get(w.admin, `workflows?${WEEK}`);
        expect(response.status, response.text).toBe(200);
        const { totals, series } = response.body.data;
        expect(totals).toMatchObject({ executions: 17, succeeded: 2, failed: 5, canceled: 8 });
        expect(totals.workflows).toBeGreaterThanOrEqual(4);
        expect(series).toHaveLength(7);
        expect(sumOf(series, 'executions')).toBe(totals.executions);
        const now = await get(w.viewer, 'workflows');
        // The viewer sees the open workflow and the two shared with them, not the admin's private one.
        expect(now.body.data.totals.workflows).toBe(3);
        expect(now.body.data.totals.created).toBe(3);
        expect(sumOf(now.body.data.series, 'created')).toBe(3);
        expect(now.body.data.totals.active).toBe(0);
      });

      it('counts an execution run through the API, live while it runs and from the rollups once it ended', async () => {
        const workflow = await createWorkflow(t, w.owner.token, { name: 'Run me', visibility: 'workspace', ...chain(manualNode(), setNode()) }, w.workspaceId);
        const run = await w.call(w.owner, { method: 'POST', url: `/api/v1/workflows/${workflow.uuid}/execute`, body: { input: {}, wait: true } });
        expect(run.body.data.status).toBe('succeeded');
        const response = await get(w.viewer, `workflow-executions?workflow_uuid=${workflow.uuid}&interval=hour&from=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`);
        expect(response.body.data.totals).toMatchObject({ executions: 1, succeeded: 1, running: 0, queued: 0 });
        expect(response.body.data.totals.by_trigger.manual).toBe(1);
        expect(response.body.data.totals.duration_ms.p50).not.toBeNull();
      });
    });

    describe('agents', () => {
      let shared: string;
      let secret: string;

      beforeAll(async () => {
        shared = await insertAgent(t, { workspaceId: w.workspaceId, userId: w.owner.user.id, name: 'Shared', visibility: 'workspace' });
        secret = await insertAgent(t, { workspaceId: w.workspaceId, userId: w.member.user.id, name: 'Secret', visibility: 'private' });
        await event('agent_runs', [agentDim(shared)], DAY(3), { runs: 4, succeeded: 3, failed: 1, input_tokens: 100, output_tokens: 50, cost: 0.25, latency_ms_sum: 4000, feedback_up: 2 });
        await event('agent_runs', [agentDim(secret)], DAY(4), { runs: 10, succeeded: 10, input_tokens: 1000, output_tokens: 500, cost: 2.5, latency_ms_sum: 1000, feedback_down: 3 });
      });

      it('counts a member’s private agent’s runs for them, the owner and admins, not for other members', async () => {
        for (const who of [w.owner, w.admin, w.member]) {
          const { totals, series } = (await get(who, `agents?${WEEK}`)).body.data;
          expect(totals).toMatchObject({ runs: 14, succeeded: 13, failed: 1, input_tokens: 1100, output_tokens: 550, cost: 2.75, feedback_up: 2, feedback_down: 3 });
          expect(totals.success_rate).toBeCloseTo(13 / 14, 4);
          expect(totals.feedback_score).toBeCloseTo(-0.2, 4);
          expect(totals.avg_latency_ms).toBe(Math.round(5000 / 14));
          for (const field of ['runs', 'succeeded', 'failed', 'input_tokens', 'output_tokens', 'feedback_up', 'feedback_down']) expect(sumOf(series, field)).toBe(totals[field]);
          expect(sumOf(series, 'cost')).toBeCloseTo(totals.cost, 6);
        }
        const viewer = (await get(w.viewer, `agents?${WEEK}`)).body.data;
        expect(viewer.totals).toMatchObject({ runs: 4, succeeded: 3, failed: 1, input_tokens: 100, cost: 0.25, feedback_up: 2, feedback_down: 0, feedback_score: 1 });
        expect(viewer.series.map((b: any) => b.runs)).toEqual([4, 0, 0, 0, 0, 0, 0]);
        expect(viewer.series[1]).toMatchObject({ runs: 0, success_rate: null, feedback_score: null, cost: 0 });
      });

      it('counts agents existing and created from the agents table, visible ones only', async () => {
        const range = 'from=2026-01-15&to=2026-01-16';
        const owner = (await get(w.owner, `agents?${range}`)).body.data.totals;
        const viewer = (await get(w.viewer, `agents?${range}`)).body.data.totals;
        expect(owner).toMatchObject({ agents: 2, created: 2, runs: 0, success_rate: null });
        expect(viewer).toMatchObject({ agents: 1, created: 1 });
      });

      it('filters by agent; a private agent of another member is refused like an unknown one', async () => {
        const one = (await get(w.member, `agents?${WEEK}&agent_uuid=${secret}`)).body.data.totals;
        expect(one).toMatchObject({ agents: 1, runs: 10, feedback_down: 3 });
        const refused = await get(w.viewer, `agents?${WEEK}&agent_uuid=${secret}`);
        const unknown = await get(w.viewer, `agents?${WEEK}&agent_uuid=${newId()}`);
        expect(refused.status).toBe(422);
        expect(refused.body).toEqual(unknown.body);
        expect(refused.body.errors).toEqual({ agent_uuid: ['The selected agent uuid is invalid.'] });
      });
    });

    describe('threads and messages', () => {
      let agent: string;

      beforeAll(async () => {
        agent = await insertAgent(t, { workspaceId: w.workspaceId, userId: w.owner.user.id, name: 'Talker', visibility: 'workspace' });
        // A workspace thread of the owner with 3 messages; a private thread of the member with 5.
        await event('conversations', [agentDim(agent), userDim(w.owner.user.id)], DAY(4), { threads: 1, messages: 3, user_messages: 2, assistant_messages: 1, input_tokens: 30, output_tokens: 20, cost: 0.01 });
        await event(
          'conversations',
          [userDim(w.member.user.id)],
          DAY(6),
          { threads: 1, messages: 5, user_messages: 3, assistant_messages: 2, input_tokens: 300, output_tokens: 200, cost: 0.5 },
          w.member.user.id,
        );
      });

      it('counts a private thread and its messages for its owner only, not even for admins', async () => {
        const member = (await get(w.member, `threads?${WEEK}`)).body.data;
        expect(member.totals).toMatchObject({ threads: 2, messages: 8 });
        expect(member.series.map((b: any) => b.messages)).toEqual([0, 3, 0, 5, 0, 0, 0]);
        for (const who of [w.owner, w.admin, w.viewer]) {
          const data = (await get(who, `threads?${WEEK}`)).body.data;
          expect(data.totals).toMatchObject({ threads: 1, messages: 3 });
          expect(sumOf(data.series, 'messages')).toBe(3);
        }
        const messages = (await get(w.member, `messages?${WEEK}`)).body.data;
        expect(messages.totals).toMatchObject({ messages: 8, user_messages: 5, assistant_messages: 3, input_tokens: 330, output_tokens: 220, cost: 0.51 });
        const others = (await get(w.admin, `messages?${WEEK}`)).body.data;
        expect(others.totals).toMatchObject({ messages: 3, user_messages: 2, assistant_messages: 1, input_tokens: 30, output_tokens: 20, cost: 0.01 });
        expect(sumOf(others.series, 'input_tokens')).toBe(30);
      });

      it('filters by thread owner and by agent', async () => {
        const byMember = await get(w.admin, `messages?${WEEK}&user_id=${w.member.user.id}`);
        expect(byMember.status).toBe(200);
        expect(byMember.body.data.totals.messages).toBe(0);
        expect((await get(w.member, `messages?${WEEK}&user_id=${w.member.user.id}`)).body.data.totals.messages).toBe(5);
        expect((await get(w.viewer, `messages?${WEEK}&user_id=${w.owner.user.id}`)).body.data.totals.messages).toBe(3);
        const stranger = await get(w.admin, `messages?${WEEK}&user_id=${w.stranger.user.id}`);
        expect(stranger.status).toBe(422);
        expect(stranger.body.errors).toEqual({ user_id: ['The selected user id is invalid.'] });
        const both = await get(w.admin, `threads?${WEEK}&user_id=${w.owner.user.id}&agent_uuid=${newId()}`);
        expect(both.status).toBe(422);
        const byAgent = (await get(w.member, `messages?${WEEK}&agent_uuid=${agent}`)).body.data;
        expect(byAgent.totals).toMatchObject({ messages: 3, input_tokens: 30 });
        expect(byAgent.series.map((b: any) => b.messages)).toEqual([0, 3, 0, 0, 0, 0, 0]);
      });

      it('counts the threads the caller may read now', async () => {
        await w.call(w.member, { method: 'POST', url: '/api/v1/threads', body: { name: 'Mine', visibility: 'private' } });
        await w.call(w.owner, { method: 'POST', url: '/api/v1/threads', body: { name: 'Ours', visibility: 'workspace' } });
        expect((await get(w.member, 'threads')).body.data.totals.threads_total).toBe(2);
        expect((await get(w.admin, 'threads')).body.data.totals.threads_total).toBe(1);
        expect((await get(w.admin, `threads?user_id=${w.member.user.id}`)).body.data.totals.threads_total).toBe(0);
        // Created through the API, they are counted by the rollups the writes keep current.
        expect((await get(w.member, 'threads')).body.data.totals.threads).toBe(2);
        expect((await get(w.admin, 'threads')).body.data.totals.threads).toBe(1);
        expect((await get(w.admin, 'threads?interval=hour&from=' + encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString()))).body.data.totals.threads).toBe(1);
      });
    });

    it('workspace metrics count the workflows and executions each caller sees', async () => {
      const counts = async (who: SignedUp) => {
        const response = await t.request({ url: '/api/v1/workspaces/metrics', token: who.token });
        expect(response.status).toBe(200);
        return response.body.data.find((d: any) => d.workspace.uuid === w.workspaceId).counts;
      };
      const all = await t.ctx.db.kysely.selectFrom('workflows').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', w.workspaceId).executeTakeFirstOrThrow();
      const executions = await t.ctx.db.kysely
        .selectFrom('workflow_executions')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('workspace_id', '=', w.workspaceId)
        .executeTakeFirstOrThrow();
      const admin = await counts(w.admin);
      expect(admin.workflows).toBe(Number(all.n));
      expect(admin.executions).toBe(Number(executions.n));
      const viewer = await counts(w.viewer);
      // Not the admin's private workflow; the member's two were shared with the viewer.
      expect(viewer.workflows).toBe(Number(all.n) - 1);
      // The executions list shows the viewer the open workflows' executions only (shares aside).
      expect(viewer.executions).toBe(Number(executions.n) - 1);
    });

    it('reads rollups by their primary key', async () => {
      const plan = await explainSumRollups(t.ctx.db.kysely, dialect, 'executions', {
        workspaceId: w.workspaceId,
        add: [''],
        subtract: [workflowDim(newId())],
        owners: [0],
        boundaries: [Date.parse(DAY(3, 0)), Date.parse(DAY(4, 0)), Date.parse(DAY(5, 0))],
      });
      if (dialect === 'sqlite') expect(plan).toMatch(/SEARCH execution_rollups USING PRIMARY KEY/);
      else expect(plan).toMatch(/execution_rollups_pk|Seq Scan on execution_rollups/);
    });

    it('documents the endpoints under Metrics in /openapi.json', async () => {
      const doc = (await t.request({ url: '/openapi.json' })).body;
      const summaries = Object.entries(doc.paths)
        .filter(([path]) => path.startsWith('/api/v1/metrics/'))
        .map(([, item]: [string, any]) => [item.get.summary, item.get.tags]);
      expect(summaries).toEqual(
        expect.arrayContaining([
          ['Get Agents Metrics', ['Metrics']],
          ['Get Workflows Metrics', ['Metrics']],
          ['Get Threads Metrics', ['Metrics']],
          ['Get Messages Metrics', ['Metrics']],
          ['Get Workflow Executions Metrics', ['Metrics']],
        ]),
      );
      expect(doc.tags.map((tag: any) => tag.name)).toContain('Metrics');
    });
  });
}
