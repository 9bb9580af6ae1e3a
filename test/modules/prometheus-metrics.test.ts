import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queuePrefix } from '../../src/jobs/queue.js';
import { EXECUTIONS_QUEUE } from '../../src/jobs/registry.js';
import { providerLabel, secondsBetween } from '../../src/observability/runtime-metrics.js';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai-server.js';
import { GPT_4O_MINI, PROVIDERS, connectModelAccount, eventually } from '../helpers/ai.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';
import { chain, createWorkflow, manualNode, node, setNode } from '../helpers/workflows.js';

const KEY = 'sk-prometheus-metrics-0123456789';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

class Scrape {
  readonly samples: Sample[];
  constructor(readonly text: string) {
    this.samples = parseExposition(text);
  }

  /** The sample with exactly these labels (0 when absent: a counter not touched yet). */
  value(name: string, labels: Record<string, string> = {}): number {
    const wanted = Object.entries(labels);
    const found = this.samples.find(
      (s) => s.name === name && Object.keys(s.labels).length === wanted.length && wanted.every(([key, value]) => s.labels[key] === value),
    );
    return found?.value ?? 0;
  }

  has(name: string, labels: Record<string, string> = {}): boolean {
    return this.samples.some((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value));
  }

  /** Every value a label takes on a metric. */
  labelValues(name: string, label: string): string[] {
    return [...new Set(this.samples.filter((s) => s.name === name && s.labels[label] !== undefined).map((s) => s.labels[label]!))].sort();
  }
}

async function scrape(t: TestApp): Promise<Scrape> {
  const response = await t.request({ url: '/metrics' });
  expect(response.status).toBe(200);
  return new Scrape(response.text);
}

