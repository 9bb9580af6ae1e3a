import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { FAKE_MODEL_KEY, replyChunks, type FakeModelScript } from '../lib/fake-model.js';
import { api, rssMb, signInAdmin, startAthena, startFakeModel, type BenchDialect, type RunningServer } from '../lib/harness.js';
import type { StreamsDialectResult, StreamsResult, TtftDialectResult, TtftResult } from '../lib/report.js';
import type { MeasuredScenario } from '../lib/scenario.js';
import { isAthenaDelta, isOpenAiContentChunk, percentiles, timedStream, type StreamResult } from '../lib/stream-client.js';

/**
 * Issue #5: streamed runs. Three processes on the machine: Athena (`node dist/cli.js start`),
 * the fake model server (bench/lib/fake-model-server.ts, its own process, so that serving the
 * model's chunks is not charged to the clock that times them), and this bench process, the only
 * client. The fake and the client do little (a few writes and parses per stream); Athena is the
 * only one with real work.
 */

/** The official OpenAI provider and its gpt-4o-mini (fixed ids from migration 0002). */
const OPENAI_PROVIDER = '01980000-0000-7000-8000-000000000001';
const GPT_4O_MINI = '01980000-0000-7000-8001-000000000005';
const INSTRUCTIONS = 'You answer in one short paragraph.';

interface AiFixture {
  agentId: string;
  promptId: string;
}

/** A model account on the fake, an agent and a prompt using it: what a user sets up first. */
async function setUpModel(server: RunningServer, token: string, fake: RunningServer): Promise<AiFixture> {
  const account = await api(server.url, 'POST', '/api/v1/accounts', token, {
    provider_uuid: OPENAI_PROVIDER,
    provider_display_name: 'Bench model server',
    provider_authentication_strategy: 'token',
    token: FAKE_MODEL_KEY,
    base_url: `${fake.url}/v1`,
  });
  const agent = await api(server.url, 'POST', '/api/v1/agents', token, {
    name: 'Bench agent',
    instructions: INSTRUCTIONS,
    llm_uuid: GPT_4O_MINI,
    account_uuid: account.data.uuid,
  });
  const prompt = await api(server.url, 'POST', '/api/v1/prompts', token, {
    name: 'Bench prompt',
    content: 'Summarise {{ topic }} in one line.',
    llm_uuid: GPT_4O_MINI,
    account_uuid: account.data.uuid,
  });
  return { agentId: agent.data.uuid, promptId: prompt.data.uuid };
}

function eventData(result: StreamResult, event: string): any {
  const found = result.events.find((e) => e.event === event);
  return found ? JSON.parse(found.data) : undefined;
}

/** Why a streamed run through Athena did not end well, or undefined when it completed. */
function runProblem(result: StreamResult): string | undefined {
  if (result.error) return result.error;
  if (result.status !== 200) return `status ${result.status}`;
  const error = eventData(result, 'error');
  if (error) return `error event: ${JSON.stringify(error)}`;
  const done = eventData(result, 'done');
  if (!done) return `no done event (got ${result.events.map((e) => e.event).join(', ')})`;
  if (done.status !== 'completed') return `run ${done.status}: ${done.error ?? done.finish_reason}`;
  return undefined;
}

async function fakeCalls(fake: RunningServer): Promise<number> {
  return ((await (await fetch(`${fake.url}/stats`)).json()) as { calls: number }).calls;
}

const TTFT_SCRIPT: FakeModelScript = { chunks: 4, chunkDelayMs: 5 };
const TTFT_WARMUP = 30;
const TTFT_ITERATIONS = 300;

