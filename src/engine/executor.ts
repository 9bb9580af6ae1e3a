import {
  ALL_VARIABLES,
  ExpressionError,
  maskSecrets,
  referencedVariables,
  resolveParameters,
  evaluateExpression,
  type ExpressionScope,
} from './expressions/index.js';
import { NodeError, type ExecutionInfo, type NodeResult, type NodeRunContext, type WebhookResponse } from './node-type.js';
import type { NodeServices } from './ports.js';
import { initialState, type Activation, type RunState, type StepError, type StepRecord } from './run-state.js';
import type { RuntimeGraph } from './runtime-graph.js';
import { SandboxError } from './sandbox/index.js';
import { ERROR_HANDLE, MAIN, type WorkflowNode } from './types.js';

/** A workflow variable as the executor gets it: secret values stay sealed until an expression names them. */
export interface ExecutionVariable {
  name: string;
  secret: boolean;
  /** The value of a plain variable; absent for a secret one. */
  value?: unknown;
}

/** Everything needed to run (or go on running) one execution. */
export interface ExecutionPlan {
  execution: ExecutionInfo;
  graph: RuntimeGraph;
  variables: readonly ExecutionVariable[];
  triggerNodeId: string;
  triggerData: unknown;
  /** Null for a new execution; else the state committed with the last step. */
  state: RunState | null;
  /** Steps committed so far (for `nodes.<id>.output` and the inputs they feed). */
  steps: readonly Pick<StepRecord, 'seq' | 'node_id' | 'output'>[];
  /** The body of a resume call for an execution parked on a wait node. */
  resumeData?: unknown;
  maxNodeRuns: number;
}

export interface ExecutionOutcomeError extends StepError {
  node_id: string | null;
}

/** How a run of the executor ended. */
export type ExecutionOutcome =
  | { status: 'succeeded'; output: unknown; response: WebhookResponse | null }
  | { status: 'failed'; error: ExecutionOutcomeError; output: unknown; response: WebhookResponse | null }
  | { status: 'waiting'; until: string | null; response: WebhookResponse | null }
  /** Cancelled, or another process owns the execution now: nothing more is written. */
  | { status: 'stopped' };

/** Storage of one execution's progress; implemented by the executions module. */
export interface ExecutionStore {
  /** Commits one step with the state after it; throws ExecutionLostError when the execution is no longer this runner's. */
  commitStep(step: StepRecord, state: RunState): Promise<void>;
  /** Parks the execution on a wait node until `until` (null: a resume call). */
  park(state: RunState, until: string | null): Promise<void>;
  /** Ends the execution (`failed` keeps the failed activation at the head of the queue, for a retry). */
  finish(outcome: Exclude<ExecutionOutcome, { status: 'waiting' } | { status: 'stopped' }>, state: RunState): Promise<void>;
  /** The plaintext of a secret variable, decrypted at the moment of use. */
  revealSecret(name: string): Promise<string>;
}

/** The execution was cancelled or taken over by another runner: stop without writing. */
export class ExecutionLostError extends Error {
  constructor(message = 'The execution is no longer owned by this runner.') {
    super(message);
    this.name = 'ExecutionLostError';
  }
}

export interface ExecuteOptions {
  store: ExecutionStore;
  services: NodeServices;
  signal: AbortSignal;
  /** Called when a respond node answers, so a waiting webhook can reply before the run ends. */
  onRespond?: (response: WebhookResponse) => void;
  /** Errors that are the platform's, not the node's (logged with context by the caller). */
  onInternalError?: (error: unknown, node: WorkflowNode) => void;
  now?: () => Date;
}

/**
 * Runs an execution from where its state says, one node at a time, committing each node's
 * result before the next starts. Returns when the graph is done, a node fails, a wait node
 * parks it, or it is cancelled.
 */
export async function runExecution(plan: ExecutionPlan, options: ExecuteOptions): Promise<ExecutionOutcome> {
  return new ExecutionRun(plan, options).run();
}

/** Node runs between two turns given back to the event loop. */
const YIELD_EVERY_NODES = 32;

class ExecutionRun {
  private readonly state: RunState;
  private readonly outputsBySeq = new Map<number, unknown>();
  private readonly scope: ExpressionScope;
  private readonly secretNames: Set<string>;
  private readonly revealed = new Map<string, string>();
  private readonly now: () => Date;
  private response: WebhookResponse | null = null;
  private lastOutput: unknown = null;

