import fs from 'node:fs';
import path from 'node:path';
import type { FakeModelScript } from './fake-model.js';
import type { BenchDialect, LoadResult } from './harness.js';
import type { Target } from './scenario.js';
import type { Percentiles } from './stream-client.js';

export interface ScenarioResult {
  /** Absent in throughput results (the first kind there was). */
  kind?: 'load';
  id: string;
  issue: number;
  title: string;
  baseline: string;
  targets: Target;
  runAt: string;
  machine: string;
  baselineResults: Record<number, LoadResult>;
  dialects: Partial<Record<BenchDialect, { runs: LoadResult[]; rssAfterMb: number; notes?: string }>>;
}

/** Time to first token, straight from the model server and through Athena, one stream at a time. */
export interface TtftResult {
  kind: 'ttft';
  id: string;
  issue: number;
  title: string;
  runAt: string;
  machine: string;
  /** Target: what Athena adds at p50, in ms. */
  maxAddedP50Ms: number;
  script: FakeModelScript;
  /** How it was measured, for the reader. */
  notes: string[];
  dialects: Partial<Record<BenchDialect, TtftDialectResult>>;
}

export interface TtftDialectResult {
  warmup: number;
  iterations: number;
  direct: Percentiles;
  agent: Percentiles;
  prompt: Percentiles;
  /** Agent run: time to first token minus the run's own `ttft_ms` (Athena's work before the model call). */
  agentBeforeModelCall: Percentiles;
  /** Streams that failed, ended without `done`, or did not complete. */
  errors: number;
  rssAfterMb: number;
}

/** Many streamed agent runs started at the same moment. */
export interface StreamsResult {
  kind: 'streams';
  id: string;
  issue: number;
  title: string;
  runAt: string;
  machine: string;
  script: FakeModelScript;
  /** How it was measured and checked, for the reader. */
  notes: string[];
  dialects: Partial<Record<BenchDialect, StreamsDialectResult>>;
}

export interface StreamsDialectResult {
  streams: number;
  wallMs: number;
  runsPerS: number;
  /** Streams that failed, broke, reported an error, did not complete, or whose deltas differ from the reply. */
  errors: number;
  /** User messages and replies that the stored threads do not hold as sent. */
  lostMessages: number;
  /** Chat completions the model server answered during the burst. */
  modelCalls: number;
  ttft: Percentiles;
  duration: Percentiles;
  rssPeakMb: number;
  rssAfterMb: number;
  /** The first few failures, for the reader. */
  errorSamples: string[];
}

/** A baseline run, with the server's CPU time per request when the bench started that server. */
export interface BaselineRun extends LoadResult {
  cpuMsPerRequest?: number;
}

/** A baseline of the workflow scenarios, measured once per run. */
export interface BaselineResult {
  kind: 'baseline';
  id: string;
  issue: number;
  title: string;
  runAt: string;
  machine: string;
  description: string;
  runs: BaselineRun[];
  notes: string[];
}

/** One connection count of a webhook run, with what it left stored. */
export interface WorkflowRun extends LoadResult {
  /** Executions the run (warm-up included) left in the database. */
  stored: number;
  /** 2xx answers, warm-up included. */
  answered2xx: number;
  /** Requests sent, warm-up included (the answered ones and those in flight when autocannon stopped). */
  sentTotal: number;
  failedExecutions: number;
  /** CPU time of the serving process (the API process in scale mode) per stored execution, warm-up included. */
  cpuMsPerExecution?: number;
  /** Scale mode: CPU time of the worker processes per stored execution. */
  workerCpuMsPerExecution?: number;
}

export interface WorkflowTargets {
  connections: number;
  minExecPerS: number;
  minInsertShare: number;
  maxP99Ms: number;
}

/** A workflow under webhook load, in embedded or scale mode, beside the run's two baselines. */
export interface WorkflowLoadResult {
  kind: 'workflow-load';
  id: string;
  issue: number;
  title: string;
  runAt: string;
  machine: string;
  mode: 'embedded' | 'scale';
  targets: WorkflowTargets | null;
  baselines: { hello: Record<number, BaselineRun>; insert: Record<number, BaselineRun> };
  notes: string[];
  /** Why nothing was measured. */
  skipped?: string;
  dialects: Partial<Record<BenchDialect, { runs: WorkflowRun[]; rssAfterMb: number; workerRssAfterMb?: number[] }>>;
}