async function measureTtft(dialect: BenchDialect, fake: RunningServer, log: (m: string) => void): Promise<TtftDialectResult> {
  const server = await startAthena(dialect);
  // One connection each to the model server and to Athena, kept open, as Athena keeps its own.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const token = await signInAdmin(server.url);
    const fixture = await setUpModel(server, token, fake);
    const auth = { authorization: `Bearer ${token}` };
    const samples = { direct: [] as number[], agent: [] as number[], prompt: [] as number[], beforeModel: [] as number[] };
    let errors = 0;

    const direct = (input: string) =>
      timedStream(`${fake.url}/v1/chat/completions`, {
        agent,
        headers: { authorization: `Bearer ${FAKE_MODEL_KEY}` },
        // What Athena sends for the agent run, give or take the SDK's own fields.
        body: {
          model: 'gpt-4o-mini',
          stream: true,
          stream_options: { include_usage: true },
          messages: [
            { role: 'system', content: INSTRUCTIONS },
            { role: 'user', content: input },
          ],
        },
        isFirstToken: isOpenAiContentChunk,
      });
    const agentRun = (input: string) =>
      timedStream(`${server.url}/api/v1/agents/${fixture.agentId}/run`, { agent, headers: auth, body: { input, stream: true }, isFirstToken: isAthenaDelta });
    const promptRun = (input: string) =>
      timedStream(`${server.url}/api/v1/prompts/${fixture.promptId}/run`, {
        agent,
        headers: auth,
        body: { variables: { topic: input }, stream: true },
        isFirstToken: isAthenaDelta,
      });

    for (let i = 0; i < TTFT_WARMUP + TTFT_ITERATIONS; i++) {
      const measured = i >= TTFT_WARMUP;
      const input = `question ${i}`;
      // The three paths alternate, in a rotating order, so that drift on a shared machine falls on all of them.
      const steps = [
        async () => {
          const result = await direct(input);
          if (result.error || result.status !== 200 || result.firstTokenMs === null) errors += 1;
          else if (measured) samples.direct.push(result.firstTokenMs);
        },
        async () => {
          const result = await agentRun(input);
          const problem = runProblem(result);
          if (problem || result.firstTokenMs === null) {
            errors += 1;
            if (errors <= 3) log(`  agent run failed: ${problem}`);
          } else if (measured) {
            samples.agent.push(result.firstTokenMs);
            const ttft = eventData(result, 'done').usage?.ttft_ms as number | null | undefined;
            if (typeof ttft === 'number') samples.beforeModel.push(result.firstTokenMs - ttft);
          }
        },
        async () => {
          const result = await promptRun(input);
          const problem = runProblem(result);
          if (problem || result.firstTokenMs === null) {
            errors += 1;
            if (errors <= 3) log(`  prompt run failed: ${problem}`);
          } else if (measured) samples.prompt.push(result.firstTokenMs);
        },
      ];
      for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]!();
    }
    const result: TtftDialectResult = {
      warmup: TTFT_WARMUP,
      iterations: TTFT_ITERATIONS,
      direct: percentiles(samples.direct),
      agent: percentiles(samples.agent),
      prompt: percentiles(samples.prompt),
      agentBeforeModelCall: percentiles(samples.beforeModel),
      errors,
      rssAfterMb: rssMb(server.pid),
    };
    log(
      `ai-ttft ${dialect}: direct p50 ${result.direct.p50} ms, agent p50 ${result.agent.p50} ms (+${(result.agent.p50 - result.direct.p50).toFixed(2)}), prompt p50 ${result.prompt.p50} ms, errors ${errors}`,
    );
    return result;
  } finally {
    agent.destroy();
    await server.stop();
  }
}

export const aiTtft: MeasuredScenario = {
  kind: 'measured',
  id: 'ai-ttft',
  issue: 5,
  title: 'Time Athena adds to time-to-first-token (streamed runs, one at a time)',
  async run({ dialects, runAt, machine, log }): Promise<TtftResult> {
    const fake = await startFakeModel(TTFT_SCRIPT);
    const result: TtftResult = {
      kind: 'ttft',
      id: this.id,
      issue: this.issue,
      title: this.title,
      runAt,
      machine,
      maxAddedP50Ms: 5,
      script: TTFT_SCRIPT,
      notes: [
        'Time to first token: from sending the request to the first chunk with content (model server) or the first `message.delta` event (Athena), on the client\'s clock, one stream at a time over kept-alive connections. Each round runs the three paths in a rotating order.',
        'Processes: Athena, the fake model server, and the bench client (the only load), each its own Node process; PostgreSQL runs on the same machine and shares its cores.',
        'An agent run here creates a thread and stores it with the user message and the run in one transaction; the agent\'s memories are searched first (memory is on by default, no tools) and the model call starts while that transaction commits.',
      ],
      dialects: {},
    };
    try {
      for (const dialect of dialects) result.dialects[dialect] = await measureTtft(dialect, fake, log);
    } finally {
      await fake.stop();
    }
    return result;
  },
};

const STREAMS_SCRIPT: FakeModelScript = { chunks: 8, chunkDelayMs: 200 };
const STREAMS = 200;
const STREAMS_WARMUP = 5;

interface StoredMessage {
  role: string;
  content: string | null;
  status: string;
}

