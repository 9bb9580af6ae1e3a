import fs from 'node:fs';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionDataDir } from '../../src/modules/executions/payload-files.js';
import { pruneExecutions } from '../../src/modules/executions/retention.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { chain, createWorkflow, manualNode, node } from '../helpers/workflows.js';

const DAY = 86_400_000;

/** A workflow whose one node outputs `{ pad, n }` with `bytes` characters of pad (kept in a file when over the node data cap). */
const bigOutput = (bytes: number) => chain(manualNode('start'), node('big', 'transform', { output: `{{ { "pad": $pad("", ${bytes}, "x"), "n": input.n } }}` }));

for (const dialect of DIALECTS) {
  describe(`execution retention (${dialect})`, () => {
    let t: TestApp;
    let token: string;

    beforeAll(async () => {
      t = await createTestApp(dialect, { ATHENA_EXECUTION_RETENTION_COUNT: '5', ATHENA_WORKFLOW_MAX_NODE_DATA: '1kb' });
      ({ token } = await t.signUp());
    });
    afterAll(async () => t.close());

    /** Runs the workflow `times` times, one after another; answers the execution ids, oldest first. */
    const runTimes = async (workflowUuid: string, times: number): Promise<string[]> => {
      const ids: string[] = [];
      for (let n = 0; n < times; n += 1) {
        const response = await t.request({ method: 'POST', url: `/api/v1/workflows/${workflowUuid}/execute`, token, body: { input: { n }, wait: true } });
        expect(response.body.data?.status, response.text).toBe('succeeded');
        ids.push(response.body.data.uuid);
      }
      return ids;
    };
    const storedIds = async (workflowUuid: string) =>
      (await t.ctx.db.kysely.selectFrom('workflow_executions').select('id').where('workflow_id', '=', workflowUuid).orderBy('created_at').orderBy('id').execute()).map(
        (row) => row.id,
      );
    const stepCount = async (ids: string[]) =>
      Number(
        (
          await t.ctx.db.kysely
            .selectFrom('workflow_execution_steps')
            .select((eb) => eb.fn.countAll<number>().as('count'))
            .where('execution_id', 'in', ids)
            .executeTakeFirstOrThrow()
        ).count,
      );
    const finishedDaysAgo = (ids: string[], days: number) =>
      t.ctx.db.kysely
        .updateTable('workflow_executions')
        .set({ finished_at: new Date(Date.now() - days * DAY).toISOString() })
        .where('id', 'in', ids)
        .execute();

    it('keeps the newest executions of a workflow up to the global count, with their data files', async () => {
      const workflow = await createWorkflow(t, token, bigOutput(3000));
      const ids = await runTimes(workflow.uuid, 8);
      for (const id of ids) expect(fs.existsSync(executionDataDir(t.config.dataDir, id))).toBe(true);

      const deleted = await pruneExecutions(t.ctx);

      expect(deleted).toBeGreaterThanOrEqual(3);
      expect(await storedIds(workflow.uuid)).toEqual(ids.slice(3));
      for (const id of ids.slice(0, 3)) expect(fs.existsSync(executionDataDir(t.config.dataDir, id))).toBe(false);
      for (const id of ids.slice(3)) expect(fs.existsSync(executionDataDir(t.config.dataDir, id))).toBe(true);
      expect(await stepCount(ids.slice(0, 3))).toBe(0);
      expect(await stepCount(ids.slice(3))).toBe(5 * 2);
      // A kept execution still serves its data from its file.
      const kept = await t.request({ url: `/api/v1/workflow-executions/${ids[7]}/nodes/1/data`, token });
      expect(kept.status).toBe(200);
      expect(kept.body.data.output).toEqual({ pad: 'x'.repeat(3000), n: 7 });

      // Nothing more to prune: a second pass deletes nothing of this workflow.
      await pruneExecutions(t.ctx);
      expect(await storedIds(workflow.uuid)).toEqual(ids.slice(3));
    });

    it('keeps fewer when the workflow’s own retention says so', async () => {
      const workflow = await createWorkflow(t, token, { settings: { retention: { max_count: 2 } }, ...bigOutput(10) });
      const ids = await runTimes(workflow.uuid, 4);

      await pruneExecutions(t.ctx);

      expect(await storedIds(workflow.uuid)).toEqual(ids.slice(2));
    });

    it('prunes executions that finished longer ago than the global age, and those past a workflow’s own age', async () => {
      const global = await createWorkflow(t, token, bigOutput(3000));
      const globalIds = await runTimes(global.uuid, 3);
      // ATHENA_EXECUTION_RETENTION_DAYS is 30 by default.
      await finishedDaysAgo(globalIds.slice(0, 2), 31);
      const own = await createWorkflow(t, token, { settings: { retention: { max_age_days: 2 } }, ...bigOutput(10) });
      const ownIds = await runTimes(own.uuid, 3);
      await finishedDaysAgo([ownIds[0]!], 3);
      await finishedDaysAgo([ownIds[1]!], 1);

      await pruneExecutions(t.ctx);

      expect(await storedIds(global.uuid)).toEqual([globalIds[2]]);
      for (const id of globalIds.slice(0, 2)) expect(fs.existsSync(executionDataDir(t.config.dataDir, id))).toBe(false);
      expect(await storedIds(own.uuid)).toEqual(ownIds.slice(1));
    });

    it('counts what the age limit already pruned when it applies the count limit', async () => {
      // 5 executions; the 2 oldest are past the workflow's age: 3 are left, and 3 is the count to keep.
      const workflow = await createWorkflow(t, token, { settings: { retention: { max_age_days: 1, max_count: 3 } }, ...bigOutput(10) });
      const ids = await runTimes(workflow.uuid, 5);
      await finishedDaysAgo(ids.slice(0, 2), 2);

      await pruneExecutions(t.ctx);

      expect(await storedIds(workflow.uuid)).toEqual(ids.slice(2));
    });

    it('never prunes executions that have not finished', async () => {
      const workflow = await createWorkflow(t, token, { settings: { retention: { max_count: 1 } }, ...chain(manualNode('start'), node('hold', 'wait', { mode: 'resume' })) });
      const waiting: string[] = [];
      for (let n = 0; n < 3; n += 1) {
        const response = await t.request({ method: 'POST', url: `/api/v1/workflows/${workflow.uuid}/execute`, token, body: { input: { n }, wait: true } });
        expect(response.body.data.status).toBe('waiting');
        waiting.push(response.body.data.uuid);
      }
      await finishedDaysAgo(waiting, 400); // even with a (bogus) old finished_at

      await pruneExecutions(t.ctx);

      expect((await storedIds(workflow.uuid)).sort()).toEqual([...waiting].sort());
    });
  });
}

