import type { AppContext } from '../../context.js';
import { toJson } from '../../db/values.js';
import { writeBatcherOf } from '../../db/write-batcher.js';
import { ExecutionLostError, type ExecutionOutcome, type ExecutionStore } from '../../engine/executor.js';
import type { RunState, StepRecord } from '../../engine/run-state.js';
import { executionContribution } from '../metrics/contributions.js';
import { secretsOf } from '../secrets/secrets.service.js';
import * as repo from './executions.repository.js';
import { encodeStepValue } from './payload-files.js';
import type { ExecutionSnapshot } from './snapshot.js';

/**
 * The engine's ExecutionStore on the database: each step with the state after it in one
 * statement, guarded by the runner's lease, so an execution cancelled or taken over by another
 * runner cannot be written by this one any more.
 */
export class DbExecutionStore implements ExecutionStore {
  constructor(
    private readonly ctx: AppContext,
    private readonly executionId: string,
    private readonly workspaceId: string,
    private readonly owner: string,
    private readonly snapshot: ExecutionSnapshot,
    /** Told the node runs so far after each committed step (the runner's progress observers). */
    private readonly onStepCommitted?: (nodeRuns: number) => void,
  ) {}

  private encode(value: unknown, name: string): string | null {
    const { dataDir, workflows } = this.ctx.config;
    return encodeStepValue(value, { dataDir, executionId: this.executionId, name, maxBytes: workflows.maxNodeDataBytes });
  }

  async commitStep(step: StepRecord, state: RunState): Promise<void> {
    const row = {
      execution_id: this.executionId,
      seq: step.seq,
      node_id: step.node_id,
      node_type: step.node_type,
      status: step.status,
      input: this.encode(step.input, `${step.seq}-input`),
      output: this.encode(step.output, `${step.seq}-output`),
      handle: step.handle,
      error: step.error ? toJson(step.error) : null,
      state: toJson(state),
      attempts: step.attempts,
      started_at: step.started_at,
      finished_at: step.finished_at,
    };
    // One statement: the step and the state after it, written only while this runner holds the execution.
    // Committed with the other executions' writes of this moment (group commit), before the next node starts.
    const { dialect } = this.ctx.db;
    const written = await writeBatcherOf(this.ctx.db).submit((db) => repo.insertStepIfOwned(db, dialect, row, this.owner));
    if (!written) throw new ExecutionLostError();
    this.ctx.metrics.nodeRan(step.node_type, step.status, step.started_at, step.finished_at);
    this.onStepCommitted?.(state.nodeRuns);
  }

  async park(state: RunState, until: string | null): Promise<void> {
    const parked = await repo.parkExecution(this.ctx.db.kysely, {
      id: this.executionId,
      owner: this.owner,
      state: toJson(state),
      node_runs: state.nodeRuns,
      wake_at: until,
      response: null,
      at: new Date().toISOString(),
    });
    if (!parked) throw new ExecutionLostError();
  }

  async finish(outcome: Exclude<ExecutionOutcome, { status: 'waiting' } | { status: 'stopped' }>, state: RunState): Promise<void> {
    const values = {
      id: this.executionId,
      owner: this.owner,
      status: outcome.status,
      state: toJson(state),
      output: this.encode(outcome.output, 'output'),
      error: outcome.status === 'failed' ? toJson(outcome.error) : null,
      response: outcome.response ? toJson(outcome.response) : null,
      node_runs: state.nodeRuns,
      at: new Date().toISOString(),
    };
    // The end is counted in the metrics rollups by the same group commit (one upsert per batch).
    const finished = await writeBatcherOf(this.ctx.db).submit(
      async (db, rollups) => {
        const row = await repo.finishExecution(db, values);
        if (row) rollups.count(executionContribution(row));
        return row !== undefined;
      },
      { counts: true },
    );
    if (!finished) throw new ExecutionLostError();
  }

  async revealSecret(name: string): Promise<string> {
    const variable = this.snapshot.variables.find((entry) => entry.name === name && entry.secret);
    if (!variable?.sealed) return '';
    const plaintext = await secretsOf(this.ctx).decrypt(this.ctx.db.kysely, this.workspaceId, variable.sealed);
    const value = JSON.parse(plaintext) as unknown;
    return typeof value === 'string' ? value : JSON.stringify(value);
  }
}