describe.each(DIALECTS)('Prometheus runtime metrics on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let openai: FakeOpenAi;
  let account: string;

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: KEY });
    t = await createTestApp(dialect, { ATHENA_WORKFLOW_POLL_MS: '100' });
    owner = await t.signUp();
    account = await connectModelAccount(t, owner.token, { provider: PROVIDERS.openai, baseUrl: `${openai.url}/v1`, apiKey: KEY });
  });
  afterAll(async () => {
    await t.close();
    await openai.close();
  });

  const execute = (workflowUuid: string, input: unknown, wait = true) =>
    t.request({ method: 'POST', url: `/api/v1/workflows/${workflowUuid}/execute`, token: owner.token, body: { input, wait } });
  const statusOf = async (uuid: string) => (await t.request({ url: `/api/v1/workflow-executions/${uuid}`, token: owner.token })).body.data.status;

  it('counts executions that end by status and trigger, and their node runs by type and status', async () => {
    const ok = await createWorkflow(t, owner.token, { name: 'Metrics ok', ...chain(manualNode('start'), setNode('greet', { greeting: 'hi' })) });
    const failing = await createWorkflow(t, owner.token, {
      name: 'Metrics failing',
      ...chain(manualNode('start'), node('boom', 'code', { code: 'throw new Error("nope")' })),
    });
    const before = await scrape(t);

    expect((await execute(ok.uuid, { n: 1 })).body.data.status).toBe('succeeded');
    expect((await execute(ok.uuid, { n: 2 })).body.data.status).toBe('succeeded');
    expect((await execute(failing.uuid, {})).body.data.status).toBe('failed');
    const after = await scrape(t);

    const executions = (s: Scrape, status: string) => s.value('athena_workflow_executions_total', { status, trigger: 'manual' });
    expect(executions(after, 'succeeded') - executions(before, 'succeeded')).toBe(2);
    expect(executions(after, 'failed') - executions(before, 'failed')).toBe(1);
    expect(executions(after, 'canceled') - executions(before, 'canceled')).toBe(0);
    // Every trigger of the closed list is there from the start, at 0 until used.
    expect(after.value('athena_workflow_executions_total', { status: 'succeeded', trigger: 'schedule' })).toBe(0);
    expect(after.labelValues('athena_workflow_executions_total', 'trigger')).toEqual(['agent', 'error', 'manual', 'other', 'retry', 'schedule', 'webhook', 'workflow']);

    const runs = (s: Scrape, node_type: string, status: string) => s.value('athena_workflow_node_duration_seconds_count', { node_type, status });
    expect(runs(after, 'manual', 'succeeded') - runs(before, 'manual', 'succeeded')).toBe(3);
    expect(runs(after, 'set', 'succeeded') - runs(before, 'set', 'succeeded')).toBe(2);
    expect(runs(after, 'code', 'failed') - runs(before, 'code', 'failed')).toBe(1);
    expect(runs(after, 'code', 'succeeded') - runs(before, 'code', 'succeeded')).toBe(0);
    // The +Inf bucket holds every run, and durations are seconds (a set node takes far less than one).
    expect(after.value('athena_workflow_node_duration_seconds_bucket', { node_type: 'set', status: 'succeeded', le: '+Inf' })).toBe(runs(after, 'set', 'succeeded'));
    expect(after.value('athena_workflow_node_duration_seconds_sum', { node_type: 'set', status: 'succeeded' })).toBeLessThan(2);
    expect(after.labelValues('athena_workflow_node_duration_seconds_count', 'node_type')).toEqual(['code', 'manual', 'set']);
  });

  it('shows parked executions in the whole-database gauge, and counts a cancel', async () => {
    const workflow = await createWorkflow(t, owner.token, { name: 'Metrics wait', ...chain(manualNode('start'), node('hold', 'wait', { mode: 'resume' })) });
    const before = await scrape(t);
    const started = await execute(workflow.uuid, {});
    expect(started.status).toBe(202);
    const uuid: string = started.body.data.uuid;
    await eventually(async () => (await statusOf(uuid)) === 'waiting');

    // The gauge is read on scrape and reused for two seconds: it shows the parked run soon after.
    const parked = await eventually(async () => {
      const s = await scrape(t);
      return s.value('athena_workflow_executions', { status: 'waiting' }) === 1 ? s : undefined;
    });
    expect(parked.value('athena_workflow_executions', { status: 'queued' })).toBe(0);
    expect(parked.value('athena_workflow_executions', { status: 'running' })).toBe(0);
    expect(parked.value('athena_queue_depth', { queue: 'embedded' })).toBe(0);
    expect(parked.has('athena_queue_depth', { queue: 'executions' })).toBe(false);
    expect(parked.value('athena_workflow_executions_in_process')).toBe(0);

    const cancel = await t.request({ method: 'POST', url: `/api/v1/workflow-executions/${uuid}/cancel`, token: owner.token });
    expect(cancel.status).toBe(200);
    const after = await eventually(async () => {
      const s = await scrape(t);
      return s.value('athena_workflow_executions', { status: 'waiting' }) === 0 ? s : undefined;
    });
    const canceled = (s: Scrape) => s.value('athena_workflow_executions_total', { status: 'canceled', trigger: 'manual' });
    expect(canceled(after) - canceled(before)).toBe(1);
  });

  it('counts prompt runs with their tokens and cost under the provider of the official catalog', async () => {
    const created = await t.request({
      method: 'POST',
      url: '/api/v1/prompts',
      token: owner.token,
      body: { name: 'Metrics prompt', content: 'Say hi to {{ name }}.', variables: [{ name: 'name' }], llm_uuid: GPT_4O_MINI, account_uuid: account },
    });
    expect(created.status).toBe(201);
    const before = await scrape(t);

    openai.script([{ text: 'Hi Ada', usage: { input: 40, output: 60 } }]);
    const ok = await t.request({ method: 'POST', url: `/api/v1/prompts/${created.body.data.uuid}/run`, token: owner.token, body: { variables: { name: 'Ada' } } });
    expect(ok.status).toBe(200);
    openai.script([{ error: { status: 400, message: 'bad request' } }]);
    const failed = await t.request({ method: 'POST', url: `/api/v1/prompts/${created.body.data.uuid}/run`, token: owner.token, body: { variables: { name: 'Bo' } } });
    expect(failed.status).toBe(502);
    const after = await scrape(t);

    const delta = (name: string, labels: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    expect(delta('athena_runs_total', { kind: 'prompt', status: 'completed' })).toBe(1);
    expect(delta('athena_runs_total', { kind: 'prompt', status: 'failed' })).toBe(1);
    expect(delta('athena_model_tokens_total', { provider: 'openai', direction: 'input' })).toBe(40);
    expect(delta('athena_model_tokens_total', { provider: 'openai', direction: 'output' })).toBe(60);
    expect(delta('athena_model_cost_total', { provider: 'openai' })).toBeCloseTo((40 * 0.15 + 60 * 0.6) / 1_000_000, 12);
    expect(after.value('athena_runs_active')).toBe(0);
  });

  it('counts a workflow prompt node once, and shows it in flight meanwhile', async () => {
    const prompt = await t.request({
      method: 'POST',
      url: '/api/v1/prompts',
      token: owner.token,
      body: { name: 'Metrics node prompt', content: 'Summarize: {{ text }}', variables: [{ name: 'text' }], llm_uuid: GPT_4O_MINI, account_uuid: account },
    });
    const workflow = await createWorkflow(t, owner.token, {
      name: 'Metrics AI',
      ...chain(manualNode('start'), node('summary', 'prompt', { prompt_uuid: prompt.body.data.uuid, variables: { text: '{{ input.text }}' } })),
    });
    const before = await scrape(t);
    openai.script([{ text: 'Short.', usage: { input: 7, output: 3 }, delayMs: 1_500 }]);

    const running = execute(workflow.uuid, { text: 'A long text' });
    const during = await eventually(async () => {
      const s = await scrape(t);
      return s.value('athena_runs_active') === 1 ? s : undefined;
    });
    expect(during.value('athena_workflow_executions_in_process')).toBe(1);
    expect((await running).body.data.status).toBe('succeeded');
    const after = await scrape(t);

    const delta = (name: string, labels: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    expect(delta('athena_runs_total', { kind: 'prompt', status: 'completed' })).toBe(1);
    expect(delta('athena_model_tokens_total', { provider: 'openai', direction: 'input' })).toBe(7);
    expect(delta('athena_workflow_node_duration_seconds_count', { node_type: 'prompt', status: 'succeeded' })).toBe(1);
    // The node waited 1.5 s for the model: its duration is in its buckets.
    expect(delta('athena_workflow_node_duration_seconds_bucket', { node_type: 'prompt', status: 'succeeded', le: '1' })).toBe(0);
    expect(delta('athena_workflow_node_duration_seconds_bucket', { node_type: 'prompt', status: 'succeeded', le: '30' })).toBe(1);
    expect(after.value('athena_runs_active')).toBe(0);
    expect(after.value('athena_workflow_executions_in_process')).toBe(0);
  });

  it('labels a custom provider by its driver, never by its slug', async () => {
    const provider = await t.request({
      method: 'POST',
      url: '/api/v1/providers',
      token: owner.token,
      body: { name: 'Acme Lab Server', type: 'large_language_model', authentication_strategy: 'token' },
    });
    expect(provider.status).toBe(201);
    const slug: string = provider.body.data.slug;
    const custom = await t.request({
      method: 'POST',
      url: '/api/v1/accounts',
      token: owner.token,
      body: { provider_uuid: provider.body.data.uuid, provider_display_name: 'lab', token: KEY, base_url: `${openai.url}/v1` },
    });
    expect(custom.status).toBe(201);
    expect((await t.request({ method: 'POST', url: `/api/v1/accounts/${custom.body.data.uuid}/verify`, token: owner.token })).status).toBe(200);
    const models = await t.request({ url: `/api/v1/large-language-models?filter[account]=${custom.body.data.uuid}`, token: owner.token });
    const llm = models.body.data[0];
    expect(llm).toBeDefined();
    const prompt = await t.request({ method: 'POST', url: '/api/v1/prompts', token: owner.token, body: { name: 'Metrics custom', content: 'Hello' } });
    expect(prompt.status).toBe(201);
    const before = await scrape(t);

    openai.script([{ text: 'Hello back', usage: { input: 5, output: 4 } }]);
    const run = await t.request({
      method: 'POST',
      url: `/api/v1/prompts/${prompt.body.data.uuid}/run`,
      token: owner.token,
      body: { llm_uuid: llm.uuid, account_uuid: custom.body.data.uuid },
    });
    expect(run.status).toBe(200);
    const after = await scrape(t);

    expect(after.value('athena_model_tokens_total', { provider: 'openai-compatible', direction: 'output' }) - before.value('athena_model_tokens_total', { provider: 'openai-compatible', direction: 'output' })).toBe(4);
    expect(after.labelValues('athena_model_tokens_total', 'provider')).toEqual(['openai', 'openai-compatible']);
    expect(after.text).not.toContain(slug);
  });

  it('never uses an id, a name or a slug as a label value', async () => {
    const s = await scrape(t);
    expect(s.text).not.toMatch(UUID);
    expect(s.text).not.toContain('Metrics ');
    for (const sample of s.samples) {
      if (!sample.name.startsWith('athena_') || sample.name.startsWith('athena_http_')) continue;
      for (const value of Object.values(sample.labels)) expect(value).toMatch(/^[a-z+.0-9_-]+$|^\+Inf$/i);
    }
  });
});

