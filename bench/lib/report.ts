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

type AnyResult = ScenarioResult | TtftResult | StreamsResult;

/** Within an issue: throughput tables, then time to first token, then concurrent streams. */
const KIND_ORDER: Record<NonNullable<AnyResult['kind']>, number> = { load: 0, ttft: 1, streams: 2 };

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

function renderResult(result: AnyResult, others: Map<string, ScenarioResult>): string {
  if (result.kind === 'ttft') return renderTtft(result);
  if (result.kind === 'streams') return renderStreams(result);
  return renderScenario(result, others);
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