export interface EnginePureCost {
  runs: number;
  usPerNodeMedian: number;
  usPerNodeMin: number;
  usPerNodeMax: number;
}

export interface EngineDbCost {
  runs: number;
  executeMs100: Percentiles;
  executeMs2: Percentiles;
  /** p50 of the 100-node execute / 100. */
  usPerNode: number;
  /** (p50 of 100 nodes − p50 of 2 nodes) / 98. */
  marginalUsPerNode: number;
}

export interface EnginePerNodeResult {
  kind: 'engine-per-node';
  id: string;
  issue: number;
  title: string;
  runAt: string;
  machine: string;
  nodes: number;
  maxUsPerNode: number;
  pure: EnginePureCost;
  pureConstant: EnginePureCost;
  dialects: Partial<Record<BenchDialect, EngineDbCost>>;
  notes: string[];
}

export interface SoakSample {
  atS: number;
  rssMb: number;
  heapUsedMb: number | null;
}

/** Memory of a server under a long webhook run. */
export interface SoakResult {
  kind: 'soak';
  id: string;
  issue: number;
  title: string;
  runAt: string;
  machine: string;
  durationS: number;
  connections: number;
  run: LoadResult;
  samples: SoakSample[];
  firstRssMb: number;
  lastRssMb: number;
  maxRssMb: number;
  firstHalfMaxRssMb: number | null;
  secondHalfMaxRssMb: number | null;
  storedAtEnd: number;
  failedExecutions: number;
  notes: string[];
}

/** A request timed alone, again and again on one keep-alive connection. */
export interface SequentialRun {
  endpoint: string;
  as: 'admin' | 'member';
  timezone: string;
  requests: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** 1 ÷ mean latency. */
  rps: number;
  errors: number;
  buckets?: number;
}

export interface MetricsDialectResult {
  dataset: {
    cached: boolean;
    generatedAt: string;
    counts: { executions: number; threads: number; privateThreads: number; messages: number; runs: number; feedback: number };
    timings: { setupMs: number; executionsInsertMs: number; conversationsInsertMs: number; rollupsMs: number | null; finishMs: number; totalMs: number };
    rollupRows: Record<string, number>;
    sizeMb: number;
  };
  /** `GET /api/v1/user`, the floor. */
  baseline: SequentialRun;
  runs: SequentialRun[];
  /** autocannon runs by endpoint (`user` the floor). */
  throughput: Record<string, LoadResult>;
  checks: string[];
  rssAfterMb: number;
}

/** The metrics endpoints' series over a large generated workspace. */
export interface MetricsSeriesResult {
  kind: 'metrics-series';
  id: string;
  issue: number;
  title: string;
  runAt: string;
  machine: string;
  maxP95Ms: number;
  loadConnections: number;
  notes: string[];
  dialects: Partial<Record<BenchDialect, MetricsDialectResult>>;
}

/** Board changes fanned out to `clients` streams. */
export interface FanoutRun {
  clients: number;
  changes: number;
  intervalMs: number;
  connectMs: number;
  /** Streams that received the warm-up change. */
  live: number;
  expected: number;
  delivered: number;
  missed: number;
  outOfOrder: number;
  duplicates: number;
  /** Frames of other events that carried an already delivered change's title. */
  otherFrames: number;
  brokenStreams: number;
  putErrors: number;
  /** From the PUT being sent to the frame's arrival, over (client, change) pairs. */
  delay: Percentiles;
  /** From the PUT's answer to the frame's arrival. */
  delayAfterAck: Percentiles;
  put: Percentiles;
  serverCpuMsPerChange: number;
  rssMb: number;
  /** 1-minute load average as the changes started. */
  loadAverage?: number;
}

export interface CommandRoomStreamResult {
  kind: 'command-room-stream';
  id: string;
  issue: number;
  title: string;
  runAt: string;
  machine: string;
  maxP99Ms: number;
  notes: string[];
  dialects: Partial<Record<BenchDialect, { runs: FanoutRun[]; rssAfterMb: number }>>;
}

type AnyResult =
  | CommandRoomStreamResult
  | ScenarioResult
  | TtftResult
  | StreamsResult
  | BaselineResult
  | WorkflowLoadResult
  | EnginePerNodeResult
  | SoakResult
  | MetricsSeriesResult;

/** Within an issue: throughput tables, time to first token, concurrent streams, then the workflow engine's. */
const KIND_ORDER: Record<NonNullable<AnyResult['kind']>, number> = {
  load: 0,
  ttft: 1,
  streams: 2,
  baseline: 3,
  'workflow-load': 4,
  'engine-per-node': 5,
  soak: 6,
  'metrics-series': 7,
  'command-room-stream': 8,
};

