import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { languageModelOf, type ModelSpec } from '../../src/ai/model-factory.js';
import { ToolError, type RunTool } from '../../src/ai/ports.js';
import { retryingFetch } from '../../src/ai/retrying-fetch.js';
import { costOf, runTurn, type StepRecord, type TurnInput } from '../../src/ai/tool-loop.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic-server.js';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai-server.js';

const KEY = 'sk-loop-test-0123456789';

const weather: RunTool = {
  uuid: '00000000-0000-7000-8000-000000000001',
  name: 'get_weather',
  description: 'Current weather of a city.',
  inputSchema: { type: 'object', properties: { city: { type: 'string', minLength: 1 } }, required: ['city'], additionalProperties: false },
  execute: async (input) => ({ city: (input as { city: string }).city, celsius: 21 }),
};

const broken: RunTool = {
  uuid: '00000000-0000-7000-8000-000000000002',
  name: 'broken',
  description: 'Always fails.',
  inputSchema: { type: 'object', properties: {} },
  execute: async () => {
    throw new ToolError('The upstream API answered 503: maintenance.');
  },
};

function recorder() {
  const steps: StepRecord[] = [];
  const deltas: string[] = [];
  const calls: string[] = [];
  const results: Array<{ name: string; isError: boolean; output: unknown }> = [];
  let n = 0;
  return {
    steps,
    deltas,
    calls,
    results,
    observer: {
      newMessageId: () => `m${++n}`,
      onTextDelta: (_id: string, delta: string) => deltas.push(delta),
      onToolCall: (_id: string, call: { name: string }) => calls.push(call.name),
      onToolResult: (_id: string, r: { name: string; isError: boolean; output: unknown }) => results.push(r),
      onStepFinish: async (step: StepRecord) => {
        steps.push(step);
      },
    },
  };
}

