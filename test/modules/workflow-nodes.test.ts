import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendJson, startFakeServer, type FakeServer } from '../fakes/http-fake.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { chain, createWorkflow, edge, manualNode, node, setNode, updateWorkflow, webhookNode } from '../helpers/workflows.js';

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const GUARD_MESSAGE = /^Outbound calls to \S+ \(\S+\) are not allowed: it is a private, loopback or link-local address\.$/;

/** Every node type of the catalog through the API (branching, loops, waits and errors are in workflow-executions.test.ts). */
for (const dialect of DIALECTS) {
  describe(`workflow nodes (${dialect})`, () => {
    let t: TestApp;
    let token: string;
    let api: FakeServer;
    let other: FakeServer;

    beforeAll(async () => {
      other = await startFakeServer((request, response) => sendJson(response, 200, { reached: 'other', path: request.path }));
      api = await startFakeServer((request, response) => {
        switch (request.path) {
          case '/missing':
            return sendJson(response, 404, { message: 'no such thing' });
          case '/redirect-loopback':
            response.writeHead(302, { location: `${other.url}/internal` });
            response.end();
            return;
          default:
            return sendJson(response, 200, {
              method: request.method,
              path: request.path,
              query: Object.fromEntries(request.query),
              custom: request.headers['x-custom'] ?? null,
              content_type: request.headers['content-type'] ?? null,
              body: request.body,
            });
        }
      });
      t = await createTestApp(dialect, { ATHENA_WORKFLOW_POLL_MS: '100', ATHENA_OUTBOUND_ALLOW: '127.0.0.1', ATHENA_CODE_TIMEOUT_MS: '300' });
      ({ token } = await t.signUp());
    });
    afterAll(async () => {
      await t.close();
      await api.close();
      await other.close();
    });

    const execute = async (workflowUuid: string, input: unknown, app: TestApp = t, as = token) => {
      const response = await app.request({ method: 'POST', url: `/api/v1/workflows/${workflowUuid}/execute`, token: as, body: { input, wait: true } });
      expect([200, 202], response.text).toContain(response.status);
      return response.body.data;
    };
    const retrieve = async (uuid: string, app: TestApp = t, as = token) => {
      const response = await app.request({ url: `/api/v1/workflow-executions/${uuid}`, token: as });
      expect(response.status, response.text).toBe(200);
      return response.body.data;
    };
    const settled = (uuid: string, statuses = ['succeeded', 'failed', 'canceled']) =>
      eventually(async () => {
        const execution = await retrieve(uuid);
        return statuses.includes(execution.status) ? execution : undefined;
      });
    const executionsOf = async (workflowUuid: string) =>
      (await t.request({ url: `/api/v1/workflow-executions?filter[workflow_uuid]=${workflowUuid}&per_page=100`, token })).body.data as any[];
    const webhookPath = (workflow: { webhook_url: string }) => {
      const url = new URL(workflow.webhook_url);
      return `${url.pathname}${url.search}`;
    };

    describe('switch', () => {
      it('leaves by the first case that holds, else by default', async () => {
        const workflow = await createWorkflow(t, token, {
          nodes: [
            manualNode('start'),
            node('route', 'switch', {
              cases: [
                { handle: 'big', condition: '{{ input.n > 10 }}' },
                { handle: 'small', condition: '{{ input.n < 3 }}' },
                { handle: 'even', condition: '{{ input.n % 2 = 0 }}' },
              ],
            }),
            setNode('big', { size: 'big' }),
            setNode('small', { size: 'small' }),
            setNode('even', { size: 'even' }),
            setNode('other', { size: 'other' }),
          ],
          edges: [edge('start', 'route'), edge('route', 'big', 'big'), edge('route', 'small', 'small'), edge('route', 'even', 'even'), edge('route', 'other', 'default')],
        });
        // 20 is big and even: the first case wins.
        for (const [n, size] of [
          [20, 'big'],
          [1, 'small'],
          [4, 'even'],
          [5, 'other'],
        ] as const) {
          const execution = await execute(workflow.uuid, { n });
          expect(execution).toMatchObject({ status: 'succeeded', output: { n, size } });
          const { data } = await retrieve(execution.uuid);
          expect(data.nodes.map((step: any) => [step.node_id, step.handle])).toEqual([
            ['start', 'main'],
            ['route', size === 'other' ? 'default' : size],
            [size, 'main'],
          ]);
        }
      });

      it('follows no edge when no case holds and fallback is off', async () => {
        const workflow = await createWorkflow(t, token, {
          nodes: [manualNode('start'), node('route', 'switch', { cases: [{ handle: 'yes', condition: '{{ input.ok }}' }], fallback: false }), setNode('yes', { taken: true })],
          edges: [edge('start', 'route'), edge('route', 'yes', 'yes')],
        });
        const execution = await execute(workflow.uuid, { ok: false });
        expect(execution).toMatchObject({ status: 'succeeded', output: { ok: false } });
        const { data } = await retrieve(execution.uuid);
        expect(data.nodes.map((step: any) => [step.node_id, step.handle])).toEqual([
          ['start', 'main'],
          ['route', null],
        ]);
        expect((await execute(workflow.uuid, { ok: true })).output).toEqual({ ok: true, taken: true });
      });
    });

    describe('merge', () => {
      //          ┌──► a ──┐
      // start ───┤        ├──► join
      //          └──► b ──┘
      const mergeWorkflow = (mode: string) =>
        createWorkflow(t, token, {
          nodes: [
            manualNode('start'),
            node('a', 'set', { values: { a: 1, shared: 'from a' }, keep_input: false }),
            node('b', 'set', { values: { b: 2, shared: 'from b' }, keep_input: false }),
            node('join', 'merge', { mode }),
          ],
          edges: [edge('start', 'a'), edge('start', 'b'), edge('a', 'join'), edge('b', 'join')],
        });

      it.each([
        ['object', { a: { a: 1, shared: 'from a' }, b: { b: 2, shared: 'from b' } }],
        ['merge', { a: 1, b: 2, shared: 'from b' }],
        ['first', { a: 1, shared: 'from a' }],
        ['array', [{ a: 1, shared: 'from a' }, { b: 2, shared: 'from b' }]],
      ])('in %s mode waits for both branches and combines them', async (mode, expected) => {
        const workflow = await mergeWorkflow(mode);
        const execution = await execute(workflow.uuid, {});
        expect(execution).toMatchObject({ status: 'succeeded', output: expected });
        const { data } = await retrieve(execution.uuid);
        expect(data.nodes.map((step: any) => step.node_id)).toEqual(['start', 'a', 'b', 'join']);
      });
    });

    describe('transform', () => {
      it('outputs what its expression computes', async () => {
        const workflow = await createWorkflow(t, token, {
          ...chain(manualNode('start'), node('shape', 'transform', { output: '{{ { "total": $sum(input.items.(price * qty)), "names": input.items.name, "count": $count(input.items) } }}' })),
        });
        const execution = await execute(workflow.uuid, {
          items: [
            { name: 'bolt', price: 2, qty: 10 },
            { name: 'nut', price: 0.5, qty: 4 },
          ],
        });
        expect(execution).toMatchObject({ status: 'succeeded', output: { total: 22, names: ['bolt', 'nut'], count: 2 } });
      });

      it('outputs a plain string, a number and null, and they read back as they were', async () => {
        const workflow = await createWorkflow(t, token, {
          ...chain(
            manualNode('start'),
            node('text', 'transform', { output: 'Hello {{ input.name }}' }),
            node('number', 'transform', { output: '{{ $length(input) }}' }),
            node('nothing', 'transform', { output: null }),
          ),
        });
        const execution = await execute(workflow.uuid, { name: 'Ada' });
        expect(execution).toMatchObject({ status: 'succeeded', output: null });
        const { data } = await retrieve(execution.uuid);
        expect(data.nodes.map((step: any) => step.output)).toEqual([{ name: 'Ada' }, 'Hello Ada', 9, null]);
        // A string that is itself JSON text stays a string.
        const json = await createWorkflow(t, token, { ...chain(manualNode('start'), node('text', 'transform', { output: '{{ input.raw }}' })) });
        const run = await execute(json.uuid, { raw: '123' });
        expect(run).toMatchObject({ status: 'succeeded', output: '123' });
        expect((await retrieve(run.uuid)).data.nodes[1].output).toBe('123');
      });
    });

    describe('code', () => {
      const codeWorkflow = (code: string, extra: Record<string, unknown> = {}) =>
        createWorkflow(t, token, { ...extra, ...chain(manualNode('start'), node('script', 'code', { code })) });

      it('returns what the code computes, awaits async code, and sees vars, nodes, trigger and execution', async () => {
        const computed = await codeWorkflow('const total = input.items.reduce((sum, item) => sum + item, 0); return { total, doubled: input.items.map((item) => item * 2) };');
        expect(await execute(computed.uuid, { items: [1, 2, 3] })).toMatchObject({ status: 'succeeded', output: { total: 6, doubled: [2, 4, 6] } });

        const asynchronous = await codeWorkflow('const value = await Promise.resolve(input.n * 3); const later = await new Promise((resolve) => resolve(value + 1)); return { value, later };');
        expect(await execute(asynchronous.uuid, { n: 5 })).toMatchObject({ status: 'succeeded', output: { value: 15, later: 16 } });

        const scoped = await codeWorkflow('return { region: vars.region, first: nodes.start.output.a, trigger: trigger.a, uuid: execution.uuid };', {
          variables: [{ name: 'region', value: 'eu-west', secret: false }],
        });
        const execution = await execute(scoped.uuid, { a: 7 });
        expect(execution).toMatchObject({ status: 'succeeded', output: { region: 'eu-west', first: 7, trigger: 7, uuid: execution.uuid } });
      });

      it.each([
        ['process.exit()', 'process.exit(1); return 1;', /process/],
        ['require', "const fs = require('fs'); return fs.readFileSync('/etc/passwd', 'utf8');", /require/],
        ['a constructor chain', "const host = (function () {}).constructor('return process')(); return host.pid;", /process/],
        ['an infinite loop', 'while (true) {}', /^Code ran longer than 300 ms/],
        ['a string that doubles forever', "let s = 'x'; for (;;) s = s + s;", /string too long|memory/],
        ['a memory bomb', 'const hoard = []; for (;;) hoard.push(new Array(100000).fill(hoard.length));', /^Code used more than \S+ MB of memory/],
      ])('fails the node safely on %s', async (_name, code, message) => {
        const workflow = await codeWorkflow(code);
        const execution = await execute(workflow.uuid, {});
        expect(execution).toMatchObject({ status: 'failed', error: { node_id: 'script', kind: 'sandbox' } });
        expect(execution.error.message).toMatch(message);
        const { data } = await retrieve(execution.uuid);
        expect(data.nodes[1]).toMatchObject({ node_id: 'script', status: 'failed', error: { kind: 'sandbox' } });
        // The server goes on answering, and runs code.
        expect((await t.request({ url: '/health' })).status).toBe(200);
        const healthy = await codeWorkflow('return { ok: input.n + 1 };');
        expect(await execute(healthy.uuid, { n: 1 })).toMatchObject({ status: 'succeeded', output: { ok: 2 } });
      });
    });

    describe('http_request', () => {
      it('sends a GET with query and headers, and a POST with a JSON body', async () => {
        const workflow = await createWorkflow(t, token, {
          ...chain(
            manualNode('start'),
            node('get', 'http_request', { url: `${api.url}/items?fixed=1`, query: { page: '{{ input.page }}' }, headers: { 'x-custom': '{{ input.tag }}' } }),
            node('post', 'http_request', { method: 'POST', url: `${api.url}/items`, body: { name: '{{ nodes.start.output.name }}', seen: '{{ input.body.query }}' } }),
          ),
        });
        const execution = await execute(workflow.uuid, { page: 2, tag: 'blue', name: 'Widget' });
        expect(execution.status).toBe('succeeded');
        const { data } = await retrieve(execution.uuid);
        expect(data.nodes[1].output).toMatchObject({
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: { method: 'GET', path: '/items', query: { fixed: '1', page: '2' }, custom: 'blue' },
        });
        expect(execution.output).toMatchObject({ status: 200, body: { method: 'POST', content_type: 'application/json' } });
        expect(JSON.parse(execution.output.body.body)).toEqual({ name: 'Widget', seen: { fixed: '1', page: '2' } });
      });

      it('fails on a 4xx answer unless fail_on_status is false', async () => {
        const failing = await createWorkflow(t, token, { ...chain(manualNode('start'), node('call', 'http_request', { url: `${api.url}/missing` })) });
        const failed = await execute(failing.uuid, {});
        expect(failed).toMatchObject({ status: 'failed', error: { node_id: 'call', kind: 'node', message: 'Node "call": the request answered 404.' } });
        const { data } = await retrieve(failed.uuid);
        expect(data.nodes[1].error.details).toEqual({ status: 404, body: { message: 'no such thing' } });

        const lenient = await createWorkflow(t, token, { ...chain(manualNode('start'), node('call', 'http_request', { url: `${api.url}/missing`, fail_on_status: false })) });
        expect(await execute(lenient.uuid, {})).toMatchObject({ status: 'succeeded', output: { status: 404, body: { message: 'no such thing' } } });
      });

      describe('without ATHENA_OUTBOUND_ALLOW', () => {
        let closed: TestApp;
        let closedToken: string;
        beforeAll(async () => {
          closed = await createTestApp(dialect, { ATHENA_WORKFLOW_POLL_MS: '100' });
          ({ token: closedToken } = await closed.signUp());
        });
        afterAll(async () => closed.close());

        it.each([
          ['loopback', () => `${api.url}/echo`],
          ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/'],
          ['a private address', () => 'http://10.0.0.1/admin'],
          ['a name that resolves to loopback', () => `${api.url.replace('127.0.0.1', 'localhost')}/echo`],
        ])('refuses %s, failing the node with the guard’s message', async (_name, url) => {
          const before = api.requests.length;
          const workflow = await createWorkflow(closed, closedToken, { ...chain(manualNode('start'), node('call', 'http_request', { url: url(), timeout_ms: 2000 })) });
          const execution = await execute(workflow.uuid, {}, closed, closedToken);
          expect(execution).toMatchObject({ status: 'failed', error: { node_id: 'call', kind: 'node' } });
          expect(execution.error.message).toMatch(GUARD_MESSAGE);
          expect(api.requests.length).toBe(before);
        });
      });

      it('refuses a redirect from an allowed host to loopback', async () => {
        const allowed = await createTestApp(dialect, { ATHENA_WORKFLOW_POLL_MS: '100', ATHENA_OUTBOUND_ALLOW: 'localhost' });
        try {
          const { token: allowedToken } = await allowed.signUp();
          const host = api.url.replace('127.0.0.1', 'localhost');
          const workflow = await createWorkflow(allowed, allowedToken, {
            ...chain(manualNode('start'), node('ok', 'http_request', { url: `${host}/echo` }), node('call', 'http_request', { url: `${host}/redirect-loopback` })),
          });
          const before = other.requests.length;
          const execution = await execute(workflow.uuid, {}, allowed, allowedToken);
          expect(execution).toMatchObject({ status: 'failed', error: { node_id: 'call', kind: 'node' } });
          expect(execution.error.message).toBe('Outbound calls to 127.0.0.1 (127.0.0.1) are not allowed: it is a private, loopback or link-local address.');
          expect(other.requests.length).toBe(before);
          // The allowed host itself was reached.
          expect((await retrieve(execution.uuid, allowed, allowedToken)).data.nodes[1].output.status).toBe(200);
        } finally {
          await allowed.close();
        }
      });
    });

    it('waits until a time, then goes on', async () => {
      const workflow = await createWorkflow(t, token, { ...chain(manualNode('start'), node('pause', 'wait', { mode: 'until', until: '{{ input.at }}' }), setNode('after', { done: true })) });
      const at = new Date(Date.now() + 300).toISOString();
      const started = await execute(workflow.uuid, { at });
      // Parked (a slow machine may already have woken it by the time the answer is read).
      expect(['waiting', 'running', 'succeeded']).toContain(started.status);
      const done = await settled(started.uuid);
      expect(done).toMatchObject({ status: 'succeeded', output: { at, done: true } });
      const pause = (await retrieve(started.uuid)).data.nodes[1];
      expect(pause).toMatchObject({ node_id: 'pause', status: 'succeeded', output: { at } });
      expect(Date.parse(pause.finished_at)).toBeGreaterThanOrEqual(Date.parse(at));
    });

    describe('workflow (sub-workflow)', () => {
      it('returns the child’s output when it waits, and the child’s execution when it does not', async () => {
        const child = await createWorkflow(t, token, { name: 'Child', ...chain(manualNode('start'), setNode('mark', { child: true, got: '{{ input.x }}' })) });
        const waiting = await createWorkflow(t, token, {
          ...chain(manualNode('start'), node('call', 'workflow', { workflow_uuid: child.uuid, input: { x: '{{ input.x }}' } })),
        });
        const parent = await execute(waiting.uuid, { x: 41 });
        expect(parent).toMatchObject({ status: 'succeeded', output: { x: 41, child: true, got: 41 } });
        const children = await executionsOf(child.uuid);
        expect(children).toHaveLength(1);
        expect(children[0]).toMatchObject({ trigger: 'workflow', status: 'succeeded', parent_execution_uuid: parent.uuid });

        const detached = await createWorkflow(t, token, { ...chain(manualNode('start'), node('call', 'workflow', { workflow_uuid: child.uuid, wait: false })) });
        const started = await execute(detached.uuid, { x: 'later' });
        expect(started.status).toBe('succeeded');
        expect(started.output).toEqual({ execution_uuid: expect.any(String), status: 'queued' });
        const spawned = await settled(started.output.execution_uuid);
        expect(spawned).toMatchObject({ workflow_uuid: child.uuid, trigger: 'workflow', parent_execution_uuid: started.uuid, output: { x: 'later', child: true, got: 'later' } });
      });

      it('stops a workflow that calls itself at the depth limit, with a clear failure', async () => {
        const workflow = await createWorkflow(t, token, { name: 'Ouroboros', ...chain(manualNode('start'), setNode('placeholder', { v: 1 })) });
        await updateWorkflow(t, token, workflow.uuid, { ...chain(manualNode('start'), node('again', 'workflow', { workflow_uuid: workflow.uuid })) });
        const execution = await execute(workflow.uuid, {});
        expect(execution).toMatchObject({ status: 'failed', error: { node_id: 'again', kind: 'node' } });
        expect(execution.error.message).toContain('Sub-workflow "Ouroboros" failed');
        expect(execution.error.message).toContain('Workflows may call workflows at most 10 deep.');
        const all = await executionsOf(workflow.uuid);
        // The top execution and ten nested ones; the deepest failed without starting another.
        expect(all).toHaveLength(11);
        expect(all.every((entry) => entry.status === 'failed')).toBe(true);
      });
    });

    describe('customer_accounts', () => {
      it('creates an account, then finds it', async () => {
        const workflow = await createWorkflow(t, token, {
          ...chain(
            manualNode('start'),
            node('create', 'customer_accounts', { action: 'create_customer_account', input: { name: '{{ input.name }}', primaryDomain: '{{ input.domain }}' } }),
            node('find', 'customer_accounts', { action: 'search_customer_accounts', input: { search: '{{ nodes.start.output.domain }}' } }),
          ),
        });
        const execution = await execute(workflow.uuid, { name: 'Globex', domain: 'globex.example' });
        expect(execution.status).toBe('succeeded');
        const { data } = await retrieve(execution.uuid);
        const created = data.nodes[1].output;
        expect(created).toMatchObject({ id: expect.any(String), name: 'Globex', primaryDomain: 'globex.example' });
        expect(execution.output).toMatchObject({ total: 1, accounts: [{ id: created.id, name: 'Globex' }] });
        const stored = await t.request({ url: `/v1/accounts/${created.id}`, token });
        expect(stored.status).toBe(200);
        expect(stored.body).toMatchObject({ id: created.id, name: 'Globex' });
      });

      it('fails an unknown action with the list of actions', async () => {
        const workflow = await createWorkflow(t, token, { ...chain(manualNode('start'), node('act', 'customer_accounts', { action: 'delete_everything' })) });
        const execution = await execute(workflow.uuid, {});
        expect(execution).toMatchObject({ status: 'failed', error: { node_id: 'act', kind: 'node' } });
        expect(execution.error.message).toMatch(/^Unknown customer-accounts action "delete_everything"; one of: .*search_customer_accounts.*create_customer_account/);
      });
    });

    describe('webhooks and respond', () => {
      it('answers with a respond node’s text body and content type', async () => {
        const workflow = await createWorkflow(t, token, {
          is_active: true,
          ...chain(
            webhookNode('hook', { respond: 'respond_node' }),
            node('reply', 'respond', { status: 201, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'Hello {{ trigger.body.name }}!' }),
            setNode('after', { replied: true }),
          ),
        });
        const response = await t.request({ method: 'POST', url: webhookPath(workflow), body: { name: 'Ada' } });
        expect(response.status).toBe(201);
        expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
        expect(response.text).toBe('Hello Ada!');
      });

      it('answers 202 with the execution uuid at once when respond is immediately', async () => {
        const workflow = await createWorkflow(t, token, { is_active: true, ...chain(webhookNode('hook', { respond: 'immediately' }), setNode('note', { seen: '{{ input.body.v }}' })) });
        const response = await t.request({ method: 'POST', url: webhookPath(workflow), body: { v: 3 } });
        expect(response.status).toBe(202);
        expect(response.body.data).toEqual({ execution_uuid: expect.any(String), status: 'queued' });
        const done = await settled(response.body.data.execution_uuid);
        expect(done).toMatchObject({ trigger: 'webhook', status: 'succeeded', output: { seen: 3 } });
      });

      it('answers with the last node’s output when respond is last_node', async () => {
        const workflow = await createWorkflow(t, token, {
          is_active: true,
          ...chain(webhookNode('hook', { respond: 'last_node' }), node('shape', 'transform', { output: '{{ { "hello": input.body.name, "method": input.method } }}' })),
        });
        const response = await t.request({ method: 'POST', url: webhookPath(workflow), body: { name: 'Grace' } });
        expect(response.status).toBe(200);
        expect(response.headers['content-type']).toMatch(/^application\/json/);
        expect(response.body).toEqual({ hello: 'Grace', method: 'POST' });
      });
    });

    it('passes the input through a disabled node', async () => {
      const workflow = await createWorkflow(t, token, {
        ...chain(manualNode('start'), node('skip', 'set', { values: { x: 'changed' } }, { disabled: true }), setNode('after', { y: 1 })),
      });
      const execution = await execute(workflow.uuid, { x: 'original' });
      expect(execution).toMatchObject({ status: 'succeeded', output: { x: 'original', y: 1 } });
      const { data } = await retrieve(execution.uuid);
      expect(data.nodes[1]).toMatchObject({ node_id: 'skip', status: 'succeeded', input: { x: 'original' }, output: { x: 'original' } });
    });

    it('evaluates expressions over nodes.<id>.output and execution', async () => {
      const workflow = await createWorkflow(t, token, {
        ...chain(
          manualNode('start'),
          setNode('first', { doubled: '{{ input.n * 2 }}' }),
          node('second', 'set', {
            values: { from_first: '{{ nodes.first.output.doubled }}', from_start: '{{ nodes.start.output.n }}', execution: '{{ execution.uuid }}', label: 'run {{ execution.uuid }}' },
            keep_input: false,
          }),
        ),
      });
      const execution = await execute(workflow.uuid, { n: 21 });
      expect(execution).toMatchObject({
        status: 'succeeded',
        output: { from_first: 42, from_start: 21, execution: execution.uuid, label: `run ${execution.uuid}` },
      });
    });
  });
}
