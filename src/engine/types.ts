/**
 * The workflow model as the engine sees it: a graph of nodes and edges, plus variables. These
 * are plain data (what the API stores and the execution snapshots), with no storage or HTTP.
 */

/** What a node does when it fails (after its retries). */
export const ON_ERROR_POLICIES = ['stop', 'continue', 'error_output'] as const;
export type OnErrorPolicy = (typeof ON_ERROR_POLICIES)[number];

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  max_attempts: number;
  /** Wait before the second attempt; doubled per attempt when `backoff` is `exponential`. */
  delay_ms: number;
  backoff: 'fixed' | 'exponential';
}

export interface WorkflowNode {
  /** Unique within the workflow; edges and `nodes.<id>` expressions refer to it. */
  id: string;
  type: string;
  name: string;
  position: { x: number; y: number };
  parameters: Record<string, unknown>;
  /** Absent: one attempt. */
  retry?: RetryPolicy | null;
  /**
   * `stop` (default): the execution fails. `continue`: the node's output is `{error}` and the
   * execution goes on by its usual handle. `error_output`: the `{error}` output leaves by the
   * `error` handle, to a branch that handles it.
   */
  on_error?: OnErrorPolicy;
  /** A disabled node passes its input through unchanged. */
  disabled?: boolean;
  notes?: string | null;
}

export interface WorkflowEdge {
  id: string;
  source: string;
  target: string;
  /** The output the edge leaves by (`main` when absent; `true`/`false` for `if`, …). */
  source_handle?: string | null;
  /** The input it arrives at (`main` when absent). */
  target_handle?: string | null;
}

export interface WorkflowVariable {
  name: string;
  /** For a secret variable: the plaintext only inside the engine, at the moment of use. */
  value: unknown;
  secret: boolean;
}

export interface WorkflowGraph {
  nodes: WorkflowNode[];
  edges: WorkflowEdge[];
}

/** The output handle every node has unless its type says otherwise. */
export const MAIN = 'main';
/** The handle a node's failure leaves by when its policy is `error_output`. */
export const ERROR_HANDLE = 'error';

/** One problem found in a graph: `path` names the field (`nodes.3.parameters.url`, `edges.e1`). */
export interface GraphIssue {
  path: string;
  message: string;
}

export const sourceHandleOf = (edge: WorkflowEdge): string => edge.source_handle || MAIN;
export const targetHandleOf = (edge: WorkflowEdge): string => edge.target_handle || MAIN;
