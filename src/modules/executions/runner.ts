import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { AppContext } from '../../context.js';
import { fromJson, now } from '../../db/values.js';
import { runExecution, type ExecutionOutcome, type ExecutionVariable } from '../../engine/executor.js';
import type { WebhookResponse } from '../../engine/node-type.js';
import type { RunState } from '../../engine/run-state.js';
import { countExecutionEnd } from '../metrics/rollups.js';
import { createNodeServices } from '../workflows/node-services/index.js';
import { DbExecutionStore } from './execution-store.js';
import * as repo from './executions.repository.js';
import type { ExecutionRow } from './executions.table.js';
import { decodeStepValue } from './payload-files.js';
import { loadSnapshot, runtimeGraphOf } from './snapshot.js';

/** What a waiting caller hears about an execution. */
export type ExecutionEvent =
  | { type: 'responded'; response: WebhookResponse }
  /** Finished, failed, cancelled or parked on a wait. */
  | { type: 'settled'; status: ExecutionRow['status'] };

/**
 * How executions reach a runner. Embedded mode: this process's runner, through the database
 * queue. Scale mode: a BullMQ queue that worker processes read (see src/jobs).
 */
export interface ExecutionDispatcher {
  dispatch(executionId: string): Promise<void>;
  /** Tells every process that an execution settled or answered (scale mode: Redis pub/sub). */
  publish(executionId: string, event: ExecutionEvent): void;
  /** Asks whichever process runs it to stop now (it would also notice at its next step). */
  cancel(executionId: string): void;
  close(): Promise<void>;
}

type Listener = (event: ExecutionEvent) => void;

/**
 * Runs workflow executions in this process with bounded concurrency. The queue is the
 * database: a runner claims an execution with a lease it renews while it works; a runner that
 * dies lets its lease run out and another (or itself, restarted) claims the execution and goes
 * on from the last committed step. Also fires schedules and wakes waits that are due.
 */
export class ExecutionRunner {
  readonly owner = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly active = new Map<string, AbortController>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private reserved = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private claiming = false;
  private claimAgain = false;
  private kickScheduled = false;
  /** Whether queued work may be waiting in the database for this runner's free slots. */
  private maybeQueued = true;
  private stopped = false;
  private dispatcher: ExecutionDispatcher | undefined;
  private readonly maintenance: Array<() => Promise<void>> = [];
  private lastDeadOwnerCheck = 0;
  private readonly settledHooks: Array<(row: ExecutionRow, outcome: ExecutionOutcome) => Promise<void>> = [];
  private readonly progressHooks: Array<(row: ExecutionRow, nodeRuns: number, nodeCount: number) => void> = [];

  constructor(
    private readonly ctx: AppContext,
    private readonly options: { concurrency: number; runsWork: boolean },
  ) {}

  /** Scale mode: dispatch through a queue instead of this process's poller. */
  useDispatcher(dispatcher: ExecutionDispatcher): void {
    this.dispatcher = dispatcher;
  }

  /** Work done on every poll besides claiming (schedules, retention). */
  addMaintenance(task: () => Promise<void>): void {
    this.maintenance.push(task);
  }

  /** Called after every run this runner ends (error workflows, parents). */
  onSettled(hook: (row: ExecutionRow, outcome: ExecutionOutcome) => Promise<void>): void {
    this.settledHooks.push(hook);
  }

  /** Called when a run here starts and after each step it commits (the command room); must return at once. */
  onProgress(hook: (row: ExecutionRow, nodeRuns: number, nodeCount: number) => void): void {
    this.progressHooks.push(hook);
  }

  get runsWork(): boolean {
    return this.options.runsWork;
  }

  /** Executions running in this process now (metrics). */
  get activeCount(): number {
    return this.active.size;
  }

  start(): void {
    if (this.timer || !this.options.runsWork) return;
    this.timer = setInterval(() => void this.poll(), this.ctx.config.workflows.pollMs);
    this.timer.unref();
    setImmediate(() => void this.poll());
  }