describe.each(DIALECTS)('queued executions in embedded mode on %s', (dialect) => {
  let t: TestApp;
  let token: string;

  beforeAll(async () => {
    t = await createTestApp(dialect);
    ({ token } = await t.signUp());
  });
  afterAll(async () => t?.close());

  it('counts them in the database gauge and as the embedded queue depth', async () => {
    const workflow = await createWorkflow(t, token, { name: 'Queued', ...chain(manualNode('start'), setNode('greet')) });
    // The runner stops: executions started now stay queued in the database.
    await t.ctx.executions.stop(1_000);
    for (let i = 0; i < 3; i++) {
      const started = await t.request({ method: 'POST', url: `/api/v1/workflows/${workflow.uuid}/execute`, token, body: { input: { i }, wait: false } });
      expect(started.status).toBe(202);
    }
    const s = await eventually(async () => {
      const current = await scrape(t);
      return current.value('athena_workflow_executions', { status: 'queued' }) === 3 ? current : undefined;
    });
    expect(s.value('athena_queue_depth', { queue: 'embedded' })).toBe(3);
    expect(s.value('athena_workflow_executions', { status: 'running' })).toBe(0);
  });
});

describe('label and duration helpers', () => {
  it('reads step durations from ISO timestamps, within a minute and across minutes, days and years', () => {
    expect(secondsBetween('2026-12-03T18:00:01.250Z', '2026-12-03T18:00:03.000Z')).toBe(1.75);
    expect(secondsBetween('2026-12-03T18:00:59.990Z', '2026-12-03T18:01:00.005Z')).toBeCloseTo(0.015, 9);
    expect(secondsBetween('2026-12-31T23:59:59.900Z', '2027-01-01T00:00:00.100Z')).toBeCloseTo(0.2, 9);
    expect(secondsBetween('2026-12-03T18:00:00.000Z', '2026-12-03T18:00:00.000Z')).toBe(0);
    // A clock that went back, or something unreadable, is 0, never negative or NaN.
    expect(secondsBetween('2026-12-03T18:00:02.000Z', '2026-12-03T18:00:01.000Z')).toBe(0);
    expect(secondsBetween('not a time', '2026-12-03T18:00:01.000Z')).toBe(0);
    expect(secondsBetween('2026-12-03T18:00:xx.000Z', '2026-12-03T18:00:01.000Z')).toBe(0);
  });

  it('names a provider by the official slug or the custom provider’s driver', () => {
    const custom = (slug: string, api: string) => providerLabel({ api, provider: { slug, workspace_id: 'w' } });
    expect(providerLabel({ api: 'openai', provider: { slug: 'deepseek', workspace_id: null } })).toBe('deepseek');
    expect(providerLabel({ api: 'gemini', provider: { slug: 'google-gemini', workspace_id: null } })).toBe('google-gemini');
    expect(custom('my-vllm', 'openai')).toBe('openai-compatible');
    expect(custom('groq', 'openai')).toBe('groq');
    expect(custom('claude-proxy', 'anthropic')).toBe('anthropic');
    expect(custom('gem', 'gemini')).toBe('google-gemini');
    expect(custom('box', 'ollama')).toBe('ollama');
    expect(custom('odd', 'smoke-signals')).toBe('other');
    // An official-looking slug on a custom provider is still its driver.
    expect(custom('deepseek', 'openai')).toBe('openai-compatible');
  });
});