describe.runIf(DIALECTS.includes('sqlite'))('execution retention on SQLite: the file shrinks', () => {
  let t: TestApp;
  let token: string;

  beforeAll(async () => {
    // Big outputs stay inline in the rows, so pruning frees database pages.
    t = await createTestApp('sqlite', { ATHENA_EXECUTION_RETENTION_COUNT: '5', ATHENA_WORKFLOW_MAX_NODE_DATA: '1mb' });
    ({ token } = await t.signUp());
  });
  afterAll(async () => t.close());

  const pragma = async (name: 'page_count' | 'freelist_count' | 'auto_vacuum') =>
    Number(Object.values((await sql<Record<string, number>>`${sql.raw(`pragma ${name}`)}`.execute(t.ctx.db.kysely)).rows[0]!)[0]);

  it('gives the pages of pruned executions back to the file system (incremental auto-vacuum)', async () => {
    expect(await pragma('auto_vacuum')).toBe(2); // INCREMENTAL
    const workflow = await createWorkflow(t, token, bigOutput(20_000));
    for (let n = 0; n < 300; n += 1) {
      const response = await t.request({ method: 'POST', url: `/api/v1/workflows/${workflow.uuid}/execute`, token, body: { input: { n }, wait: true } });
      expect(response.body.data?.status).toBe('succeeded');
    }
    const pagesBefore = await pragma('page_count');
    // 300 executions × (step output + execution output) × 20 KB: at least 12 MB of 4 KB pages.
    expect(pagesBefore).toBeGreaterThan(2500);

    const deleted = await pruneExecutions(t.ctx);

    expect(deleted).toBe(295);
    const pagesAfter = await pragma('page_count');
    const free = await pragma('freelist_count');
    // 5 executions are left of 300: the file keeps a small part of its pages, and none sit free.
    expect(free, `free pages after pruning (${pagesAfter} pages of ${pagesBefore} left)`).toBe(0);
    expect(pagesAfter).toBeLessThan(pagesBefore / 10);
  }, 60_000);
});
