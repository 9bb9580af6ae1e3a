import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fireDueSchedules } from '../../src/modules/executions/scheduler.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { chain, createWorkflow, scheduleNode, setNode, storedSchedules, updateWorkflow } from '../helpers/workflows.js';

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const dialect of DIALECTS) {
  describe(`workflow schedules (${dialect})`, () => {
    let t: TestApp;
    let token: string;

    beforeAll(async () => {
      t = await createTestApp(dialect, { ATHENA_WORKFLOW_POLL_MS: '100' });
      ({ token } = await t.signUp());
    });
    afterAll(async () => t.close());

    const executionsOf = async (workflowUuid: string) => {
      const list = await t.request({ url: `/api/v1/workflow-executions?filter[workflow_uuid]=${workflowUuid}&per_page=100`, token });
      expect(list.status).toBe(200);
      return list.body.data as any[];
    };
    const dataOf = async (uuid: string) => (await t.request({ url: `/api/v1/workflow-executions/${uuid}`, token })).body.data;

    // Runs first: the schedules below fire for real, and fireDueSchedules fires whatever is due.
    it('fires a due schedule once when two pollers fire it at the same time', async () => {
      const workflow = await createWorkflow(t, token, { is_active: true, ...chain(scheduleNode('morning', '0 9 * * *', 'UTC'), setNode('note', { ran: true })) });
      const [row] = await storedSchedules(t, workflow.uuid);
      const due = new Date(row!.next_run_at);

      const fired = await Promise.all([fireDueSchedules(t.ctx, due), fireDueSchedules(t.ctx, due)]);

      expect(fired[0]! + fired[1]!).toBe(1);
      const done = await eventually(async () => {
        const list = await executionsOf(workflow.uuid);
        return list.length > 0 && list.every((execution) => execution.status === 'succeeded') ? list : undefined;
      });
      expect(done).toHaveLength(1);
      expect(done[0]).toMatchObject({ trigger: 'schedule', trigger_node_id: 'morning', output: { ran: true } });
      expect((await dataOf(done[0].uuid)).data.trigger_data).toEqual({ scheduled_at: due.toISOString(), cron: '0 9 * * *', timezone: 'UTC' });
      const [moved] = await storedSchedules(t, workflow.uuid);
      expect(moved!.next_run_at).toBe(new Date(due.getTime() + 86_400_000).toISOString());
      expect(moved!.last_run_at).toBe(due.toISOString());

      // Fired again for the same time (a poller that read the row before it moved): nothing new.
      expect(await fireDueSchedules(t.ctx, due)).toBe(0);
      expect(await executionsOf(workflow.uuid)).toHaveLength(1);

      // After three days down, the latest missed time fires once, not each missed one.
      const later = new Date(due.getTime() + 3 * 86_400_000 + 3_600_000);
      expect(await fireDueSchedules(t.ctx, later)).toBe(1);
      const caughtUp = await eventually(async () => {
        const list = await executionsOf(workflow.uuid);
        return list.length === 2 && list.every((execution) => execution.status === 'succeeded') ? list : undefined;
      });
      const newest = caughtUp.find((execution) => execution.uuid !== done[0].uuid)!;
      expect((await dataOf(newest.uuid)).data.trigger_data.scheduled_at).toBe(new Date(due.getTime() + 3 * 86_400_000).toISOString());
      expect((await storedSchedules(t, workflow.uuid))[0]!.next_run_at).toBe(new Date(due.getTime() + 4 * 86_400_000).toISOString());

      await updateWorkflow(t, token, workflow.uuid, { is_active: false });
    });

    it('fires an every-second schedule while the workflow is active, and stops when it is deactivated', async () => {
      const workflow = await createWorkflow(t, token, {
        is_active: true,
        ...chain(scheduleNode('tick', '* * * * * *', 'Europe/Berlin'), setNode('seen', { at: '{{ trigger.scheduled_at }}' })),
      });

      const fired = await eventually(async () => {
        const list = (await executionsOf(workflow.uuid)).filter((execution) => execution.status === 'succeeded');
        return list.length >= 2 ? list : undefined;
      }, 6000);

      for (const execution of fired) {
        expect(execution).toMatchObject({ trigger: 'schedule', trigger_node_id: 'tick' });
        const { data } = await dataOf(execution.uuid);
        expect(data.trigger_data).toEqual({ scheduled_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/), cron: '* * * * * *', timezone: 'Europe/Berlin' });
        expect(execution.output).toEqual({ ...data.trigger_data, at: data.trigger_data.scheduled_at });
      }
      const times = await Promise.all(fired.map(async (execution) => (await dataOf(execution.uuid)).data.trigger_data.scheduled_at));
      expect(new Set(times).size).toBe(times.length);

      await updateWorkflow(t, token, workflow.uuid, { is_active: false });
      expect(await storedSchedules(t, workflow.uuid)).toEqual([]);
      // A fire that was under way when it was deactivated may still land; after that, none.
      await sleep(300);
      const settled = (await executionsOf(workflow.uuid)).length;
      await sleep(2200);
      expect((await executionsOf(workflow.uuid)).length).toBe(settled);
    });
  });
}