async function measureStreams(dialect: BenchDialect, fake: RunningServer, log: (m: string) => void): Promise<StreamsDialectResult> {
  const server = await startAthena(dialect);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  try {
    const token = await signInAdmin(server.url);
    const fixture = await setUpModel(server, token, fake);
    const auth = { authorization: `Bearer ${token}` };
    const run = (input: string) =>
      timedStream(`${server.url}/api/v1/agents/${fixture.agentId}/run`, {
        agent,
        headers: auth,
        body: { input, stream: true },
        isFirstToken: isAthenaDelta,
        timeoutMs: 120_000,
      });
    for (let i = 0; i < STREAMS_WARMUP; i++) {
      const problem = runProblem(await run(`warm-up ${i}`));
      if (problem) throw new Error(`warm-up run failed: ${problem}`);
    }

    const callsBefore = await fakeCalls(fake);
    let rssPeak = rssMb(server.pid);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        rssPeak = Math.max(rssPeak, rssMb(server.pid));
        await sleep(50);
      }
    })();
    const inputs = Array.from({ length: STREAMS }, (_, i) => `burst stream ${i + 1} of ${STREAMS}`);
    const started = performance.now();
    const results = await Promise.all(inputs.map((input) => run(input)));
    const wallMs = performance.now() - started;
    sampling = false;
    await sampler;
    const modelCalls = (await fakeCalls(fake)) - callsBefore;

    const samples: string[] = [];
    const note = (message: string) => {
      if (samples.length < 5) samples.push(message);
    };
    let errors = 0;
    let lost = 0;
    for (const [index, result] of results.entries()) {
      const input = inputs[index]!;
      const expected = replyChunks(input, STREAMS_SCRIPT.chunks).join('');
      const problem = runProblem(result);
      const deltas = result.events
        .filter((e) => e.event === 'message.delta')
        .map((e) => (JSON.parse(e.data) as { delta: string }).delta)
        .join('');
      if (problem) {
        errors += 1;
        note(`stream ${index + 1}: ${problem}`);
      } else if (deltas !== expected) {
        errors += 1;
        note(`stream ${index + 1}: the deltas add up to ${JSON.stringify(deltas)}, not ${JSON.stringify(expected)}`);
      }
      // What was stored, read back through the API: the user's message and the whole reply.
      const threadId = eventData(result, 'run.started')?.thread_uuid as string | undefined;
      if (!threadId) {
        lost += 2;
        note(`stream ${index + 1}: no run.started event, so no thread to check`);
        continue;
      }
      const page = await api<{ data: StoredMessage[] }>(server.url, 'GET', `/api/v1/threads/${threadId}/messages?per_page=50`, token);
      const user = page.data.find((m) => m.role === 'user');
      const reply = page.data.find((m) => m.role === 'assistant');
      if (user?.content !== input) {
        lost += 1;
        note(`stream ${index + 1}: the thread does not hold the user's message`);
      }
      if (reply?.content !== expected || reply.status !== 'completed') {
        lost += 1;
        note(`stream ${index + 1}: the thread holds ${reply ? `a ${reply.status} reply ${JSON.stringify(reply.content)}` : 'no reply'}`);
      }
    }
    const completed = await api<{ meta: { total: number } }>(
      server.url,
      'GET',
      `/api/v1/runs?filter[agent]=${fixture.agentId}&filter[status]=completed&per_page=1`,
      token,
    );
    if (completed.meta.total !== STREAMS + STREAMS_WARMUP) note(`${completed.meta.total} completed runs listed, not ${STREAMS + STREAMS_WARMUP}`);

    const firstTokens = results.map((r) => r.firstTokenMs).filter((v): v is number => v !== null);
    const result: StreamsDialectResult = {
      streams: STREAMS,
      wallMs: Math.round(wallMs),
      runsPerS: Math.round((STREAMS / wallMs) * 1000 * 10) / 10,
      errors,
      lostMessages: lost,
      modelCalls,
      ttft: percentiles(firstTokens),
      duration: percentiles(results.map((r) => r.totalMs)),
      rssPeakMb: rssPeak,
      rssAfterMb: rssMb(server.pid),
      errorSamples: samples,
    };
    log(
      `ai-streams ${dialect}: ${STREAMS} streams in ${result.wallMs} ms (${result.runsPerS} runs/s), errors ${errors}, lost ${lost}, TTFT p50 ${result.ttft.p50} / p99 ${result.ttft.p99} ms, peak RSS ${rssPeak} MB`,
    );
    for (const sample of samples) log(`  ${sample}`);
    return result;
  } finally {
    agent.destroy();
    await server.stop();
  }
}

export const aiStreams: MeasuredScenario = {
  kind: 'measured',
  id: 'ai-streams',
  issue: 5,
  title: `${STREAMS} concurrent streamed agent runs, each in a new thread`,
  async run({ dialects, runAt, machine, log }): Promise<StreamsResult> {
    const fake = await startFakeModel(STREAMS_SCRIPT);
    const result: StreamsResult = {
      kind: 'streams',
      id: this.id,
      issue: this.issue,
      title: this.title,
      runAt,
      machine,
      script: STREAMS_SCRIPT,
      notes: [
        `After ${STREAMS_WARMUP} warm-up runs, ${STREAMS} \`POST /api/v1/agents/{uuid}/run\` with \`stream: true\` are sent at once by one client (one connection each); wall time runs from the first request to the end of the last stream.`,
        'Errors: a stream that failed, broke, carried an `error` event, did not end with `done` and status `completed`, or whose `message.delta` events do not add up to the reply the model server sent for that input. Lost messages: read back afterwards through `GET /api/v1/threads/{uuid}/messages`, each thread must hold the user message as sent and the whole reply, completed.',
        'Processes: Athena, the fake model server, and the bench client, each its own Node process; PostgreSQL runs on the same machine and shares its two cores, so the PostgreSQL row also pays for the database server\'s CPU. Default pool size (10).',
      ],
      dialects: {},
    };
    try {
      for (const dialect of dialects) result.dialects[dialect] = await measureStreams(dialect, fake, log);
    } finally {
      await fake.stop();
    }
    return result;
  },
};