export interface StartupResult {
  dialect: BenchDialect;
  startMsMedian: number;
  startMsRuns: number[];
  idleRssMb: number;
}

const BASELINE_NAMES: Record<string, string> = {
  hello: 'bare Fastify hello-world',
  'sqlite-insert': 'bare Fastify route doing one SQLite INSERT',
};

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? '' : ok ? '✅' : '❌';
}

function targetText(target: Target): string {
  const parts: string[] = [];
  if (target.minBaselineShare) {
    parts.push(`≥ ${Math.round(target.minBaselineShare.share * 100)}% of the baseline's req/s at c=${target.minBaselineShare.connections}`);
  }
  if (target.maxP99Ms) parts.push(`p99 < ${target.maxP99Ms.ms} ms at c=${target.maxP99Ms.connections}`);
  if (target.maxP99RatioTo) {
    const { ratio, scenario, connections } = target.maxP99RatioTo;
    parts.push(`p99 ≤ ${ratio}× the p99 of \`${scenario}\` at c=${connections}`);
  }
  return parts.join('; ') || 'reported, no target';
}

function renderScenario(result: ScenarioResult, others: Map<string, ScenarioResult>): string {
  const lines = [
    `### ${result.title} (issue #${result.issue})`,
    '',
    `Target: ${targetText(result.targets)}. Baseline: ${BASELINE_NAMES[result.baseline] ?? result.baseline}, same run. Measured ${result.runAt.slice(0, 16).replace('T', ' ')} UTC.`,
    '',
    '| storage | connections | req/s | baseline req/s | share of baseline | p50 ms | p99 ms | non-2xx / errors | target |',
    '|---|---:|---:|---:|---:|---:|---:|---:|:---:|',
  ];
  const notes: string[] = [];
  for (const [dialect, data] of Object.entries(result.dialects)) {
    if (!data) continue;
    if (data.notes) notes.push(`${dialect}: ${data.notes}`);
    for (const run of data.runs) {
      const base = result.baselineResults[run.connections];
      const share = base ? run.rps / base.rps : undefined;
      const checks: boolean[] = [];
      const t = result.targets;
      if (t.minBaselineShare && t.minBaselineShare.connections === run.connections && share !== undefined) {
        checks.push(share >= t.minBaselineShare.share);
      }
      if (t.maxP99Ms && t.maxP99Ms.connections === run.connections) checks.push(run.p99 < t.maxP99Ms.ms);
      const reference = t.maxP99RatioTo?.connections === run.connections
        ? others.get(t.maxP99RatioTo.scenario)?.dialects[dialect as BenchDialect]?.runs.find((r) => r.connections === run.connections)
        : undefined;
      if (t.maxP99RatioTo && reference) {
        checks.push(run.p99 <= reference.p99 * t.maxP99RatioTo.ratio);
        const within = run.p99 <= reference.p99 * t.maxP99RatioTo.ratio;
        notes.push(
          `${dialect}: p99 at c=${run.connections} is ${(run.p99 / reference.p99).toFixed(2)}× that of \`${t.maxP99RatioTo.scenario}\` (${run.p99} ms vs ${reference.p99} ms): ${within ? '✅ within' : '❌ over'} ${t.maxP99RatioTo.ratio}×`,
        );
      }
      checks.push(run.non2xx === 0 && run.errors === 0);
      const hasTarget = t.minBaselineShare !== undefined || t.maxP99Ms !== undefined || t.maxP99RatioTo !== undefined;
      const ok = checks.length > 1 || !hasTarget ? checks.every(Boolean) : undefined;
      lines.push(
        `| ${dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | ${run.connections} | ${run.rps.toLocaleString('en-US')} | ${base ? base.rps.toLocaleString('en-US') : '–'} | ${share === undefined ? '–' : `${Math.round(share * 100)}%`} | ${run.p50} | ${run.p99} | ${run.non2xx} / ${run.errors} | ${verdict(ok)} |`,
      );
    }
    lines.push(`| ${dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | | RSS after load: ${data.rssAfterMb} MB | | | | | | |`);
  }
  if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

const storageName = (dialect: string) => (dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL');
const plus = (ms: number) => `${ms >= 0 ? '+' : '−'}${Math.abs(ms).toFixed(2)}`;
const measuredAt = (runAt: string) => `Measured ${runAt.slice(0, 16).replace('T', ' ')} UTC.`;

function renderTtft(result: TtftResult): string {
  const { chunks, chunkDelayMs } = result.script;
  const lines = [
    `### ${result.title} (issue #${result.issue})`,
    '',
    `Target: Athena adds < ${result.maxAddedP50Ms} ms to time-to-first-token at p50. Baseline: the same streamed reply (${chunks} chunks, the first at once, then one every ${chunkDelayMs} ms) asked of the fake model server directly, in the same run, alternating with the runs through Athena. ${measuredAt(result.runAt)}`,
    '',
    '| storage | path | streams | p50 ms | p95 ms | p99 ms | added at p50 | added at p95 | target |',
    '|---|---|---:|---:|---:|---:|---:|---:|:---:|',
  ];
  const notes = [...result.notes];
  for (const [dialect, data] of Object.entries(result.dialects)) {
    if (!data) continue;
    const name = storageName(dialect);
    const cells = (p: Percentiles) => `${data.iterations} | ${p.p50.toFixed(2)} | ${p.p95.toFixed(2)} | ${p.p99.toFixed(2)}`;
    const through = (label: string, p: Percentiles, verdictText: string) =>
      lines.push(`| ${name} | ${label} | ${cells(p)} | ${plus(p.p50 - data.direct.p50)} | ${plus(p.p95 - data.direct.p95)} | ${verdictText} |`);
    lines.push(`| ${name} | model server directly | ${cells(data.direct)} | – | – | |`);
    through('agent run, new thread (`POST /agents/{uuid}/run`)', data.agent, verdict(data.errors === 0 && data.agent.p50 - data.direct.p50 < result.maxAddedP50Ms));
    through('prompt run (`POST /prompts/{uuid}/run`)', data.prompt, '');
    lines.push(`| ${name} | | RSS after: ${data.rssAfterMb} MB | | | | | | |`);
    notes.push(
      `${dialect}: ${data.warmup} warm-up rounds, then ${data.iterations} measured; ${data.errors} failed streams. Of an agent run's time to first token, Athena spends p50 ${data.agentBeforeModelCall.p50.toFixed(1)} ms (p95 ${data.agentBeforeModelCall.p95.toFixed(1)} ms) before its model call starts (time to first token minus the run's own \`ttft_ms\`).`,
    );
  }
  lines.push('', ...notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

function renderStreams(result: StreamsResult): string {
  const { chunks, chunkDelayMs } = result.script;
  const lines = [
    `### ${result.title} (issue #${result.issue})`,
    '',
    `Target: no errors and no message lost. Each reply streams in ${chunks} chunks, ${chunkDelayMs} ms apart (about ${((chunks - 1) * chunkDelayMs) / 1000} s). ${measuredAt(result.runAt)}`,
    '',
    '| storage | streams | wall time | runs/s | errors | lost messages | model calls | time to first token p50 / p99 ms | stream p50 / p99 ms | peak RSS | target |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|',
  ];
  const notes = [...result.notes];
  for (const [dialect, data] of Object.entries(result.dialects)) {
    if (!data) continue;
    lines.push(
      `| ${storageName(dialect)} | ${data.streams} | ${(data.wallMs / 1000).toFixed(2)} s | ${data.runsPerS} | ${data.errors} | ${data.lostMessages} | ${data.modelCalls} | ${Math.round(data.ttft.p50)} / ${Math.round(data.ttft.p99)} | ${Math.round(data.duration.p50)} / ${Math.round(data.duration.p99)} | ${data.rssPeakMb} MB (${data.rssAfterMb} MB after) | ${verdict(data.errors === 0 && data.lostMessages === 0)} |`,
    );
    for (const sample of data.errorSamples) notes.push(`${dialect}: ${sample}`);
  }
  if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

const count = (n: number) => n.toLocaleString('en-US');
const modeName = (mode: WorkflowLoadResult['mode']) => (mode === 'embedded' ? 'embedded' : 'scale');

function renderBaseline(result: BaselineResult): string {
  const lines = [
    `### ${result.title} (issue #${result.issue})`,
    '',
    `${result.description} Same autocannon settings as the workflow runs. ${measuredAt(result.runAt)}`,
    '',
    '| connections | req/s | p50 ms | p99 ms | non-2xx / errors | server CPU ms per request |',
    '|---:|---:|---:|---:|---:|---:|',
    ...result.runs.map(
      (r) => `| ${r.connections} | ${count(r.rps)} | ${r.p50} | ${r.p99} | ${r.non2xx} / ${r.errors} | ${r.cpuMsPerRequest === undefined ? '–' : r.cpuMsPerRequest.toFixed(3)} |`,
    ),
  ];
  if (result.notes.length) lines.push('', ...result.notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

function cpuCell(run: WorkflowRun): string {
  if (run.cpuMsPerExecution === undefined) return '–';
  const worker = run.workerCpuMsPerExecution === undefined ? '' : ` + ${run.workerCpuMsPerExecution.toFixed(3)} (worker)`;
  return `${run.cpuMsPerExecution.toFixed(3)}${worker}`;
}

function renderWorkflowLoad(result: WorkflowLoadResult): string {
  const t = result.targets;
  const target = t
    ? `Target (embedded mode, c=${t.connections}, execution data saved): ≥ ${count(t.minExecPerS)} executions/s, ≥ ${Math.round(t.minInsertShare * 100)}% of the one-INSERT baseline, p99 < ${t.maxP99Ms} ms. For comparison, n8n 1.123 measured on the same kind of machine with the same three-node workflow about 57 executions/s, p99 over 1 s.`
    : 'Reported beside the same baselines; the issue sets its targets on embedded mode.';
  const lines = [`### ${result.title} (issue #${result.issue})`, '', `${target} Baselines measured in the same run. ${measuredAt(result.runAt)}`, ''];
  if (result.skipped) {
    lines.push(`**Not measured in this run.** ${result.skipped}`);
    return lines.join('\n');
  }
  lines.push(
    '| mode | storage | connections | executions/s | Fastify req/s | one-INSERT req/s | share of one-INSERT | p50 ms | p99 ms | non-2xx / errors | server CPU ms per execution | stored = 2xx | target |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|:---:|',
  );
  for (const [dialect, data] of Object.entries(result.dialects)) {
    if (!data) continue;
    for (const run of data.runs) {
      const hello = result.baselines.hello[run.connections];
      const insert = result.baselines.insert[run.connections];
      const share = insert ? run.rps / insert.rps : undefined;
      const storedOk = run.failedExecutions === 0 && run.stored >= run.answered2xx && run.stored <= run.sentTotal;
      const extra = run.stored - run.answered2xx;
      const stored = `${verdict(storedOk)} ${count(run.stored)} / ${count(run.answered2xx)}${extra > 0 ? ` (+${extra}; ${run.sentTotal - run.answered2xx} sent, unanswered)` : ''}${run.failedExecutions ? `, ${run.failedExecutions} failed` : ''}`;
      const ok =
        t && run.connections === t.connections
          ? run.rps >= t.minExecPerS && share !== undefined && share >= t.minInsertShare && run.p99 < t.maxP99Ms && run.non2xx === 0 && run.errors === 0 && storedOk
          : undefined;
      lines.push(
        `| ${modeName(result.mode)} | ${storageName(dialect)} | ${run.connections} | ${count(run.rps)} | ${hello ? count(hello.rps) : '–'} | ${insert ? count(insert.rps) : '–'} | ${share === undefined ? '–' : `${Math.round(share * 100)}%`} | ${run.p50} | ${run.p99} | ${run.non2xx} / ${run.errors} | ${cpuCell(run)} | ${stored} | ${verdict(ok)} |`,
      );
    }
    const workers = data.workerRssAfterMb?.length ? `; worker: ${data.workerRssAfterMb.join(', ')} MB` : '';
    lines.push(`| ${modeName(result.mode)} | ${storageName(dialect)} | | RSS after load: ${data.rssAfterMb} MB${workers} | | | | | | | | | |`);
  }
  if (result.notes.length) lines.push('', ...result.notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

function renderEnginePerNode(result: EnginePerNodeResult): string {
  const pureRow = (label: string, cost: EnginePureCost, withVerdict: boolean) =>
    `| ${label} | in process, no storage | ${cost.usPerNodeMedian} (${cost.usPerNodeMin}–${cost.usPerNodeMax}) | – | ${count(cost.runs)} runs | ${withVerdict ? verdict(cost.usPerNodeMedian < result.maxUsPerNode) : ''} |`;
  const lines = [
    `### ${result.title} (issue #${result.issue})`,
    '',
    `Target: under ${result.maxUsPerNode} µs of engine overhead per node. ${measuredAt(result.runAt)}`,
    '',
    '| path | storage | µs per node | µs per extra node | execute p50 (100 nodes / 2 nodes) | target |',
    '|---|---|---:|---:|---|:---:|',
    pureRow('engine, one expression per node', result.pure, true),
    pureRow('engine, constant values', result.pureConstant, false),
  ];
  for (const [dialect, cost] of Object.entries(result.dialects)) {
    if (!cost) continue;
    lines.push(
      `| engine + persistence (\`execute\`, \`wait: true\`) | ${storageName(dialect)} | ${count(cost.usPerNode)} | ${count(cost.marginalUsPerNode)} | ${cost.executeMs100.p50.toFixed(1)} ms / ${cost.executeMs2.p50.toFixed(1)} ms (${cost.runs} runs each) | |`,
    );
  }
  if (result.notes.length) lines.push('', ...result.notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

function renderSoak(result: SoakResult): string {
  const flat =
    result.firstHalfMaxRssMb !== null && result.secondHalfMaxRssMb !== null ? result.secondHalfMaxRssMb <= result.firstHalfMaxRssMb * 1.1 : undefined;
  const minutes = result.durationS / 60;
  const lines = [
    `### ${result.title} (issue #${result.issue})`,
    '',
    `Target: memory flat over a 10-minute run. This run lasted ${result.durationS} s (${minutes.toFixed(minutes < 10 ? 1 : 0)} min)${result.durationS < 600 ? ': the 10-minute run is `npm run bench -- --only wf-soak --duration 600 --skip-startup`' : ''}. ${measuredAt(result.runAt)}`,
    '',
    '| connections | executions/s | p50 ms | p99 ms | non-2xx / errors | RSS first / last / max | highest RSS, first half → second half | executions kept at the end | flat over this run |',
    '|---:|---:|---:|---:|---:|---|---|---:|:---:|',
    `| ${result.connections} | ${count(result.run.rps)} | ${result.run.p50} | ${result.run.p99} | ${result.run.non2xx} / ${result.run.errors} | ${result.firstRssMb} / ${result.lastRssMb} / ${result.maxRssMb} MB | ${result.firstHalfMaxRssMb ?? '–'} → ${result.secondHalfMaxRssMb ?? '–'} MB | ${count(result.storedAtEnd)}${result.failedExecutions ? ` (${result.failedExecutions} failed)` : ''} | ${verdict(flat)} |`,
    '',
    `Samples (s: RSS MB / heap used MB): ${result.samples.map((s) => `${s.atS}: ${s.rssMb} / ${s.heapUsedMb ?? '?'}`).join(' · ')}`,
  ];
  if (result.notes.length) lines.push('', ...result.notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

const seconds = (ms: number | null) => (ms === null ? '–' : `${(ms / 1000).toFixed(1)} s`);

function renderMetricsSeries(result: MetricsSeriesResult): string {
  const lines = [
    `### ${result.title} (issue #${result.issue})`,
    '',
    `Target: a 90-day daily series under ${result.maxP95Ms} ms at p95, on SQLite and PostgreSQL. Floor: \`GET /api/v1/user\` (authenticated, no query) on the same server and connection, same run. ${measuredAt(result.runAt)}`,
    '',
    '| storage | endpoint | caller | time zone | requests | p50 ms | p95 ms | p99 ms | max ms | req/s, one at a time | target |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---:|:---:|',
  ];
  const fixed = (n: number) => n.toFixed(1);
  for (const [dialect, data] of Object.entries(result.dialects)) {
    if (!data) continue;
    const b = data.baseline;
    lines.push(`| ${storageName(dialect)} | floor: \`GET /api/v1/user\` | owner | – | ${b.requests} | ${fixed(b.p50)} | ${fixed(b.p95)} | ${fixed(b.p99)} | ${fixed(b.max)} | ${count(b.rps)} | |`);
    for (const run of data.runs) {
      lines.push(
        `| ${storageName(dialect)} | \`${run.endpoint}\` | ${run.as === 'admin' ? 'owner' : 'member'} | ${run.timezone} | ${run.requests} | ${fixed(run.p50)} | ${fixed(run.p95)} | ${fixed(run.p99)} | ${fixed(run.max)} | ${count(run.rps)} | ${verdict(run.errors === 0 && run.p95 < result.maxP95Ms)} |`,
      );
    }
  }
  lines.push(
    '',
    `Throughput, owner, UTC, autocannon at c=${result.loadConnections}:`,
    '',
    '| storage | endpoint | req/s | p50 ms | p99 ms | non-2xx / errors |',
    '|---|---|---:|---:|---:|---:|',
  );
  for (const [dialect, data] of Object.entries(result.dialects)) {
    if (!data) continue;
    for (const [endpoint, run] of Object.entries(data.throughput)) {
      lines.push(`| ${storageName(dialect)} | ${endpoint === 'user' ? 'floor: `GET /api/v1/user`' : `\`${endpoint}\``} | ${count(run.rps)} | ${run.p50} | ${run.p99} | ${run.non2xx} / ${run.errors} |`);
    }
    lines.push(`| ${storageName(dialect)} | | RSS after: ${data.rssAfterMb} MB | | | |`);
  }
  lines.push(
    '',
    'The data set, and what generating it took (`node --import tsx bench/generate-metrics-data.ts`):',
    '',
    '| storage | executions | messages | threads (private) | agent runs | feedback | setup through the API | raw executions | raw threads, messages, runs | `rebuildRollups` | rollup rows | size | reused from an earlier run |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const [dialect, data] of Object.entries(result.dialects)) {
    if (!data) continue;
    const d = data.dataset;
    const rollupRows = Object.values(d.rollupRows).reduce((a, b) => a + b, 0);
    lines.push(
      `| ${storageName(dialect)} | ${count(d.counts.executions)} | ${count(d.counts.messages)} | ${count(d.counts.threads)} (${count(d.counts.privateThreads)}) | ${count(d.counts.runs)} | ${count(d.counts.feedback)} | ${seconds(d.timings.setupMs)} | ${seconds(d.timings.executionsInsertMs)} | ${seconds(d.timings.conversationsInsertMs)} | ${seconds(d.timings.rollupsMs)} | ${count(rollupRows)} | ${count(Math.round(d.sizeMb))} MB | ${d.cached ? `yes (generated ${d.generatedAt.slice(0, 16).replace('T', ' ')} UTC)` : 'no'} |`,
    );
  }
  const notes = [
    ...result.notes,
    'Reproduce: `npm run bench -- --only metrics --skip-startup` (`--dialect sqlite` or `postgres` for one). The data set is generated on first use and kept: SQLite under the OS temp dir (`athena-bench-metrics/`), reused while less than a week old and made by the same migrations; PostgreSQL in the schema `bench_metrics`, dropped after the run unless `BENCH_KEEP_METRICS_DATA=1`. `node --import tsx bench/generate-metrics-data.ts [--fresh | --drop]` generates or removes it alone.',
  ];
  for (const [dialect, data] of Object.entries(result.dialects)) for (const check of data?.checks ?? []) notes.push(`${storageName(dialect)}: ${check}`);
  lines.push('', ...notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

function renderCommandRoomStream(result: CommandRoomStreamResult): string {
  const lines = [
    `### ${result.title} (issue #${result.issue})`,
    '',
    `Target: with 500 clients connected, a change reaches them within ${result.maxP99Ms} ms at p99. Floor: the same changes to 1 client, on the same server, same run. ${measuredAt(result.runAt)}`,
    '',
    '| storage | clients | delay p50 / p95 / p99 / max ms | after its answer p50 / p99 ms | PUT p50 / p99 ms | delivered | missed | out of order / duplicates | server CPU per change | RSS | target |',
    '|---|---:|---|---|---|---:|---:|---:|---:|---:|:---:|',
  ];
  const ms = (n: number) => n.toFixed(1);
  for (const [dialect, data] of Object.entries(result.dialects)) {
    if (!data) continue;
    for (const run of data.runs) {
      const ok = run.clients >= 500 ? run.delay.p99 < result.maxP99Ms && run.missed === 0 && run.outOfOrder === 0 && run.duplicates === 0 && run.putErrors === 0 : undefined;
      lines.push(
        `| ${storageName(dialect)} | ${count(run.clients)} | ${ms(run.delay.p50)} / ${ms(run.delay.p95)} / ${ms(run.delay.p99)} / ${ms(run.delay.max)} | ${ms(run.delayAfterAck.p50)} / ${ms(run.delayAfterAck.p99)} | ${ms(run.put.p50)} / ${ms(run.put.p99)} | ${count(run.delivered)} / ${count(run.expected)} | ${count(run.missed)} | ${run.outOfOrder} / ${run.duplicates} | ${run.serverCpuMsPerChange} ms | ${run.rssMb} MB | ${verdict(ok)} |`,
      );
    }
  }
  const notes = [
    ...result.notes,
    'Reproduce: `npm run bench -- --only command-room-stream --skip-startup` (a fresh database per storage; it stops by itself after the changes).',
  ];
  for (const [dialect, data] of Object.entries(result.dialects)) {
    for (const run of data?.runs ?? []) {
      const extra: string[] = [];
      if (run.live < run.clients) extra.push(`only ${run.live} of ${run.clients} streams were live before the first change`);
      if (run.brokenStreams) extra.push(`${run.brokenStreams} streams broke`);
      if (run.putErrors) extra.push(`${run.putErrors} PUTs failed`);
      if (run.otherFrames) extra.push(`${count(run.otherFrames)} other frames carried an earlier change's title`);
      const load = run.loadAverage === undefined ? '' : `; load average ${run.loadAverage} (1 min) as the changes started`;
      notes.push(`${storageName(dialect)}, ${run.clients} client${run.clients === 1 ? '' : 's'}: connected in ${count(run.connectMs)} ms${load}${extra.length ? `; ${extra.join('; ')}` : ''}.`);
    }
  }
  lines.push('', ...notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

function renderResult(result: AnyResult, others: Map<string, ScenarioResult>): string {
  switch (result.kind) {
    case 'command-room-stream':
      return renderCommandRoomStream(result);
    case 'metrics-series':
      return renderMetricsSeries(result);
    case 'ttft':
      return renderTtft(result);
    case 'streams':
      return renderStreams(result);
    case 'baseline':
      return renderBaseline(result);
    case 'workflow-load':
      return renderWorkflowLoad(result);
    case 'engine-per-node':
      return renderEnginePerNode(result);
    case 'soak':
      return renderSoak(result);
    default:
      return renderScenario(result, others);
  }
}

/** docs/benchmarks.md from every results file. */
export function renderBenchmarks(resultsDir: string): string {
  const files = fs.readdirSync(resultsDir).filter((f) => f.endsWith('.json') && f !== 'startup.json');
  const results = files
    .map((f) => JSON.parse(fs.readFileSync(path.join(resultsDir, f), 'utf8')) as AnyResult)
    .sort((a, b) => a.issue - b.issue || KIND_ORDER[a.kind ?? 'load'] - KIND_ORDER[b.kind ?? 'load'] || a.id.localeCompare(b.id));
  const startupFile = path.join(resultsDir, 'startup.json');
  const startup = fs.existsSync(startupFile)
    ? (JSON.parse(fs.readFileSync(startupFile, 'utf8')) as { runAt: string; machine: string; results: StartupResult[] })
    : undefined;

  const out = [
    '# Benchmarks',
    '',
    'Generated by `npm run bench` (bench/run.ts) from the raw results in `bench/results/`; do not edit by hand.',
    'Every figure is measured on loopback against the server as users run it (`node dist/cli.js start`, default',
    'configuration: access log off, Prometheus metrics on; rate limits raised so that they are not what is measured).',
    'Throughput tables come from autocannon (one process generating load, one serving it) after a 2-second warm-up;',
    'streamed runs are timed event by event by the bench\'s own client against a fake model server in a third process',
    '(bench/lib/fake-model-server.ts). Each comparison is with a baseline measured in the same run on the same machine.',
    '',
  ];
  const machines = new Set([...results.map((r) => r.machine), ...(startup ? [startup.machine] : [])]);
  out.push(`Machine: ${[...machines].join('; ')}.`, '');

  if (startup) {
    out.push(
      '## Start-up and memory (issue #2)',
      '',
      'Target: start to healthy (spawn until `GET /health` answers 200, migrations included) under 1.5 s; idle RSS under 120 MB.',
      '',
      '| storage | start to healthy (median of 3) | runs | idle RSS after 5 s | target |',
      '|---|---:|---|---:|:---:|',
      ...startup.results.map(
        (r) =>
          `| ${r.dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | ${r.startMsMedian} ms | ${r.startMsRuns.join(', ')} ms | ${r.idleRssMb} MB | ${verdict(r.startMsMedian < 1500 && r.idleRssMb < 120)} |`,
      ),
      '',
    );
  }
  const loads = new Map(results.filter((r): r is ScenarioResult => r.kind === undefined || r.kind === 'load').map((r) => [r.id, r]));
  let issue = -1;
  for (const result of results) {
    if (result.issue !== issue) {
      issue = result.issue;
      out.push(`## Issue #${issue}`, '');
    }
    out.push(renderResult(result, loads), '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