  constructor(
    private readonly plan: ExecutionPlan,
    private readonly options: ExecuteOptions,
  ) {
    this.state = plan.state ? structuredClone(plan.state) : initialState(plan.triggerNodeId);
    this.now = options.now ?? (() => new Date());
    const nodes: Record<string, { output: unknown }> = {};
    for (const step of plan.steps) {
      this.outputsBySeq.set(step.seq, step.output);
      nodes[step.node_id] = { output: step.output };
      this.lastOutput = step.output;
    }
    const vars: Record<string, unknown> = {};
    this.secretNames = new Set();
    for (const variable of plan.variables) {
      if (variable.secret) this.secretNames.add(variable.name);
      else vars[variable.name] = variable.value;
    }
    this.scope = {
      trigger: plan.triggerData,
      input: null,
      nodes,
      vars,
      execution: { uuid: plan.execution.uuid, started_at: plan.execution.started_at },
    };
  }

  async run(): Promise<ExecutionOutcome> {
    const { store, signal } = this.options;
    try {
      if (this.state.waiting) {
        const resumed = await this.resumeWait();
        if (resumed) return resumed;
      }
      for (;;) {
        if (signal.aborted) return { status: 'stopped' };
        const activation = this.nextActivation();
        if (!activation) break;
        const outcome = await this.runActivation(activation);
        if (outcome) return outcome;
        // With a synchronous store (SQLite) nothing here yields to the event loop: a long run
        // gives other requests and lease renewals a turn every few nodes.
        if (this.state.nodeRuns % YIELD_EVERY_NODES === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      const outcome = { status: 'succeeded', output: this.lastOutput, response: this.response } as const;
      await store.finish(this.masked(outcome), this.state);
      return outcome;
    } catch (error) {
      if (error instanceof ExecutionLostError || signal.aborted) return { status: 'stopped' };
      throw error;
    }
  }

  /** The next activation to run: queue order, except that a join waits while a branch that feeds it is still pending. */
  private nextActivation(): Activation | undefined {
    const { queue, joins } = this.state;
    for (;;) {
      const next = queue.shift();
      if (!next) {
        // Nothing else can deliver: a join that got some of its inputs runs with those.
        const pending = Object.keys(joins)[0];
        return pending === undefined ? undefined : { node: pending, from: null, edge: null, join: true };
      }
      if (next.join || !this.plan.graph.definition(next.node)?.joinsInputs) {
        if (Object.keys(joins).length > 0) this.releaseJoins(next);
        return next;
      }
      // A delivery to a join: remember it; run the join once every incoming edge delivered.
      const delivered = (joins[next.node] ??= {});
      if (next.edge !== null && next.from !== null) delivered[next.edge] = next.from;
      const incoming = this.plan.graph.incoming(next.node);
      if (incoming.every((edge) => delivered[edge.id] !== undefined)) return { node: next.node, from: null, edge: null, join: true };
    }
  }

  /** Joins no queued activation can feed any more are queued to run (after `current`). */
  private releaseJoins(current: Activation): void {
    const { graph } = this.plan;
    for (const join of Object.keys(this.state.joins)) {
      if (this.state.queue.some((activation) => activation.join && activation.node === join)) continue;
      const pending = [current, ...this.state.queue];
      if (pending.some((activation) => activation.node === join || graph.isAncestor(activation.node, join))) continue;
      this.state.queue.push({ node: join, from: null, edge: null, join: true });
    }
  }

  private async runActivation(activation: Activation): Promise<ExecutionOutcome | undefined> {
    const { graph } = this.plan;
    const node = graph.node(activation.node);
    if (!node) return undefined; // the snapshot is validated; an activation of a missing node cannot be produced
    const definition = graph.definition(node.id);
    const startedAt = this.now().toISOString();

    this.state.nodeRuns += 1;
    if (this.state.nodeRuns > this.plan.maxNodeRuns) {
      this.state.queue.unshift(activation);
      return this.fail(activation, node, startedAt, 1, {
        kind: 'limit',
        message: `The execution ran more than ${this.plan.maxNodeRuns} nodes; it was stopped at node "${node.id}" (a runaway loop?).`,
      });
    }

    const { input, inputs } = this.inputOf(activation);
    if (node.disabled) {
      const outputs = typeof definition.outputs === 'function' ? definition.outputs(node.parameters) : definition.outputs;
      return this.commit(node, input, { kind: 'output', output: input, handle: outputs[0] ?? MAIN }, 1, startedAt);
    }

    const maxAttempts = Math.max(1, node.retry?.max_attempts ?? 1);
    let attempt = 0;
    for (;;) {
      attempt += 1;
      try {
        const result = await this.runNode(node, input, inputs, attempt);
        if (result.kind === 'wait') {
          this.state.waiting = { ...activation, started_at: startedAt };
          if (result.state !== undefined) this.setNodeState(node.id, result.state);
          await this.options.store.park(this.state, result.until);
          return { status: 'waiting', until: result.until, response: this.response };
        }
        if (result.kind !== 'respond') return this.commit(node, input, result, attempt, startedAt);
        // The answer leaves once the respond step is committed: a caller never hears of a step that could be lost.
        this.response = result.response;
        await this.commit(node, input, result, attempt, startedAt);
        this.options.onRespond?.(result.response);
        return undefined;
      } catch (error) {
        if (error instanceof ExecutionLostError || this.options.signal.aborted) throw error;
        const stepError = this.stepErrorOf(error, node);
        if (attempt < maxAttempts && stepError.kind !== 'limit') {
          await this.backoff(node, attempt);
          continue;
        }
        const policy = node.on_error ?? 'stop';
        if (policy === 'stop') {
          this.state.queue.unshift(activation);
          return this.fail(activation, node, startedAt, attempt, stepError, input);
        }
        const handled = { error: { message: stepError.message, kind: stepError.kind } };
        return this.commit(node, input, { kind: 'output', output: handled, handle: policy === 'error_output' ? ERROR_HANDLE : MAIN }, attempt, startedAt, stepError);
      }
    }
  }

  private async runNode(
    node: WorkflowNode,
    input: unknown,
    inputs: NodeRunContext['inputs'],
    attempt: number,
  ): Promise<NodeResult> {
    const definition = this.plan.graph.definition(node.id);
    await this.revealSecretsFor(node);
    this.scope.input = input;
    const params = await resolveParameters(node.parameters, this.scope, { nodeId: node.id, raw: definition.rawParameters });
    const context: NodeRunContext = {
      node,
      params,
      input,
      inputs,
      execution: this.plan.execution,
      attempt,
      signal: this.options.signal,
      services: this.options.services,
      state: this.state.nodeState[node.id],
      scope: this.scope,
      evaluate: (expression, extra) =>
        evaluateExpression(expression, extra ? { ...this.scope, input, ...extra } : { ...this.scope, input }, { nodeId: node.id, parameter: 'expression' }),
    };
    return definition.run(context);
  }

  private inputOf(activation: Activation): { input: unknown; inputs: NodeRunContext['inputs'] } {
    if (!activation.join) {
      return { input: activation.from === null ? this.plan.triggerData : this.outputsBySeq.get(activation.from), inputs: [] };
    }
    // Deliveries are consumed when the join's step commits, so a failed join retries with them.
    const delivered = this.state.joins[activation.node] ?? {};
    const inputs: NodeRunContext['inputs'] = [];
    for (const edge of this.plan.graph.incoming(activation.node)) {
      const seq = delivered[edge.id];
      if (seq === undefined) continue;
      inputs.push({ edge: edge.id, source: edge.source, handle: edge.source_handle || MAIN, data: this.outputsBySeq.get(seq) });
    }
    return { input: inputs[0]?.data ?? null, inputs };
  }

  private async commit(
    node: WorkflowNode,
    input: unknown,
    result: Exclude<NodeResult, { kind: 'wait' }>,
    attempts: number,
    startedAt: string,
    error: StepError | null = null,
  ): Promise<undefined> {
    const seq = this.state.lastSeq + 1;
    const handle = result.kind === 'respond' ? MAIN : result.handle === undefined ? MAIN : result.handle;
    this.state.lastSeq = seq;
    this.state.waiting = null;
    delete this.state.joins[node.id];
    if (result.kind === 'output' && result.state !== undefined) this.setNodeState(node.id, result.state);
    if (handle !== null) {
      for (const edge of this.plan.graph.outgoing(node.id, handle)) {
        this.state.queue.push({ node: edge.target, from: seq, edge: edge.id });
      }
    }
    const step: StepRecord = {
      seq,
      node_id: node.id,
      node_type: node.type,
      status: error ? 'failed' : 'succeeded',
      input,
      output: result.output,
      handle,
      error,
      attempts,
      started_at: startedAt,
      finished_at: this.now().toISOString(),
    };
    await this.options.store.commitStep(this.masked(step), this.state);
    this.outputsBySeq.set(seq, result.output);
    this.scope.nodes[node.id] = { output: result.output };
    this.lastOutput = result.output;
    return undefined;
  }

  private async fail(
    activation: Activation,
    node: WorkflowNode,
    startedAt: string,
    attempts: number,
    error: StepError,
    input: unknown = activation.from === null ? this.plan.triggerData : this.outputsBySeq.get(activation.from),
  ): Promise<ExecutionOutcome> {
    // The failed run is recorded as a step for the execution's data, but the state still has
    // the activation queued: a retry of the execution starts again from this node.
    const seq = this.state.lastSeq + 1;
    const step: StepRecord = {
      seq,
      node_id: node.id,
      node_type: node.type,
      status: 'failed',
      input,
      output: null,
      handle: null,
      error,
      attempts,
      started_at: startedAt,
      finished_at: this.now().toISOString(),
    };
    this.state.lastSeq = seq;
    await this.options.store.commitStep(this.masked(step), this.state);
    const outcome = {
      status: 'failed',
      error: { ...error, node_id: node.id },
      output: this.lastOutput,
      response: this.response,
    } as const;
    await this.options.store.finish(this.masked(outcome), this.state);
    return outcome;
  }

  /** A parked wait node finishes: with the resume call's body, or its input when the time came. */
  private async resumeWait(): Promise<ExecutionOutcome | undefined> {
    const waiting = this.state.waiting!;
    const node = this.plan.graph.node(waiting.node);
    if (!node) return undefined;
    const { input } = this.inputOf(waiting);
    const output = this.plan.resumeData !== undefined ? this.plan.resumeData : input;
    await this.commit(node, input, { kind: 'output', output, handle: MAIN }, 1, waiting.started_at);
    return undefined;
  }

  private setNodeState(nodeId: string, value: unknown): void {
    if (value === null) delete this.state.nodeState[nodeId];
    else this.state.nodeState[nodeId] = value;
  }

  private async revealSecretsFor(node: WorkflowNode): Promise<void> {
    if (this.secretNames.size === 0) return;
    for (const name of this.secretsNamedBy(node)) {
      if (this.revealed.has(name)) continue;
      const plaintext = await this.options.store.revealSecret(name);
      this.revealed.set(name, plaintext);
      (this.scope.vars as Record<string, unknown>)[name] = plaintext;
    }
  }

  /** Secret variables a node's expressions (or raw code) may read: only those are decrypted. */
  private secretsNamedBy(node: WorkflowNode): string[] {
    const named = referencedVariables(node.parameters);
    if (named.has(ALL_VARIABLES)) return [...this.secretNames];
    const result = [...this.secretNames].filter((name) => named.has(name));
    // Raw parameters (code) are not expressions: a secret counts when its name appears with `vars`.
    for (const key of this.plan.graph.definition(node.id).rawParameters ?? []) {
      const text = node.parameters[key];
      if (typeof text !== 'string' || !text.includes('vars')) continue;
      for (const name of this.secretNames) if (text.includes(name) && !result.includes(name)) result.push(name);
    }
    return result;
  }

  /** Secret values never reach stored execution data. */
  private masked<T>(value: T): T {
    if (this.revealed.size === 0) return value;
    return maskSecrets(value, [...this.revealed.values()]) as T;
  }

  private stepErrorOf(error: unknown, node: WorkflowNode): StepError {
    if (error instanceof ExpressionError) return { kind: 'expression', message: error.message };
    if (error instanceof SandboxError) return { kind: 'sandbox', message: error.message };
    if (error instanceof NodeError) return { kind: 'node', message: error.message, ...(error.details ? { details: error.details } : {}) };
    this.options.onInternalError?.(error, node);
    return { kind: 'internal', message: `Node "${node.id}" failed because of an internal error.` };
  }

  private backoff(node: WorkflowNode, attempt: number): Promise<void> {
    const retry = node.retry!;
    const delay = retry.backoff === 'exponential' ? retry.delay_ms * 2 ** (attempt - 1) : retry.delay_ms;
    if (delay <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.min(delay, 3_600_000));
      const signal = this.options.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