const SCALE = DIALECTS.includes('postgres') && process.env.TEST_REDIS_URL !== undefined;

describe.skipIf(!SCALE)('queue depth in scale mode', () => {
  let t: TestApp;
  let redis: Redis;
  let queue: Queue;

  beforeAll(async () => {
    t = await createTestApp('postgres', { REDIS_URL: process.env.TEST_REDIS_URL! });
    redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
    queue = new Queue(EXECUTIONS_QUEUE, { connection: redis, prefix: queuePrefix(t.config) });
  });
  afterAll(async () => {
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    redis?.disconnect();
    await t?.close();
  });

  it('reads the BullMQ queue’s waiting and delayed jobs, and keeps the last value when Redis does not answer', async () => {
    await queue.add('execute', { executionId: '00000000-0000-7000-8000-000000000001' }, { jobId: 'metrics-delayed-1', delay: 60_000 });
    await queue.add('execute', { executionId: '00000000-0000-7000-8000-000000000002' }, { jobId: 'metrics-delayed-2', delay: 60_000 });
    const s = await eventually(async () => {
      const current = await scrape(t);
      return current.value('athena_queue_depth', { queue: 'executions' }) === 2 ? current : undefined;
    });
    expect(s.has('athena_queue_depth', { queue: 'embedded' })).toBe(false);

    // The queue stops answering: /metrics still answers, with the last depth read.
    t.ctx.metrics.useQueueDepth(() => Promise.reject(new Error('Connection is closed.')));
    const during = await scrape(t);
    expect(during.value('athena_queue_depth', { queue: 'executions' })).toBe(2);
    t.ctx.metrics.useQueueDepth(() => new Promise<number>(() => undefined));
    const hanging = await scrape(t);
    expect(hanging.value('athena_queue_depth', { queue: 'executions' })).toBe(2);
  });
});
