import type { TSchema } from 'typebox';
import type { NodeServices } from './ports.js';
import type { WorkflowNode } from './types.js';

export const NODE_CATEGORIES = ['trigger', 'flow', 'data', 'action', 'ai', 'customer_accounts'] as const;
export type NodeCategory = (typeof NODE_CATEGORIES)[number];

/** What the execution tells a node about itself. */
export interface ExecutionInfo {
  uuid: string;
  workflow_uuid: string;
  workspace_uuid: string;
  started_at: string;
  /** How the execution began: manual, webhook, schedule, agent, workflow, error, retry. */
  trigger: string;
  /** The user the execution acts for (the workflow's owner when a webhook or schedule started it). */
  user_id: number | null;
}

/** A node's view of one run of itself. */
export interface NodeRunContext<P = Record<string, unknown>> {
  node: WorkflowNode;
  /** Parameters with every `{{ }}` expression already evaluated (raw ones left as written). */
  params: P;
  /** The previous node's output (for a trigger: the trigger data). */
  input: unknown;
  /** For a node with several incoming edges that waits for them (merge): input per edge, in edge order. */
  inputs: Array<{ edge: string; source: string; handle: string; data: unknown }>;
  execution: ExecutionInfo;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborted when the execution is cancelled or the process shuts down. */
  signal: AbortSignal;
  services: NodeServices;
  /** State a node keeps across its own activations in one execution (loop cursors). */
  state: unknown;
  /** What expressions see: trigger data, node outputs so far, variables (secrets only once revealed), execution. */
  scope: { trigger: unknown; nodes: Record<string, { output: unknown }>; vars: Record<string, unknown>; execution: { uuid: string; started_at: string } };
  /** Evaluates an expression (without `{{ }}`) over the execution's scope plus `extra`. */
  evaluate(expression: string, extra?: Record<string, unknown>): Promise<unknown>;
}

/** What a node's run produced. */
export type NodeResult =
  /** One output, leaving by `handle` (default `main`); `null` handle: no edge is followed. */
  | { kind: 'output'; output: unknown; handle?: string | null; state?: unknown }
  /** Park the execution until `until` (ISO) or, when null, until a resume call; the resume's body becomes the output. */
  | { kind: 'wait'; until: string | null; state?: unknown }
  /** The answer to a webhook call; the respond node's output is the body. */
  | { kind: 'respond'; output: unknown; response: WebhookResponse };

export interface WebhookResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** One entry of the node catalog: what the type is called, what it takes and how it runs. */
export interface NodeTypeDefinition<P = any> {
  type: string;
  category: NodeCategory;
  label: string;
  description: string;
  /** JSON Schema of `parameters`; strings with `{{ }}` are accepted wherever a value is. */
  parameters: TSchema;
  /** Parameters kept as written, not evaluated before the run (code, per-item expressions). */
  rawParameters?: readonly string[];
  /** The output handles; a function when they depend on the parameters (switch cases). */
  outputs: readonly string[] | ((parameters: Record<string, unknown>) => string[]);
  /** Waits for every incoming edge that can still deliver (merge). */
  joinsInputs?: boolean;
  /** May close a cycle: edges back into it are allowed (loop). */
  allowsCycles?: boolean;
  run(context: NodeRunContext<P>): Promise<NodeResult>;
}

/** Thrown by a node for a failure of the node's own work (bad response, bad input): shown to the user as is. */
export class NodeError extends Error {
  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'NodeError';
  }
}

export const output = (value: unknown, handle?: string | null, state?: unknown): NodeResult => ({
  kind: 'output',
  output: value,
  handle,
  state,
});
