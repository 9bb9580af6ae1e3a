import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { chain, createWorkflow, edge, ifNode, manualNode, node, setNode, webhookNode } from '../helpers/workflows.js';

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const dialect of DIALECTS) {
  describe(`workflow executions (${dialect})`, () => {
    let t: TestApp;
    let token: string;

    beforeAll(async () => {
      t = await createTestApp(dialect, { ATHENA_WORKFLOW_POLL_MS: '100', ATHENA_WORKFLOW_MAX_NODE_DATA: '2048' });
      ({ token } = await t.signUp());
    });
    afterAll(async () => t.close());

    const execute = (workflowUuid: string, input: unknown, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
      t.request({ method: 'POST', url: `/api/v1/workflows/${workflowUuid}/execute`, token, body: { input, wait: true, ...extra }, headers });
    const retrieve = (uuid: string) => t.request({ url: `/api/v1/workflow-executions/${uuid}`, token });
    const settled = (uuid: string, statuses = ['succeeded', 'failed', 'canceled']) =>
      eventually(async () => {
        const response = await retrieve(uuid);
        return statuses.includes(response.body.data.status) ? response.body.data : undefined;
      });

    it('answers a webhook from its respond node, with every node’s data kept', async () => {
      const workflow = await createWorkflow(t, token, {
        is_active: true,
        ...chain(
          webhookNode('hook', { respond: 'respond_node' }),
          setNode('greet', { greeting: '{{ "hello " & trigger.body.name }}', count: '{{ trigger.body.n * 2 }}' }),
          node('reply', 'respond', { status: 201, headers: { 'x-flow': 'yes' }, body: '{{ input }}' }),
        ),
      });
      const url = new URL(workflow.webhook_url);
      const response = await t.request({ method: 'POST', url: `${url.pathname}${url.search}`, body: { name: 'Ada', n: 21 } });
      expect(response.status).toBe(201);
      expect(response.headers['x-flow']).toBe('yes');
      expect(response.body).toMatchObject({ body: { name: 'Ada', n: 21 }, method: 'POST', greeting: 'hello Ada', count: 42 });

      const list = await t.request({ url: `/api/v1/workflow-executions?filter[workflow_uuid]=${workflow.uuid}`, token });
      expect(list.body.meta.total).toBe(1);
      // The respond node answers before the execution records its end.
      await settled(list.body.data[0].uuid);
      const execution = (await retrieve(list.body.data[0].uuid)).body.data;
      expect(execution).toMatchObject({ status: 'succeeded', trigger: 'webhook', node_runs: 3 });
      expect(execution.data.nodes.map((n: any) => n.node_id)).toEqual(['hook', 'greet', 'reply']);
      expect(execution.data.nodes[1].output).toMatchObject({ greeting: 'hello Ada', count: 42 });
      expect(execution.data.trigger_data).toMatchObject({ method: 'POST', body: { name: 'Ada', n: 21 } });
      expect(execution.data.trigger_data.headers['x-webhook-secret']).toBeUndefined();
    });

    it('answers a repeated webhook call with the same Idempotency-Key from the first execution', async () => {
      const workflow = await createWorkflow(t, token, {
        is_active: true,
        ...chain(webhookNode('hook', { respond: 'respond_node' }), node('reply', 'respond', { status: 201, body: { n: '{{ trigger.body.n }}', at: '{{ execution.uuid }}' } })),
      });
      const url = new URL(workflow.webhook_url);
      const call = (n: number) => t.request({ method: 'POST', url: `${url.pathname}${url.search}`, headers: { 'idempotency-key': 'order-1' }, body: { n } });
      const first = await call(1);
      const second = await call(2);
      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.body).toEqual(first.body);
      const counts = await t.request({ url: `/api/v1/workflow-executions/counts?workflow_uuid=${workflow.uuid}`, token });
      expect(counts.body.data.total).toBe(1);
    });

    it('refuses webhook calls without the secret, for inactive workflows and for other methods', async () => {
      const workflow = await createWorkflow(t, token, { is_active: false });
      const url = new URL(workflow.webhook_url);
      expect((await t.request({ method: 'POST', url: url.pathname, body: {} })).status).toBe(401);
      expect((await t.request({ method: 'POST', url: `${url.pathname}?secret=wrong`, body: {} })).status).toBe(401);
      expect((await t.request({ method: 'POST', url: `${url.pathname}${url.search}`, body: {} })).status).toBe(409);
      await t.request({ method: 'PUT', url: `/api/v1/workflows/${workflow.uuid}`, token, body: { is_active: true } });
      expect((await t.request({ method: 'GET', url: `${url.pathname}${url.search}` })).status).toBe(405);
      const ok = await t.request({ method: 'POST', url: url.pathname, headers: { 'x-webhook-secret': url.searchParams.get('secret')! }, body: { a: 1 } });
      expect(ok.status).toBe(200);
    });

    it('runs a manual execution with wait and branches on an if', async () => {
      const workflow = await createWorkflow(t, token, {
        nodes: [
          manualNode('start'),
          ifNode('check', '{{ input.score > 5 }}'),
          setNode('high', { verdict: 'high' }),
          setNode('low', { verdict: 'low' }),
        ],
        edges: [edge('start', 'check'), edge('check', 'high', 'true'), edge('check', 'low', 'false')],
      });
      const high = await execute(workflow.uuid, { score: 9 });
      expect(high.status).toBe(200);
      expect(high.body.data).toMatchObject({ status: 'succeeded', output: { score: 9, verdict: 'high' }, trigger: 'manual' });
      const low = await execute(workflow.uuid, { score: 1 });
      expect(low.body.data.output).toEqual({ score: 1, verdict: 'low' });
      const data = (await retrieve(low.body.data.uuid)).body.data.data;
      expect(data.nodes.map((n: any) => [n.node_id, n.handle])).toEqual([
        ['start', 'main'],
        ['check', 'false'],
        ['low', 'main'],
      ]);
    });

    it('loops over items and merges branches', async () => {
      const workflow = await createWorkflow(t, token, {
        nodes: [
          manualNode('start'),
          node('each', 'loop', { items: '{{ input.items }}' }),
          node('double', 'transform', { output: '{{ input * 2 }}' }),
          node('sum', 'transform', { output: '{{ $sum(input) }}' }),
          node('other', 'transform', { output: 'side' }),
          node('join', 'merge', { mode: 'array' }),
        ],
        edges: [
          edge('start', 'each'),
          edge('each', 'double', 'item'),
          edge('double', 'each'),
          edge('each', 'sum', 'done'),
          edge('start', 'other'),
          edge('sum', 'join'),
          edge('other', 'join'),
        ],
      });
      const response = await execute(workflow.uuid, { items: [1, 2, 3] });
      expect(response.body.data.status).toBe('succeeded');
      expect(response.body.data.output).toEqual([12, 'side']);
    });

    it('parks on a wait node and goes on when resumed', async () => {
      const workflow = await createWorkflow(t, token, {
        ...chain(manualNode('start'), node('approval', 'wait', { mode: 'resume' }), node('after', 'set', { values: { approved: '{{ input.ok }}' } })),
      });
      const started = await execute(workflow.uuid, { ask: 1 });
      expect(started.status).toBe(202);
      const waiting = await settled(started.body.data.uuid, ['waiting']);
      expect(waiting.status).toBe('waiting');
      const resumed = await t.request({ method: 'POST', url: `/api/v1/workflow-executions/${waiting.uuid}/resume`, token, body: { data: { ok: true } } });
      expect(resumed.status).toBe(200);
      const done = await settled(waiting.uuid);
      expect(done).toMatchObject({ status: 'succeeded', output: { ok: true, approved: true } });
      const again = await t.request({ method: 'POST', url: `/api/v1/workflow-executions/${waiting.uuid}/resume`, token, body: {} });
      expect(again.status).toBe(409);
    });

    it('waits for a delay without holding a runner', async () => {
      const workflow = await createWorkflow(t, token, { ...chain(manualNode('start'), node('pause', 'wait', { mode: 'delay', seconds: 0.3 }), setNode('after', { done: true })) });
      const started = await execute(workflow.uuid, { x: 1 });
      const done = await settled(started.body.data.uuid);
      expect(done).toMatchObject({ status: 'succeeded', output: { x: 1, done: true } });
    });

    it('fails a node with a message naming the node, parameter and expression; retries from the failed node', async () => {
      const workflow = await createWorkflow(t, token, {
        ...chain(manualNode('start'), setNode('first', { a: 1 }), node('broken', 'transform', { output: '{{ $boom(input) }}' })),
      });
      const failed = await execute(workflow.uuid, {});
      expect(failed.body.data.status).toBe('failed');
      expect(failed.body.data.error.node_id).toBe('broken');
      expect(failed.body.data.error.message).toContain('broken');
      expect(failed.body.data.error.message).toContain('output');
      expect(failed.body.data.error.message).toContain('$boom(input)');

      // Fix the graph? A retry runs the snapshot it failed with: it fails again at the same node, without re-running `first`.
      const retried = await t.request({ method: 'POST', url: `/api/v1/workflow-executions/${failed.body.data.uuid}/retry`, token });
      expect(retried.status).toBe(200);
      expect(retried.body.data.retry_of_uuid).toBe(failed.body.data.uuid);
      const done = await settled(retried.body.data.uuid);
      expect(done.status).toBe('failed');
      const nodes = (await retrieve(done.uuid)).body.data.data.nodes;
      expect(nodes.map((n: any) => n.node_id)).toEqual(['start', 'first', 'broken']);
      expect(nodes[1].started_at).toBe((await retrieve(failed.body.data.uuid)).body.data.data.nodes[1].started_at);
    });

    it('continues on fail and routes errors to an error branch', async () => {
      const workflow = await createWorkflow(t, token, {
        nodes: [
          manualNode('start'),
          node('soft', 'code', { code: 'throw new Error("soft failure")' }, { on_error: 'continue' }),
          node('hard', 'code', { code: 'throw new Error("hard failure")' }, { on_error: 'error_output', retry: { max_attempts: 2, delay_ms: 10, backoff: 'fixed' } }),
          setNode('handled', { handled: true }),
          setNode('not-taken', { wrong: true }),
        ],
        edges: [edge('start', 'soft'), edge('soft', 'hard'), edge('hard', 'handled', 'error'), edge('hard', 'not-taken')],
      });
      const response = await execute(workflow.uuid, {});
      expect(response.body.data.status).toBe('succeeded');
      expect(response.body.data.output).toMatchObject({ handled: true, error: { message: expect.stringContaining('hard failure') } });
      const nodes = (await retrieve(response.body.data.uuid)).body.data.data.nodes;
      const hard = nodes.find((n: any) => n.node_id === 'hard');
      expect(hard).toMatchObject({ status: 'failed', handle: 'error', attempts: 2 });
      expect(nodes.find((n: any) => n.node_id === 'not-taken')).toBeUndefined();
    });

    it('stops a runaway loop at the node-run cap', async () => {
      const workflow = await createWorkflow(t, token, {
        settings: { max_node_runs: 50 },
        nodes: [manualNode('start'), node('each', 'loop', { items: '{{ [1..1000] }}' }), node('body', 'transform', { output: '{{ input }}' })],
        edges: [edge('start', 'each'), edge('each', 'body', 'item'), edge('body', 'each')],
      });
      const response = await execute(workflow.uuid, {});
      expect(response.body.data.status).toBe('failed');
      expect(response.body.data.error).toMatchObject({ kind: 'limit' });
      expect(response.body.data.node_runs).toBeLessThanOrEqual(51);
    });

    it('masks secret variables in execution data', async () => {
      const workflow = await createWorkflow(t, token, {
        variables: [
          { name: 'api_key', value: 'sk-very-secret-value', secret: true },
          { name: 'region', value: 'eu', secret: false },
        ],
        ...chain(manualNode('start'), setNode('use', { auth: '{{ "Bearer " & vars.api_key }}', region: '{{ vars.region }}' })),
      });
      const response = await execute(workflow.uuid, {});
      expect(response.body.data.status).toBe('succeeded');
      const execution = (await retrieve(response.body.data.uuid)).body.data;
      expect(JSON.stringify(execution)).not.toContain('sk-very-secret-value');
      expect(execution.data.nodes[1].output).toEqual({ auth: 'Bearer ********', region: 'eu' });
      expect(execution.data.workflow_data.variables).toContainEqual({ name: 'api_key', secret: true, value: '********' });
    });

    it('keeps large node data in files and serves it whole', async () => {
      const workflow = await createWorkflow(t, token, { ...chain(manualNode('start'), node('big', 'transform', { output: '{{ $pad("", 5000, "x") }}' })) });
      const response = await execute(workflow.uuid, {});
      expect(response.body.data.status).toBe('succeeded');
      const nodes = (await retrieve(response.body.data.uuid)).body.data.data.nodes;
      expect(nodes[1].output).toBeNull();
      expect(nodes[1].data_file_bytes).toBeGreaterThan(5000);
      const full = await t.request({ url: new URL(nodes[1].data_url).pathname, token });
      expect(full.body.data.output).toHaveLength(5000);
    });

    it('gives a retried execute with the same Idempotency-Key the first execution', async () => {
      const workflow = await createWorkflow(t, token, { ...chain(manualNode('start'), setNode('s', { v: 1 })) });
      const first = await execute(workflow.uuid, { n: 1 }, {}, { 'idempotency-key': 'abc' });
      const second = await execute(workflow.uuid, { n: 2 }, {}, { 'idempotency-key': 'abc' });
      expect(second.body.data.uuid).toBe(first.body.data.uuid);
      const counts = await t.request({ url: `/api/v1/workflow-executions/counts?workflow_uuid=${workflow.uuid}`, token });
      expect(counts.body.data.total).toBe(1);
      expect(counts.body.data.by_status.succeeded).toBe(1);
    });

    it('cancels a waiting execution and refuses to cancel twice', async () => {
      const workflow = await createWorkflow(t, token, { ...chain(manualNode('start'), node('hold', 'wait', { mode: 'resume' })) });
      const started = await execute(workflow.uuid, {});
      await settled(started.body.data.uuid, ['waiting']);
      const cancel = await t.request({ method: 'POST', url: `/api/v1/workflow-executions/${started.body.data.uuid}/cancel`, token });
      expect(cancel.body.data.status).toBe('canceled');
      expect((await t.request({ method: 'POST', url: `/api/v1/workflow-executions/${started.body.data.uuid}/cancel`, token })).status).toBe(409);
      const deleted = await t.request({ method: 'DELETE', url: `/api/v1/workflow-executions/${started.body.data.uuid}`, token });
      expect(deleted.status).toBe(204);
      expect((await retrieve(started.body.data.uuid)).status).toBe(404);
    });

    it('starts the error workflow when an execution fails', async () => {
      const onError = await createWorkflow(t, token, { name: 'On error', ...chain(manualNode('start'), setNode('note', { seen: '{{ trigger.error.node_id }}' })) });
      const workflow = await createWorkflow(t, token, {
        settings: { error_workflow_uuid: onError.uuid },
        ...chain(manualNode('start'), node('fail', 'code', { code: 'throw new Error("nope")' })),
      });
      const failed = await execute(workflow.uuid, {});
      expect(failed.body.data.status).toBe('failed');
      const errorRun = await eventually(async () => {
        const list = await t.request({ url: `/api/v1/workflow-executions?filter[workflow_uuid]=${onError.uuid}&filter[trigger]=error`, token });
        return list.body.data[0]?.status === 'succeeded' ? list.body.data[0] : undefined;
      });
      expect(errorRun.output).toMatchObject({ seen: 'fail' });
      expect(errorRun.parent_execution_uuid).toBe(failed.body.data.uuid);
    });

    it('answers bad input with 422 and unknown ids with 404, creating nothing', async () => {
      const workflow = await createWorkflow(t, token, { ...chain(manualNode('start'), setNode('s', { v: 1 })) });
      const before = (await t.request({ url: `/api/v1/workflow-executions/counts?workflow_uuid=${workflow.uuid}`, token })).body.data.total;
      const badWait = await t.request({ method: 'POST', url: `/api/v1/workflows/${workflow.uuid}/execute`, token, body: { wait: 'yes' } });
      expect(badWait.status).toBe(422);
      expect(badWait.body.errors).toHaveProperty('wait');
      const unknownField = await t.request({ method: 'POST', url: `/api/v1/workflows/${workflow.uuid}/execute`, token, body: { inputs: {} } });
      expect(unknownField.status).toBe(422);
      const badTrigger = await t.request({ method: 'POST', url: `/api/v1/workflows/${workflow.uuid}/execute`, token, body: { trigger_node_id: 's' } });
      expect(badTrigger.status).toBe(422);
      expect(badTrigger.body.errors).toHaveProperty('trigger_node_id');
      const after = (await t.request({ url: `/api/v1/workflow-executions/counts?workflow_uuid=${workflow.uuid}`, token })).body.data.total;
      expect(after).toBe(before);

      // A path id that is not a uuid names nothing: 404, as for every resource.
      expect((await t.request({ url: '/api/v1/workflow-executions/not-a-uuid', token })).status).toBe(404);
      expect((await t.request({ url: '/api/v1/workflow-executions?filter[status]=done', token })).status).toBe(422);
      expect((await t.request({ url: '/api/v1/workflow-executions/01980000-0000-7000-8000-00000000dead', token })).status).toBe(404);
      expect((await t.request({ method: 'POST', url: '/api/v1/workflow-executions/01980000-0000-7000-8000-00000000dead/cancel', token })).status).toBe(404);
      expect((await t.request({ method: 'POST', url: '/api/v1/workflows/01980000-0000-7000-8000-00000000dead/execute', token, body: {} })).status).toBe(404);

      const run = await execute(workflow.uuid, {});
      const badResume = await t.request({ method: 'POST', url: `/api/v1/workflow-executions/${run.body.data.uuid}/resume`, token, body: { payload: 1 } });
      expect(badResume.status).toBe(422);
      expect((await t.request({ url: `/api/v1/workflow-executions/${run.body.data.uuid}/nodes/x/data`, token })).status).toBe(404);
      expect((await t.request({ url: `/api/v1/workflow-executions/${run.body.data.uuid}/nodes/99/data`, token })).status).toBe(404);
    });

    it('does not show another workspace’s executions', async () => {
      const workflow = await createWorkflow(t, token, { ...chain(manualNode('start'), setNode('s', { v: 1 })) });
      const run = await execute(workflow.uuid, {});
      const other = await t.signUp();
      expect((await t.request({ url: `/api/v1/workflow-executions/${run.body.data.uuid}`, token: other.token })).status).toBe(404);
      expect((await t.request({ method: 'POST', url: `/api/v1/workflows/${workflow.uuid}/execute`, token: other.token, body: {} })).status).toBe(404);
      const list = await t.request({ url: '/api/v1/workflow-executions', token: other.token });
      expect(list.body.meta.total).toBe(0);
    });

    // Last in this file: the hook stays registered on the runner.
    it('tells progress observers of each step, and a failing observer does not fail the execution', async () => {
      const seen: number[] = [];
      t.ctx.executions.onProgress((_row, nodeRuns, nodeCount) => {
        seen.push(nodeRuns, nodeCount);
        throw new Error('observer broke');
      });
      const workflow = await createWorkflow(t, token, chain(manualNode('start'), setNode('one', { a: 1 }), setNode('two', { b: 2 })));
      const response = await execute(workflow.uuid, {});
      expect(response.status, response.text).toBe(200);
      expect(response.body.data.status).toBe('succeeded');
      // At the start (0 node runs), then after each of the three steps; 3 nodes in the graph.
      expect(seen).toEqual([0, 3, 1, 3, 2, 3, 3, 3]);
      expect(t.logs.some((line) => line.msg === 'an execution progress hook failed')).toBe(true);
    });
  });
}