  /** Stops claiming, aborts what runs here and hands it back to the queue for the next runner. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const ids = [...this.active.keys()];
    for (const controller of this.active.values()) controller.abort();
    const deadline = Date.now() + timeoutMs;
    while (this.active.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    const at = now();
    for (const id of ids) await repo.releaseExecution(this.ctx.db.kysely, id, this.owner, at).catch(() => undefined);
    await this.dispatcher?.close();
  }

  /** A slot for an execution this process will run inline; false when it is full. */
  tryReserve(): boolean {
    if (this.stopped || !this.options.runsWork || this.active.size + this.reserved >= this.options.concurrency) return false;
    this.reserved += 1;
    return true;
  }

  /** A slot beyond the bound: for children a running execution waits on (else parents could starve the pool). */
  forceReserve(): void {
    this.reserved += 1;
  }

  release(): void {
    this.reserved = Math.max(0, this.reserved - 1);
  }

  /** Hands a queued execution to a runner: the queue in scale mode, else this process's next free slot. */
  async dispatch(executionId: string): Promise<void> {
    if (this.dispatcher) return this.dispatcher.dispatch(executionId);
    this.maybeQueued = true;
    this.kick();
  }

  /** Claims queued work soon (coalesced): when something was queued here or a slot freed up. */
  private kick(): void {
    if (this.kickScheduled || this.stopped || !this.options.runsWork) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      void this.claimDue();
    });
  }

  /** Subscribes to one execution's events; returns the unsubscribe. */
  listen(executionId: string, listener: Listener): () => void {
    let set = this.listeners.get(executionId);
    if (!set) this.listeners.set(executionId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(executionId);
    };
  }

  /** Delivers an event to this process's listeners (scale mode calls it for events from other processes). */
  emit(executionId: string, event: ExecutionEvent): void {
    const set = this.listeners.get(executionId);
    if (set) for (const listener of [...set]) listener(event);
  }

  private announce(executionId: string, event: ExecutionEvent): void {
    this.emit(executionId, event);
    this.dispatcher?.publish(executionId, event);
  }

  /** Stops the execution if it runs in this process (cancel). */
  abortLocal(executionId: string): void {
    this.active.get(executionId)?.abort();
  }

  cancelEverywhere(executionId: string): void {
    this.abortLocal(executionId);
    this.dispatcher?.cancel(executionId);
  }

  /** Claims this execution by id (scale-mode workers, resumes) and runs it; false when another runner has it. */
  async claimAndRun(executionId: string): Promise<boolean> {
    if (this.active.has(executionId)) return true;
    const at = new Date();
    const row = await repo.claimExecution(this.ctx.db.kysely, {
      id: executionId,
      owner: this.owner,
      now: at.toISOString(),
      leaseExpiresAt: new Date(at.getTime() + this.ctx.config.workflows.leaseMs).toISOString(),
    });
    if (!row) return false;
    await this.run(row);
    return true;
  }

  /** The periodic pass: schedules and retention, runners that died, then what is due. */
  async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      for (const task of this.maintenance) await task().catch((error: unknown) => this.ctx.log.error({ err: error }, 'workflow maintenance failed'));
      if (Date.now() - this.lastDeadOwnerCheck >= DEAD_OWNER_CHECK_MS) {
        this.lastDeadOwnerCheck = Date.now();
        await this.expireDeadLocalOwners();
      }
    } catch (error) {
      if (!this.stopped) this.ctx.log.error({ err: error }, 'workflow maintenance failed');
    } finally {
      this.polling = false;
    }
    this.maybeQueued = true;
    await this.claimDue();
  }

  /** Claims what is due (queued, orphaned, woken) up to the free slots, and runs it. */
  private async claimDue(): Promise<void> {
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    if (this.stopped || !this.maybeQueued) return;
    this.claiming = true;
    try {
      const free = this.options.concurrency - this.active.size - this.reserved;
      if (free <= 0) return;
      const at = new Date();
      const rows = await repo.claimExecutions(this.ctx.db.kysely, this.ctx.db.dialect, {
        owner: this.owner,
        now: at.toISOString(),
        leaseExpiresAt: new Date(at.getTime() + this.ctx.config.workflows.leaseMs).toISOString(),
        limit: free,
      });
      // Fewer than asked for: nothing else is due until something is queued or the next poll.
      if (rows.length < free) this.maybeQueued = false;
      for (const row of rows) void this.run(row);
    } catch (error) {
      if (!this.stopped) this.ctx.log.error({ err: error }, 'claiming workflow executions failed');
    } finally {
      this.claiming = false;
      if (this.claimAgain) {
        this.claimAgain = false;
        this.kick();
      }
    }
  }

  /**
   * A runner of this host whose process is gone (killed, crashed) cannot renew its leases:
   * its executions are taken over now rather than when the leases run out. Owners on other
   * hosts are left to their leases.
   */
  private async expireDeadLocalOwners(): Promise<void> {
    const host = os.hostname();
    for (const owner of await repo.leaseOwners(this.ctx.db.kysely, this.owner)) {
      const [ownerHost, pid] = owner.split(':');
      if (ownerHost !== host || !pid || processAlive(Number(pid))) continue;
      const expired = await repo.expireLeasesOf(this.ctx.db.kysely, owner, new Date(0).toISOString());
      if (expired > 0) this.ctx.log.warn({ owner, executions: expired }, 'taking over executions of a runner that is gone');
    }
  }

  /**
   * Runs an execution this runner has claimed (status running, lease ours) to its end, a wait
   * or a cancel, renewing the lease meanwhile. Never throws: a platform failure fails the
   * execution with a generic message and is logged.
   */
  async run(row: ExecutionRow, hooks: { onRespond?: (response: WebhookResponse) => void } = {}): Promise<ExecutionOutcome> {
    const controller = new AbortController();
    this.active.set(row.id, controller);
    const { leaseMs } = this.ctx.config.workflows;
    const renew = setInterval(() => {
      const expires = new Date(Date.now() + leaseMs).toISOString();
      repo
        .renewLease(this.ctx.db.kysely, row.id, this.owner, expires)
        .then((held) => {
          if (!held) controller.abort();
        })
        .catch(() => undefined);
    }, Math.max(250, Math.floor(leaseMs / 3)));
    renew.unref();
    try {
      const outcome = await this.execute(row, controller.signal, hooks);
      if (outcome.status === 'succeeded' || outcome.status === 'failed') this.ctx.metrics.executionFinished(outcome.status, row.trigger);
      // Stopped: cancelled (whoever cancelled it announced that) or taken over by another runner, which goes on.
      if (outcome.status !== 'stopped') this.announce(row.id, { type: 'settled', status: outcome.status });
      for (const hook of this.settledHooks) {
        await hook(row, outcome).catch((error: unknown) => this.ctx.log.error({ err: error, execution: row.id }, 'after-execution hook failed'));
      }
      return outcome;
    } catch (error) {
      this.ctx.log.error({ err: error, execution: row.id }, 'workflow execution failed in the platform');
      const failed = await this.ctx.db.kysely
        .transaction()
        .execute(async (trx) => {
          const ended = await repo.finishExecution(trx, {
            id: row.id,
            owner: this.owner,
            status: 'failed',
            state: row.state === null ? 'null' : JSON.stringify(fromJson(row.state)),
            output: null,
            error: JSON.stringify({ kind: 'internal', message: 'The execution failed because of an internal error.', node_id: null }),
            response: null,
            node_runs: row.node_runs,
            at: now(),
          });
          // Counted in the metrics rollups with the end it counts.
          if (ended) await countExecutionEnd(trx, ended);
          return ended !== undefined;
        })
        .catch(() => false);
      if (failed) this.ctx.metrics.executionFinished('failed', row.trigger);
      this.announce(row.id, { type: 'settled', status: 'failed' });
      return { status: 'failed', error: { kind: 'internal', message: 'internal error', node_id: null }, output: null, response: null };
    } finally {
      clearInterval(renew);
      this.active.delete(row.id);
      // A slot is free: work queued while all were busy starts now, not at the next poll.
      if (this.maybeQueued) this.kick();
    }
  }

  private async execute(
    row: ExecutionRow,
    signal: AbortSignal,
    hooks: { onRespond?: (response: WebhookResponse) => void },
  ): Promise<ExecutionOutcome> {
    const snapshot = await loadSnapshot(this.ctx, row.workflow_id, row.workflow_version);
    const graph = runtimeGraphOf(row.workflow_id, snapshot);
    const dataOptions = { dataDir: this.ctx.config.dataDir, executionId: row.id };
    const stored = row.state === null ? null : fromJson<RunState | null>(row.state);
    // A new execution has neither a state nor steps; one that ran before goes on from the latest
    // state: its last step's, unless the row's is as recent (parked, or prepared for a retry).
    const rows = stored === null && row.started_at === row.updated_at && row.node_runs === 0 ? [] : await repo.listStepOutputs(this.ctx.db.kysely, row.id);
    const last = rows.at(-1);
    const stepState = last?.state === null || last?.state === undefined ? null : fromJson<RunState>(last.state);
    const state = stored !== null && (stepState === null || stored.lastSeq >= stepState.lastSeq) ? stored : stepState;
    const steps = rows
      .filter((step) => step.status === 'succeeded' || step.output !== null)
      .map((step) => ({ seq: step.seq, node_id: step.node_id, output: decodeStepValue(step.output, dataOptions) }));
    const variables: ExecutionVariable[] = snapshot.variables.map((variable) =>
      variable.secret ? { name: variable.name, secret: true } : { name: variable.name, secret: false, value: variable.value },
    );
    const execution = {
      uuid: row.id,
      workflow_uuid: row.workflow_id,
      workspace_uuid: row.workspace_id,
      started_at: row.started_at ?? row.created_at,
      trigger: row.trigger,
      user_id: row.user_id,
    };
    const nodeCount = snapshot.nodes.length;
    const progress = (nodeRuns: number) => {
      for (const hook of this.progressHooks) {
        try {
          hook(row, nodeRuns, nodeCount);
        } catch (error) {
          // An observer's failure is not the execution's.
          this.ctx.log.error({ err: error, execution: row.id }, 'an execution progress hook failed');
        }
      }
    };
    progress(state?.nodeRuns ?? 0);
    // Observers hear of each committed step.
    const store = new DbExecutionStore(this.ctx, row.id, row.workspace_id, this.owner, snapshot, this.progressHooks.length === 0 ? undefined : progress);
    return runExecution(
      {
        execution,
        graph,
        variables,
        triggerNodeId: row.trigger_node_id,
        triggerData: row.trigger_data === null ? null : fromJson(row.trigger_data),
        state,
        steps,
        resumeData: row.resume_data === null || row.resume_data === undefined ? undefined : fromJson(row.resume_data),
        maxNodeRuns: snapshot.settings.max_node_runs,
      },
      {
        store,
        services: createNodeServices(this.ctx, row),
        signal,
        onRespond: (response) => {
          hooks.onRespond?.(response);
          this.announce(row.id, { type: 'responded', response });
        },
        onInternalError: (error, node) => this.ctx.log.error({ err: error, execution: row.id, node: node.id }, 'workflow node failed in the platform'),
      },
    );
  }
}

/** How often a runner looks for dead runners of its own host. */
const DEAD_OWNER_CHECK_MS = 5_000;

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
