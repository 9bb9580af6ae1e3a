import type { BenchDialect, LoadRequest, LoadResult, RunningServer } from './harness.js';

export interface Target {
  /** Minimum share of the same run's baseline requests per second, at the given connections. */
  minBaselineShare?: { connections: number; share: number };
  /** Maximum p99 latency in ms, at the given connections. */
  maxP99Ms?: { connections: number; ms: number };
  /** Maximum p99 as a multiple of another scenario's p99 on the same storage (how it scales). */
  maxP99RatioTo?: { scenario: string; connections: number; ratio: number };
}

export interface PreparedLoad {
  request: LoadRequest;
  /** Anything the scenario wants reported beside the load numbers (data set size…). */
  notes?: string;
}

/**
 * One benchmarked endpoint. `prepare` runs against a started Athena (signed in as the bench
 * admin) and answers the request to load; the harness runs it at each connection count,
 * beside the baseline measured in the same run.
 */
export interface Scenario {
  kind?: 'load';
  id: string;
  issue: number;
  title: string;
  dialects: BenchDialect[];
  connections: number[];
  durationS: number;
  /** Which baseline it is compared with. */
  baseline: 'hello' | 'sqlite-insert';
  targets: Target;
  /** Extra environment for the Athena process. */
  env?: Record<string, string>;
  prepare(server: RunningServer, token: string, dialect: BenchDialect): Promise<PreparedLoad>;
}

/** What a measured scenario gets from the runner. */
export interface MeasureContext {
  /** The databases of this run (`--dialect`, and whether PostgreSQL answers). */
  dialects: BenchDialect[];
  runAt: string;
  machine: string;
  log(message: string): void;
  /** `--duration <s>`, for scenarios whose length is chosen per run (the memory soak). */
  durationS?: number;
  /** The baselines the runner measured in this run for its throughput scenarios, by kind and connections. */
  baselines: Record<string, Record<number, LoadResult>>;
}

/**
 * A measurement that is not a throughput run with autocannon (streamed runs timed event by
 * event, bursts of concurrent streams): it starts what it needs, measures, and answers the
 * result written to bench/results/<id>.json, whose `kind` tells the report how to show it.
 */
export interface MeasuredScenario {
  kind: 'measured';
  id: string;
  issue: number;
  title: string;
  /** Runs only when named with `--only` (long runs, such as the 10-minute memory soak). */
  optIn?: boolean;
  run(context: MeasureContext): Promise<{ kind: string; id: string; issue: number }>;
}

export type AnyScenario = Scenario | MeasuredScenario;

export function isLoadScenario(scenario: AnyScenario): scenario is Scenario {
  return scenario.kind !== 'measured';
}
