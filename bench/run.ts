/**
 * `npm run bench`: loopback load against Athena as users run it, beside baselines measured in
 * the same run. Raw results go to bench/results/<scenario>.json; docs/benchmarks.md is
 * regenerated from all of them, so a partial run (`--only a,b`) keeps the other sections.
 * Throughput scenarios run under autocannon here; measured ones (streamed runs) bring their own
 * client and servers (see bench/lib/scenario.ts).
 *
 *   npm run bench -- --only user,workspaces --dialect sqlite
 *   npm run bench -- --only ai-ttft,ai-streams --skip-startup
 *   npm run bench -- --only wf-soak --duration 600 --skip-startup
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ROOT,
  load,
  postgresReachable,
  rssMb,
  signInAdmin,
  startAthena,
  startBaseline,
  type BenchDialect,
  type LoadResult,
} from './lib/harness.js';
import { renderBenchmarks, type ScenarioResult, type StartupResult } from './lib/report.js';
import { isLoadScenario, type Scenario } from './lib/scenario.js';
import { SCENARIOS } from './scenarios/index.js';

const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    dialect: { type: 'string' },
    'skip-startup': { type: 'boolean', default: false },
    duration: { type: 'string' },
  },
});

const only = values.only?.split(',').map((s) => s.trim());
// Opt-in scenarios (the memory soak) run only when named.
const scenarios = SCENARIOS.filter((s) => (only ? only.includes(s.id) : isLoadScenario(s) || !s.optIn));
const durationS = values.duration === undefined ? undefined : Number(values.duration);
if (durationS !== undefined && !(Number.isInteger(durationS) && durationS > 0)) throw new Error('--duration takes a whole number of seconds.');
if (scenarios.length === 0) throw new Error(`No scenario matches --only ${values.only}. Known: ${SCENARIOS.map((s) => s.id).join(', ')}`);

const pgUp = await postgresReachable();
const dialects: BenchDialect[] = (values.dialect ? [values.dialect as BenchDialect] : (['sqlite', 'postgres'] as BenchDialect[])).filter(
  (d) => d === 'sqlite' || pgUp,
);
if (!pgUp) process.stdout.write('PostgreSQL is not reachable: PostgreSQL rows are skipped in this run.\n');

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
const runAt = new Date().toISOString();
fs.mkdirSync(RESULTS_DIR, { recursive: true });

function log(message: string) {
  process.stdout.write(`${message}\n`);
}

async function measureBaselines(): Promise<Record<string, Record<number, LoadResult>>> {
  const baselines: Record<string, Record<number, LoadResult>> = {};
  const needed = new Map<string, Set<number>>();
  for (const s of scenarios.filter(isLoadScenario)) {
    const set = needed.get(s.baseline) ?? new Set<number>();
    s.connections.forEach((c) => set.add(c));
    needed.set(s.baseline, set);
  }
  for (const [kind, connections] of needed) {
    const server = await startBaseline(kind as 'hello' | 'sqlite-insert');
    baselines[kind] = {};
    try {
      for (const c of [...connections].sort((a, b) => a - b)) {
        const request =
          kind === 'hello'
            ? { path: '/' }
            : { method: 'POST' as const, path: '/', headers: { 'content-type': 'application/json' }, body: '{"hello":"world"}' };
        const result = await load(server.url, request, c, 10);
        baselines[kind]![c] = result;
        log(`baseline ${kind} c=${c}: ${result.rps} req/s, p99 ${result.p99} ms`);
      }
    } finally {
      await server.stop();
    }
  }
  return baselines;
}

async function measureStartup(): Promise<StartupResult[]> {
  const results: StartupResult[] = [];
  for (const dialect of dialects) {
    const starts: number[] = [];
    let idleRss = 0;
    for (let i = 0; i < 3; i++) {
      const server = await startAthena(dialect);
      starts.push(Math.round(server.startMs));
      if (i === 2) {
        await sleep(5000);
        idleRss = rssMb(server.pid);
      }
      await server.stop();
    }
    starts.sort((a, b) => a - b);
    results.push({ dialect, startMsMedian: starts[1]!, startMsRuns: starts, idleRssMb: idleRss });
    log(`startup ${dialect}: ${starts.join(', ')} ms; idle RSS ${idleRss} MB`);
  }
  return results;
}

async function runScenario(scenario: Scenario, baselines: Record<string, Record<number, LoadResult>>): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    id: scenario.id,
    issue: scenario.issue,
    title: scenario.title,
    baseline: scenario.baseline,
    targets: scenario.targets,
    runAt,
    machine,
    baselineResults: Object.fromEntries(scenario.connections.map((c) => [c, baselines[scenario.baseline]![c]!])),
    dialects: {},
  };
  for (const dialect of scenario.dialects.filter((d) => dialects.includes(d))) {
    const server = await startAthena(dialect, scenario.env);
    try {
      const token = await signInAdmin(server.url);
      const prepared = await scenario.prepare(server, token, dialect);
      const runs: LoadResult[] = [];
      for (const c of scenario.connections) {
        const run = await load(server.url, prepared.request, c, scenario.durationS);
        runs.push(run);
        log(`${scenario.id} ${dialect} c=${c}: ${run.rps} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, non-2xx ${run.non2xx}, errors ${run.errors}`);
      }
      result.dialects[dialect] = { runs, rssAfterMb: rssMb(server.pid), notes: prepared.notes };
    } finally {
      await server.stop();
    }
  }
  return result;
}

const baselines = await measureBaselines();
if (!values['skip-startup']) {
  const startup = await measureStartup();
  fs.writeFileSync(path.join(RESULTS_DIR, 'startup.json'), `${JSON.stringify({ runAt, machine, results: startup }, null, 2)}\n`);
}
for (const scenario of scenarios) {
  const result = isLoadScenario(scenario) ? await runScenario(scenario, baselines) : await scenario.run({ dialects, runAt, machine, log, durationS, baselines });
  fs.writeFileSync(path.join(RESULTS_DIR, `${scenario.id}.json`), `${JSON.stringify(result, null, 2)}\n`);
}
fs.writeFileSync(path.join(ROOT, 'docs', 'benchmarks.md'), renderBenchmarks(RESULTS_DIR));
log('Wrote docs/benchmarks.md');