describe('the tool loop against OpenAI-compatible and Anthropic wire formats', () => {
  let openai: FakeOpenAi;
  let anthropic: FakeAnthropic;

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: KEY });
    anthropic = await startFakeAnthropic({ apiKey: KEY });
  });
  afterAll(async () => {
    await openai.close();
    await anthropic.close();
  });

  const spec = (overrides: Partial<ModelSpec> = {}): ModelSpec => ({
    api: 'openai',
    providerSlug: 'openai-compatible',
    baseUrl: `${openai.url}/v1`,
    apiKey: KEY,
    modelId: 'fake-model',
    ...overrides,
  });
  const input = async (overrides: Partial<TurnInput> = {}): Promise<TurnInput> => ({
    model: await languageModelOf(spec()),
    system: 'You are terse.',
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
    tools: [weather],
    maxSteps: 5,
    stepTimeoutMs: 5_000,
    prices: { inputPerMillion: 2, outputPerMillion: 8 },
    signal: new AbortController().signal,
    ...overrides,
  });

  it('streams text, calls a tool, hands its result back and answers, with usage and cost per step', async () => {
    openai.script([
      { toolCalls: [{ name: 'get_weather', input: { city: 'Paris' } }], usage: { input: 100, output: 20 } },
      { text: 'It is 21 °C in Paris.', usage: { input: 150, output: 10 } },
    ]);
    const r = recorder();
    const result = await runTurn(await input(), r.observer);

    expect(result.status).toBe('completed');
    expect(result.text).toBe('It is 21 °C in Paris.');
    expect(r.deltas.join('')).toBe('It is 21 °C in Paris.');
    expect(r.calls).toEqual(['get_weather']);
    expect(r.results).toEqual([{ toolCallId: expect.any(String), name: 'get_weather', isError: false, output: { city: 'Paris', celsius: 21 } }]);
    expect(r.steps.map((s) => s.usage)).toEqual([
      { inputTokens: 100, outputTokens: 20, cost: costOf(100, 20, { inputPerMillion: 2, outputPerMillion: 8 }) },
      { inputTokens: 150, outputTokens: 10, cost: costOf(150, 10, { inputPerMillion: 2, outputPerMillion: 8 }) },
    ]);
    expect(result.usage).toEqual({ inputTokens: 250, outputTokens: 30, cost: 0.00074 });
    expect(result.ttftMs).not.toBeNull();

    // What Athena sent: the system prompt, the tool's JSON Schema, then the tool result.
    const [first, second] = openai.chatBodies().slice(-2);
    expect(first!.messages[0]).toEqual({ role: 'system', content: 'You are terse.' });
    expect(first!.tools[0].function).toMatchObject({ name: 'get_weather', parameters: weather.inputSchema });
    expect(first!.stream).toBe(true);
    const toolMessage = second!.messages.find((m: { role: string }) => m.role === 'tool');
    expect(JSON.parse(toolMessage.content)).toEqual({ city: 'Paris', celsius: 21 });
  });

  it('returns a failing tool’s error and an invalid input to the model instead of ending the run', async () => {
    openai.script([
      { toolCalls: [{ name: 'broken', input: {} }, { name: 'get_weather', input: { town: 'Paris' } }] },
      { text: 'The weather service is down.' },
    ]);
    const r = recorder();
    const result = await runTurn(await input({ tools: [weather, broken] }), r.observer);

    expect(result.status).toBe('completed');
    const byName = Object.fromEntries(r.results.map((x) => [x.name, x]));
    expect(byName.broken).toMatchObject({ isError: true, output: { error: 'The upstream API answered 503: maintenance.' } });
    expect(byName.get_weather!.isError).toBe(true);
    expect(String((byName.get_weather!.output as { error: string }).error)).toMatch(/^Invalid input for get_weather: .*required property 'city'/);
    const sent = openai.chatBodies().at(-1)!.messages.filter((m: { role: string }) => m.role === 'tool');
    expect(sent.map((m: { content: string }) => JSON.parse(m.content).error).sort()).toEqual([
      expect.stringMatching(/required property 'city'/),
      'The upstream API answered 503: maintenance.',
    ].sort());
  });

  it('stops at the step limit without a final answer and says so', async () => {
    openai.script([{ toolCalls: [{ name: 'get_weather', input: { city: 'Oslo' } }] }]);
    const r = recorder();
    const callsBefore = openai.chatBodies().length;
    const result = await runTurn(await input({ maxSteps: 3 }), r.observer);

    expect(result.status).toBe('incomplete');
    expect(result.finishReason).toBe('step_limit');
    expect(result.error).toMatch(/after 3 steps/);
    expect(openai.chatBodies().length - callsBefore).toBe(3);
    expect(r.steps).toHaveLength(3);
  });

  it('retries 429 and 5xx with backoff, then succeeds without a second answer', async () => {
    openai.script([
      { error: { status: 429, message: 'Rate limit reached', retryAfter: '0' } },
      { error: { status: 503, message: 'Overloaded' } },
      { text: 'Finally.' },
    ]);
    const retries: Array<number | null> = [];
    const model = await languageModelOf(
      spec({ fetch: retryingFetch({ maxRetries: 3, budgetMs: 5_000, baseDelayMs: 5, onRetry: (e) => retries.push(e.status), random: () => 1 }) }),
    );
    const result = await runTurn(await input({ model, tools: [] }), recorder().observer);

    expect(result.status).toBe('completed');
    expect(result.text).toBe('Finally.');
    expect(retries).toEqual([429, 503]);
  });

  it('fails with the provider’s reason in plain words once the retry budget is spent', async () => {
    openai.script([{ error: { status: 429, message: 'Rate limit reached for requests per minute.' } }]);
    const model = await languageModelOf(spec({ fetch: retryingFetch({ maxRetries: 2, budgetMs: 2_000, baseDelayMs: 5 }) }));
    const before = openai.calls;
    const result = await runTurn(await input({ model, tools: [] }), recorder().observer);

    expect(result.status).toBe('failed');
    expect(result.errorStatus).toBe(429);
    expect(result.error).toBe('The model provider answered 429 Too Many Requests: Rate limit reached for requests per minute.');
    expect(openai.calls - before).toBe(3);
  });

  it('times out a model that does not answer', async () => {
    openai.script([{ hang: true }]);
    const result = await runTurn(await input({ tools: [], stepTimeoutMs: 300 }), recorder().observer);
    expect(result.status).toBe('failed');
    expect(result.finishReason).toBe('timeout');
    expect(result.error).toBe('The model did not answer within 0.3 seconds.');
  });

  it('keeps what a cancelled step produced, marked incomplete', async () => {
    openai.script([{ text: 'one two three four five six', chunkDelayMs: 5, stallAfterChunks: 3 }]);
    const controller = new AbortController();
    const r = recorder();
    const pending = runTurn(await input({ tools: [], signal: controller.signal }), {
      ...r.observer,
      onTextDelta: (id, delta) => {
        r.observer.onTextDelta(id, delta);
        if (r.deltas.length === 3) controller.abort('abandoned');
      },
    });
    const result = await pending;
    expect(result.status).toBe('cancelled');
    expect(result.finishReason).toBe('abandoned');
    expect(r.steps).toHaveLength(1);
    expect(r.steps[0]).toMatchObject({ status: 'incomplete', text: 'one two three ' });
  });

  it('hands the model a generic message when a tool fails unexpectedly, and reports the failure', async () => {
    const crashing: RunTool = { ...broken, name: 'crashing', execute: async () => Promise.reject(new TypeError('cannot read x of undefined')) };
    openai.script([{ toolCalls: [{ name: 'crashing', input: {} }] }, { text: 'Sorry.' }]);
    const r = recorder();
    const unexpected: string[] = [];
    const result = await runTurn(await input({ tools: [crashing] }), r.observer, { onUnexpectedToolError: (tool, error) => unexpected.push(`${tool.name}: ${(error as Error).message}`) });
    expect(result.status).toBe('completed');
    expect(r.results[0]).toMatchObject({ isError: true, output: { error: 'The tool failed unexpectedly.' } });
    expect(unexpected).toEqual(['crashing: cannot read x of undefined']);
  });

  it('reaches Mistral, Groq and Ollama through their providers on the same wire format', async () => {
    const keyless = await startFakeOpenAi({ apiKey: '' });
    try {
      for (const model of [
        await languageModelOf(spec({ providerSlug: 'mistral' })),
        await languageModelOf(spec({ providerSlug: 'groq' })),
        await languageModelOf({ api: 'ollama', providerSlug: 'ollama', baseUrl: keyless.url, apiKey: null, modelId: 'llama3.2' }),
      ]) {
        openai.script([{ text: 'pong' }]);
        keyless.script([{ text: 'pong' }]);
        const result = await runTurn(await input({ model, tools: [] }), recorder().observer);
        expect(result).toMatchObject({ status: 'completed', text: 'pong' });
      }
      expect(keyless.chatBodies().at(-1)!.model).toBe('llama3.2');
    } finally {
      await keyless.close();
    }
  });

  it('speaks Anthropic’s Messages API: streamed text, tool_use and tool_result', async () => {
    anthropic.script([
      { toolCalls: [{ name: 'get_weather', input: { city: 'Rome' } }], usage: { input: 40, output: 8 } },
      { text: 'Sunny in Rome.', usage: { input: 60, output: 5 } },
    ]);
    const model = await languageModelOf({ api: 'anthropic', providerSlug: 'anthropic', baseUrl: `${anthropic.url}/v1`, apiKey: KEY, modelId: 'claude-test' });
    const r = recorder();
    const result = await runTurn(await input({ model }), r.observer);

    expect(result.status).toBe('completed');
    expect(result.text).toBe('Sunny in Rome.');
    expect(result.usage.inputTokens).toBe(100);
    const [first, second] = anthropic.messageBodies().slice(-2);
    expect(first!.system).toEqual([{ type: 'text', text: 'You are terse.' }]);
    expect(first!.tools[0]).toMatchObject({ name: 'get_weather', input_schema: weather.inputSchema });
    const toolResult = second!.messages.at(-1).content[0];
    expect(toolResult).toMatchObject({ type: 'tool_result' });
  });
});
