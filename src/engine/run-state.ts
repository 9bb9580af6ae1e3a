/**
 * The durable state of one execution between steps: what is left to run. It is small (node ids
 * and step numbers, never data) and is committed with every step, so a process that dies
 * mid-run leaves behind exactly what the next one needs to go on.
 */

/** One pending run of a node: its input is the output of step `from` (null: the trigger data). */
export interface Activation {
  node: string;
  from: number | null;
  /** The edge it came by (null for the trigger node and for a join that runs). */
  edge: string | null;
  /** A join node (merge) run with what its edges delivered. */
  join?: boolean;
}

export interface RunState {
  queue: Activation[];
  /** Per join node: edge id → the step whose output it delivered. */
  joins: Record<string, Record<string, number>>;
  /** What nodes keep across their own runs (loop cursors). */
  nodeState: Record<string, unknown>;
  /** Node runs so far, against the per-execution cap. */
  nodeRuns: number;
  /** Highest step number committed. */
  lastSeq: number;
  /** The activation a wait node parked on, with the time its first attempt started. */
  waiting: (Activation & { started_at: string }) | null;
}

export function initialState(triggerNodeId: string): RunState {
  return {
    queue: [{ node: triggerNodeId, from: null, edge: null }],
    joins: {},
    nodeState: {},
    nodeRuns: 0,
    lastSeq: -1,
    waiting: null,
  };
}

/** Step statuses: `failed` with an `error`; a failure handled by `continue`/`error_output` is `failed` too, but the run goes on. */
export type StepStatus = 'succeeded' | 'failed';

export interface StepError {
  message: string;
  /** `node`: the node's own failure; `expression`; `timeout`; `internal`: the platform's. */
  kind: 'node' | 'expression' | 'sandbox' | 'limit' | 'internal';
  details?: Record<string, unknown>;
}

/** One node run as stored: the unit of durability. */
export interface StepRecord {
  seq: number;
  node_id: string;
  node_type: string;
  status: StepStatus;
  input: unknown;
  output: unknown;
  /** The output handle it left by; null when none (a failure that stopped the run). */
  handle: string | null;
  error: StepError | null;
  attempts: number;
  started_at: string;
  finished_at: string;
}
