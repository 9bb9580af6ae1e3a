import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chain, manualNode, node, setNode, workflowBody } from '../helpers/workflows.js';
import { assertReachable, call, Cluster, ownerPid, SCALE_ENABLED, signUp, until, type ApiProc, type Proc } from './cluster.js';

const PER_WORKER = 20;
const EXECUTIONS = 2 * PER_WORKER;
const NODES = ['start', 'one', 'pause', 'two', 'finish'];
/** Starts, the kill, the take-over and every execution's end must fit in this. */
const BUDGET_MS = 100_000;

/** A code node that keeps its process busy for 300 ms, then marks its step. */
const busy = (id: string, step: number) =>
  node(id, 'code', { code: `const end = Date.now() + 300; while (Date.now() < end) {} return { ...input, step: ${step} };` });

describe.skipIf(!SCALE_ENABLED)('scale mode: a worker killed with executions in flight', () => {
  let cluster: Cluster;
  let api: ApiProc;
  let workers: Proc[];
  let token: string;

  beforeAll(async () => {
    await assertReachable(process.env.TEST_REDIS_URL!);
    cluster = new Cluster(process.env.TEST_REDIS_URL!, { ATHENA_WORKFLOW_CONCURRENCY: '6' });
    // The API process migrates the fresh schema; the workers then start side by side.
    api = await cluster.startApi();
    // The survivor has room for everything, so the take-over times below are the lease's, not a wait for a free slot.
    workers = await Promise.all([cluster.startWorker('worker-1'), cluster.startWorker('worker-2', { ATHENA_WORKFLOW_CONCURRENCY: String(EXECUTIONS) })]);
    token = await signUp(api.url);
  }, 120_000);

  afterAll(async () => cluster?.close(), 30_000);

  it(
    'loses nothing and runs no node to completion twice: the other worker resumes what the killed one held',
    async () => {
      const deadline = Date.now() + BUDGET_MS;
      const [victim, survivor] = workers as [Proc, Proc];
      const created = await call(api.url, '/api/v1/workflows', {
        method: 'POST',
        token,
        body: workflowBody({
          name: 'Slow steps',
          ...chain(manualNode('start'), busy('one', 1), node('pause', 'wait', { mode: 'delay', seconds: 1 }), busy('two', 2), setNode('finish', { done: true })),
        }),
      });
      expect(created.status, created.text).toBe(201);
      const workflowUuid: string = created.body.data.uuid;

      const started = await Promise.all(
        Array.from({ length: EXECUTIONS }, (_, n) =>
          call(api.url, `/api/v1/workflows/${workflowUuid}/execute`, { method: 'POST', token, body: { input: { n }, wait: false } }),
        ),
      );
      const byUuid = new Map<string, number>();
      started.forEach((response, n) => {
        expect(response.status, response.text).toBe(202);
        byUuid.set(response.body.data.uuid, n);
      });

      // Kill the victim while it holds several executions, some of them past their first node.
      const held = await until(
        'the victim holds executions in the middle of their run',
        deadline,
        async () => {
          const rows = await cluster.query<{ id: string; lease_owner: string; steps: number }>(
            `select e.id, e.lease_owner, (select count(*)::int from workflow_execution_steps s where s.execution_id = e.id and s.status = 'succeeded') as steps
             from workflow_executions e where e.status = 'running'`,
          );
          const mine = rows.filter((row) => ownerPid(row.lease_owner) === victim.pid);
          return mine.length >= 2 && mine.some((row) => row.steps >= 1) ? mine : undefined;
        },
        10,
      );
      await cluster.stop(victim, 'SIGKILL');
      const killedAt = Date.now();
      // What the victim held when it died (its leases outlive it).
      const orphans = (
        await cluster.query<{ id: string; lease_owner: string; lease_expires_at: string }>(
          `select id, lease_owner, lease_expires_at from workflow_executions where status = 'running'`,
        )
      ).filter((row) => ownerPid(row.lease_owner) === victim.pid);
      const leasesEnd = orphans.map((orphan) => new Date(orphan.lease_expires_at).getTime() - killedAt).sort((a, b) => a - b);
      expect(orphans.length).toBeGreaterThanOrEqual(held.length > 0 ? 1 : 0);
      const succeededAtKill = (await cluster.query<{ count: number }>(`select count(*)::int as count from workflow_executions where status = 'succeeded'`))[0]!.count;
      expect(succeededAtKill).toBeLessThan(EXECUTIONS);

      // When the survivor took each orphan over, and when each ended.
      const takenOver = new Map<string, number>();
      const ended = new Map<string, number>();
      await until(
        'every execution succeeded',
        deadline,
        async () => {
          const rows = await cluster.query<{ id: string; status: string; lease_owner: string | null }>(`select id, status, lease_owner from workflow_executions`);
          const now = Date.now();
          for (const row of rows) {
            if (!orphans.some((orphan) => orphan.id === row.id)) continue;
            if (!takenOver.has(row.id) && (ownerPid(row.lease_owner) === survivor.pid || row.status !== 'running')) takenOver.set(row.id, now - killedAt);
            if (!ended.has(row.id) && row.status === 'succeeded') ended.set(row.id, now - killedAt);
          }
          const failed = rows.filter((row) => row.status === 'failed' || row.status === 'canceled');
          if (failed.length > 0) throw new Error(`executions ended ${failed.map((row) => row.status).join(', ')}:\n${cluster.outputs()}`);
          return rows.length === EXECUTIONS && rows.every((row) => row.status === 'succeeded') ? rows : undefined;
        },
        20,
      );
      const allDoneAfter = Date.now() - killedAt;

      for (const [uuid, n] of byUuid) {
        const response = await call(api.url, `/api/v1/workflow-executions/${uuid}`, { token });
        const execution = response.body.data;
        expect(execution).toMatchObject({ status: 'succeeded', output: { n, step: 2, done: true }, node_runs: NODES.length, error: null });
        // Each node ran to completion exactly once, in order.
        expect(execution.data.nodes.map((step: { node_id: string; status: string }) => [step.node_id, step.status])).toEqual(
          NODES.map((id) => [id, 'succeeded']),
        );
      }
      // Every step row (not only the API's view): one per node per execution.
      const steps = await cluster.query<{ execution_id: string; node_id: string; count: number }>(
        `select execution_id, node_id, count(*)::int as count from workflow_execution_steps group by execution_id, node_id`,
      );
      expect(steps).toHaveLength(EXECUTIONS * NODES.length);
      expect(steps.every((step) => step.count === 1)).toBe(true);

      // The survivor is still well, and stops cleanly, handing nothing back (nothing is left).
      expect(await cluster.stop(survivor, 'SIGTERM')).toBe(0);

      const ms = (values: Iterable<number>) => [...values].sort((a, b) => a - b);
      const resumed = ms(takenOver.values());
      const finished = ms(ended.values());
      console.log(
        `scale worker kill: ${orphans.length} executions in flight on the killed worker (${succeededAtKill}/${EXECUTIONS} done at the kill); ` +
          `their leases ran out ${leasesEnd[0]}–${leasesEnd.at(-1)} ms after the kill; ` +
          `taken over after ${resumed[0]}–${resumed.at(-1)} ms, finished after ${finished[0]}–${finished.at(-1)} ms; ` +
          `all ${EXECUTIONS} done ${allDoneAfter} ms after the kill`,
      );
    },
    BUDGET_MS + 10_000,
  );

  it(
    'a worker stopped with SIGTERM hands its executions back at once and exits cleanly',
    async () => {
      const deadline = Date.now() + BUDGET_MS;
      const [leaving, staying] = await Promise.all([cluster.startWorker('worker-3'), cluster.startWorker('worker-4', { ATHENA_WORKFLOW_CONCURRENCY: '20' })]);
      const created = await call(api.url, '/api/v1/workflows', {
        method: 'POST',
        token,
        body: workflowBody({ name: 'Handed back', ...chain(manualNode('start'), busy('one', 1), busy('two', 2), setNode('finish', { done: true })) }),
      });
      expect(created.status, created.text).toBe(201);
      const count = 12;
      const started = await Promise.all(
        Array.from({ length: count }, (_, n) =>
          call(api.url, `/api/v1/workflows/${created.body.data.uuid}/execute`, { method: 'POST', token, body: { input: { n }, wait: false } }),
        ),
      );
      for (const response of started) expect(response.status, response.text).toBe(202);
      const ids = new Set(started.map((response) => response.body.data.uuid as string));

      const held = await until(
        'the leaving worker holds executions',
        deadline,
        async () => {
          const rows = await cluster.query<{ id: string; lease_owner: string }>(`select id, lease_owner from workflow_executions where status = 'running'`);
          const mine = rows.filter((row) => ids.has(row.id) && ownerPid(row.lease_owner) === leaving.pid);
          return mine.length >= 2 ? mine : undefined;
        },
        10,
      );
      const signalledAt = Date.now();
      const code = await cluster.stop(leaving, 'SIGTERM');
      const exitMs = Date.now() - signalledAt;
      expect(code, leaving.output()).toBe(0);
      // Nothing is left under its lease: what it ran is queued again (or already claimed by the other worker).
      const after = await cluster.query<{ id: string; status: string; lease_owner: string | null }>(
        `select id, status, lease_owner from workflow_executions where id = any($1)`,
        [held.map((entry) => entry.id)],
      );
      for (const row of after) expect(ownerPid(row.lease_owner)).not.toBe(leaving.pid);

      // Handed back: claimed by the other worker's next poll, not after the lease would have run out.
      const claimed = new Map<string, number>();
      await until(
        'every execution succeeded',
        deadline,
        async () => {
          const rows = (await cluster.query<{ id: string; status: string; lease_owner: string | null }>(`select id, status, lease_owner from workflow_executions`)).filter(
            (row) => ids.has(row.id),
          );
          for (const row of rows) {
            if (!held.some((entry) => entry.id === row.id) || claimed.has(row.id)) continue;
            if (ownerPid(row.lease_owner) === staying.pid || row.status === 'succeeded') claimed.set(row.id, Date.now() - signalledAt);
          }
          return rows.every((row) => row.status === 'succeeded') ? rows : undefined;
        },
        20,
      );
      const steps = await cluster.query<{ count: number }>(
        `select count(*)::int as count from workflow_execution_steps where execution_id = any($1) and status = 'succeeded' group by execution_id, node_id`,
        [[...ids]],
      );
      expect(steps).toHaveLength(count * 4);
      expect(steps.every((step) => step.count === 1)).toBe(true);
      const taken = [...claimed.values()].sort((a, b) => a - b);
      console.log(
        `scale worker SIGTERM: exited in ${exitMs} ms with ${held.length}+ executions in flight; they were claimed by the other worker ${taken[0]}–${taken.at(-1)} ms after the signal`,
      );
    },
    BUDGET_MS + 10_000,
  );
});
