import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { fromJson, isUniqueViolation, now, toJson } from '../../db/values.js';
import { AppError } from '../../errors.js';
import type { LiveRun, RunEvent, RunEventType } from '../../ai/live-runs.js';
import type { TurnResult } from '../../ai/tool-loop.js';
import type { EventSource } from '../../http/sse.js';
import { runFinished, runStarted } from '../command-room/command-room.follow.js';
import { countRunChange, countRunEnd } from '../metrics/rollups.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import type { ModelTarget } from './model-target.js';
import * as repo from './runs.repository.js';
import { toRunResources, type RunResource } from './run-resource.js';
import type { RunKind, RunRow, RunStatus } from './runs.table.js';

/** What happens when a thread already has a run in flight (LangGraph's multitask strategies). */
export const MULTITASK_STRATEGIES = ['reject', 'interrupt', 'enqueue'] as const;
export type MultitaskStrategy = (typeof MULTITASK_STRATEGIES)[number];

/** A live run renews its lease this often; another process treats it as dead once it lapses. */
const LEASE_MS = 30_000;
const RENEW_MS = 5_000;
/** How long a finished run's events stay in memory for late resumes. */
const RETAIN_MS = 60_000;
/** How long `interrupt` waits for the cancelled run to store its state. */
const INTERRUPT_WAIT_MS = 15_000;
/** How long `enqueue` waits for the thread to become free. */
const ENQUEUE_WAIT_MS = 10 * 60_000;

/** One request to run something, as the API received it. */
export interface RunInvocation {
  scope: WorkspaceScope;
  idempotencyKey: string | undefined;
  /** What identifies the request for idempotency (route and body). */
  fingerprint: unknown;
  stream: boolean;
  lastEventId: number;
  multitask: MultitaskStrategy;
  /** Aborted when the HTTP client goes away before the answer (JSON replies). */
  clientGone?: AbortSignal;
  /** Where clients reach the API (links in the run's messages). */
  baseUrl: string;
}

/** The model work a run kind does, once everything it needs is checked. */
export interface ActiveRun {
  id: string;
  /** The thread the run appends to (created with the claim when the run started a new one). */
  threadId: string | null;
  baseUrl: string;
  live: LiveRun;
  signal: AbortSignal;
  emit(event: RunEventType, data: unknown): void;
}

export interface RunOutcome {
  turn: TurnResult;
  output: string | null;
  outputJson?: unknown;
}

/** A checked run, ready to claim: nothing has been written yet. */
export interface PreparedRun {
  runId: string;
  kind: RunKind;
  agentId: string | null;
  threadId: string | null;
  promptId: string | null;
  promptVersion: number | null;
  target: ModelTarget;
  /** Written in the claim's transaction before the run row: a new thread, whose id it returns. */
  beforeClaim?(trx: Executor): Promise<string | undefined>;
  /** Written in the claim's transaction after the run row (the user's message). */
  afterClaim?(trx: Executor, run: RunRow): Promise<void>;
  /**
   * Starts the model work while the claim commits, when it does not depend on it (a run in a
   * new thread). Not used with an Idempotency-Key: a retry must never cost a second model call.
   */
  startEarly?(): void;
  /** The claim failed (or was a replay): stop what `startEarly` began. */
  abandon?(): void;
  execute(run: ActiveRun): Promise<RunOutcome>;
}

export type RunReply = { kind: 'stream'; source: EventSource; afterId: number } | { kind: 'json'; status: number; body: unknown };

interface StoredResponse {
  status: number;
  body: unknown;
}

function hashOf(fingerprint: unknown): string {
  return createHash('sha256').update(JSON.stringify(fingerprint ?? null)).digest('hex');
}

function lease(): string {
  return new Date(Date.now() + LEASE_MS).toISOString();
}

/**
 * The one run contract of agent, thread and prompt runs: Idempotency-Key replays, one run per
 * thread (409, interrupt or enqueue), a lease that lets other processes see a dead run, cancel,
 * streaming with resumes, and the final state stored before anyone is told the run is done.
 */
export async function startRun(ctx: AppContext, invocation: RunInvocation, prepare: () => Promise<PreparedRun>): Promise<RunReply> {
  const hash = hashOf(invocation.fingerprint);
  const { scope, idempotencyKey } = invocation;
  if (idempotencyKey) {
    const existing = await repo.findRunByIdempotencyKey(ctx.db.kysely, scope.workspaceId, scope.userId, idempotencyKey);
    if (existing) return replay(ctx, invocation, existing, hash);
  }
  const prepared = await prepare();
  if (!idempotencyKey) prepared.startEarly?.();
  let claimed: Claim;
  try {
    claimed = await claim(ctx, invocation, prepared, hash);
  } catch (error) {
    prepared.abandon?.();
    throw error;
  }
  if (claimed.kind === 'replay') {
    prepared.abandon?.();
    return replay(ctx, invocation, claimed.row, hash);
  }
  const live = launch(ctx, prepared, claimed.row, invocation.baseUrl);
  return replyOf(ctx, invocation, live, claimed.row.id);
}

type Claim = { kind: 'claimed'; row: RunRow } | { kind: 'replay'; row: RunRow };

async function claim(ctx: AppContext, invocation: RunInvocation, prepared: PreparedRun, hash: string): Promise<Claim> {
  const db = ctx.db.kysely;
  const { scope } = invocation;
  const deadline = Date.now() + (invocation.multitask === 'enqueue' ? ENQUEUE_WAIT_MS : INTERRUPT_WAIT_MS);
  for (;;) {
    try {
      const row = await db.transaction().execute(async (trx) => {
        const threadId = (await prepared.beforeClaim?.(trx)) ?? prepared.threadId;
        const at = now();
        const inserted = await repo.insertRun(trx, {
          id: prepared.runId,
          workspace_id: scope.workspaceId,
          user_id: scope.userId,
          kind: prepared.kind,
          agent_id: prepared.agentId,
          thread_id: threadId,
          prompt_id: prepared.promptId,
          prompt_version: prepared.promptVersion,
          llm_id: prepared.target.llm.id,
          account_id: prepared.target.account.id,
          provider_slug: prepared.target.provider.slug,
          model_id: prepared.target.llm.model_id,
          status: 'running',
          finish_reason: null,
          error: null,
          idempotency_key: invocation.idempotencyKey ?? null,
          request_hash: hash,
          output: null,
          output_json: null,
          response: null,
          latency_ms: null,
          ttft_ms: null,
          lease_expires_at: lease(),
          cancel_requested: false,
          started_at: at,
          finished_at: null,
          created_at: at,
          updated_at: at,
        });
        await prepared.afterClaim?.(trx, inserted);
        return inserted;
      });
      return { kind: 'claimed', row };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      if (invocation.idempotencyKey) {
        // A concurrent request with the same key won the race: this one is its retry.
        const existing = await repo.findRunByIdempotencyKey(db, scope.workspaceId, scope.userId, invocation.idempotencyKey);
        if (existing) return { kind: 'replay', row: existing };
      }
      if (!prepared.threadId) throw error;
      const active = await repo.findActiveRunOfThread(db, scope.workspaceId, prepared.threadId);
      if (!active) continue;
      if (await reapExpiredRun(ctx, active.id)) continue;
      if (invocation.multitask === 'reject') {
        throw new AppError(
          'CONFLICT',
          `The thread has a run in progress (${active.id}). Send "multitask_strategy": "interrupt" to cancel it, or "enqueue" to run after it.`,
        );
      }
      if (invocation.multitask === 'interrupt') await cancelRunRow(ctx, active, 'interrupted');
      if (!(await waitForRunToEnd(ctx, active, deadline))) {
        throw new AppError('CONFLICT', `The thread still has a run in progress (${active.id}); try again later.`);
      }
    }
  }
}

/** Marks a dead process's run failed, counting its end in the metrics rollups in the same transaction. */
function reapExpiredRun(ctx: AppContext, runId: string): Promise<boolean> {
  return ctx.db.kysely.transaction().execute(async (trx) => {
    const reaped = await repo.reapExpiredRun(trx, runId, now());
    if (reaped) await countRunEnd(trx, reaped);
    return reaped !== undefined;
  });
}

/** Waits until a run is no longer running (or its lease lapses); false when the deadline passes. */
async function waitForRunToEnd(ctx: AppContext, run: RunRow, deadline: number): Promise<boolean> {
  const live = ctx.liveRuns.get(run.id);
  if (live) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return false;
    const timer = sleep(remaining).then(() => false);
    return Promise.race([live.done.then(() => true), timer]);
  }
  // Running in another process: its stored status tells when it ends.
  while (Date.now() < deadline) {
    const current = await repo.findRun(ctx.db.kysely, run.workspace_id, run.id);
    if (!current || current.status !== 'running') return true;
    if (await reapExpiredRun(ctx, run.id)) return true;
    await sleep(200);
  }
  return false;
}

/** Stops a run: at once when it runs in this process, else through its lease renewal. */
async function cancelRunRow(ctx: AppContext, run: RunRow, reason: 'cancelled' | 'interrupted'): Promise<void> {
  const live = ctx.liveRuns.get(run.id);
  if (live) live.abort(reason);
  else await repo.requestCancel(ctx.db.kysely, run.workspace_id, run.id);
}

function launch(ctx: AppContext, prepared: PreparedRun, row: RunRow, baseUrl: string): LiveRun {
  const live = ctx.liveRuns.create(row.id, { abandonAfterMs: ctx.config.streamResumeWindowMs, retainMs: RETAIN_MS });
  const renew = setInterval(() => {
    repo
      .renewLease(ctx.db.kysely, row.id, lease())
      .then((state) => {
        if (state?.cancelRequested) live.abort('cancelled');
      })
      .catch((error: unknown) => ctx.log.warn({ err: error, run: row.id }, 'could not renew a run lease'));
  }, RENEW_MS);
  renew.unref();
  runStarted(ctx, row);
  live.emit('run.started', {
    run_uuid: row.id,
    kind: row.kind,
    thread_uuid: row.thread_id,
    agent_uuid: row.agent_id,
    prompt_uuid: row.prompt_id,
  });
  const active: ActiveRun = { id: row.id, threadId: row.thread_id, baseUrl, live, signal: live.signal, emit: (event, data) => live.emit(event, data) };
  void (async () => {
    let outcome: RunOutcome | undefined;
    let unexpected: unknown;
    try {
      outcome = await prepared.execute(active);
    } catch (error) {
      unexpected = error;
    } finally {
      clearInterval(renew);
    }
    try {
      const finished = await finalize(ctx, row, outcome, unexpected, baseUrl);
      runFinished(ctx, finished.row);
      ctx.metrics.runFinished(prepared.target, finished.row);
      if (finished.stored.status >= 400) live.emit('error', finished.stored.body);
      live.emit('done', finished.resource);
    } catch (error) {
      ctx.log.error({ err: error, run: row.id }, 'could not store the end of a run');
      live.emit('error', { message: 'Server Error' });
      live.emit('done', null);
    } finally {
      live.finish();
    }
  })();
  return live;
}

const STATUS_OF: Record<TurnResult['status'], RunStatus> = {
  completed: 'completed',
  incomplete: 'incomplete',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** The HTTP answer of a finished run: the run, or the provider's failure in plain words. */
function responseOf(run: RunRow, resource: RunResource): StoredResponse {
  if (run.status === 'failed') {
    if (run.finish_reason === 'server_error') return { status: 500, body: { message: 'Server Error' } };
    return { status: run.finish_reason === 'timeout' ? 504 : 502, body: { message: run.error ?? 'The model call failed.' } };
  }
  return { status: 200, body: { data: resource } };
}

async function finalize(ctx: AppContext, row: RunRow, outcome: RunOutcome | undefined, unexpected: unknown, baseUrl: string) {
  const at = now();
  const turn = outcome?.turn;
  if (!turn) ctx.log.error({ err: unexpected, run: row.id }, 'a run failed unexpectedly');
  else if (turn.status === 'failed') ctx.log.warn({ run: row.id, provider: row.provider_slug, reason: turn.finishReason, status: turn.errorStatus }, 'a model run failed');
  const values = {
    status: turn ? STATUS_OF[turn.status] : ('failed' as const),
    finish_reason: turn?.finishReason ?? 'server_error',
    error: turn ? turn.error : 'The run failed unexpectedly.',
    output: outcome?.output ?? null,
    output_json: outcome?.outputJson === undefined ? null : toJson(outcome.outputJson),
    input_tokens: turn?.usage.inputTokens ?? 0,
    output_tokens: turn?.usage.outputTokens ?? 0,
    cost: turn?.usage.cost ?? 0,
    latency_ms: turn?.latencyMs ?? null,
    ttft_ms: turn?.ttftMs ?? null,
    steps: turn?.steps.length ?? 0,
    tool_calls: turn?.toolCalls ?? 0,
    lease_expires_at: null,
    finished_at: at,
    updated_at: at,
  };
  // The reply is built from the final values, so the run's end is one write.
  const finished: RunRow = { ...row, ...values };
  const [resource] = await toRunResources(ctx, [finished], baseUrl);
  const stored = responseOf(finished, resource!);
  // Counted in the metrics rollups with the end it counts (a run reaped meanwhile moves to this outcome).
  await ctx.db.kysely
    .transaction()
    .execute((trx) => countRunChange(trx, row.id, () => repo.finishRun(trx, row.id, { ...values, response: toJson(stored) })));
  return { row: finished, resource: resource!, stored };
}

async function replyOf(ctx: AppContext, invocation: RunInvocation, live: LiveRun, runId: string): Promise<RunReply> {
  if (invocation.stream) return { kind: 'stream', source: live, afterId: invocation.lastEventId };
  const detach = live.attach();
  const onGone = () => detach();
  invocation.clientGone?.addEventListener('abort', onGone, { once: true });
  try {
    await live.done;
  } finally {
    invocation.clientGone?.removeEventListener('abort', onGone);
    detach();
  }
  const row = await repo.findRun(ctx.db.kysely, invocation.scope.workspaceId, runId);
  return jsonReplyOf(ctx, row!, invocation.baseUrl);
}

async function jsonReplyOf(ctx: AppContext, row: RunRow, baseUrl: string): Promise<RunReply> {
  const stored = fromJson<StoredResponse | null>(row.response);
  if (stored) return { kind: 'json', status: stored.status, body: stored.body };
  const [resource] = await toRunResources(ctx, [row], baseUrl);
  const fresh = responseOf(row, resource!);
  return { kind: 'json', status: fresh.status, body: fresh.body };
}

/** A retried request (same Idempotency-Key): the first run's result, never a second model call. */
async function replay(ctx: AppContext, invocation: RunInvocation, row: RunRow, hash: string): Promise<RunReply> {
  if (row.request_hash !== hash) {
    throw new AppError('VALIDATION', 'The Idempotency-Key was already used with a different request.', {
      fields: { 'Idempotency-Key': ['The Idempotency-Key was already used with a different request.'] },
    });
  }
  const live = ctx.liveRuns.get(row.id);
  if (live) return replyOf(ctx, invocation, live, row.id);
  let current = row;
  if (current.status === 'running') {
    // Running in another process (or its process died): wait for its stored end.
    await waitForRunToEnd(ctx, current, Date.now() + ENQUEUE_WAIT_MS);
    current = (await repo.findRun(ctx.db.kysely, row.workspace_id, row.id)) ?? current;
  }
  if (!invocation.stream) return jsonReplyOf(ctx, current, invocation.baseUrl);
  return { kind: 'stream', source: await storedEvents(ctx, current, invocation.baseUrl), afterId: invocation.lastEventId };
}

/** The events of a run that is no longer in memory, rebuilt from what was stored. */
async function storedEvents(ctx: AppContext, row: RunRow, baseUrl: string): Promise<EventSource> {
  const [resource] = await toRunResources(ctx, [row], baseUrl);
  const events: RunEvent[] = [];
  const push = (event: RunEventType, data: unknown) => events.push({ id: events.length + 1, event, data });
  push('run.started', { run_uuid: row.id, kind: row.kind, thread_uuid: row.thread_id, agent_uuid: row.agent_id, prompt_uuid: row.prompt_id });
  for (const message of resource!.messages) if (message.role === 'assistant') push('message.completed', { message, usage: message.usage });
  const stored = fromJson<StoredResponse | null>(row.response);
  if (stored && stored.status >= 400) push('error', stored.body);
  push('done', resource);
  return { subscribe: (afterId, listener) => {
    for (const event of events) if (event.id > afterId) listener(event);
    return () => undefined;
  } };
}

/** `GET /api/v1/runs/{uuid}/events`: a run's stream from Last-Event-ID, live or rebuilt. */
export async function runEvents(ctx: AppContext, scope: WorkspaceScope, runId: string, baseUrl: string): Promise<EventSource> {
  const row = await getRunOrThrow(ctx, scope, runId);
  const live = ctx.liveRuns.get(row.id);
  if (live) return live;
  return storedEvents(ctx, row, baseUrl);
}

/** A run the caller started, with a dead process's run shown as failed. */
export async function getRunOrThrow(ctx: AppContext, scope: WorkspaceScope, runId: string): Promise<RunRow> {
  let row = await repo.findRun(ctx.db.kysely, scope.workspaceId, runId.toLowerCase());
  if (!row || row.user_id !== scope.userId) throw new AppError('NOT_FOUND');
  if (row.status === 'running' && !ctx.liveRuns.get(row.id) && (await reapExpiredRun(ctx, row.id))) {
    row = (await repo.findRun(ctx.db.kysely, scope.workspaceId, row.id)) ?? row;
  }
  return row;
}

export async function getRun(ctx: AppContext, scope: WorkspaceScope, runId: string, baseUrl: string): Promise<RunResource> {
  const [resource] = await toRunResources(ctx, [await getRunOrThrow(ctx, scope, runId)], baseUrl);
  return resource!;
}

export const SORT_COLUMNS = { created_at: 'r.created_at', cost: 'r.cost', latency_ms: 'r.latency_ms' } as const;

export async function listRuns(
  ctx: AppContext,
  scope: WorkspaceScope,
  page: PageRequest,
  filter: repo.RunListFilter,
  baseUrl: string,
): Promise<PageResult<RunResource>> {
  const result = await fetchPage(page, {
    base: repo.listRunsQuery(ctx.db.kysely, scope.workspaceId, scope.userId, filter),
    select: (q) => q.selectAll('r').select((eb) => eb.ref(page.sort.column as 'r.created_at').as('sort_value')),
    idColumn: 'r.id',
    sortField: 'sort_value',
    idField: 'id',
    map: (row: RunRow & { sort_value?: unknown }) => {
      const { sort_value: _sort, ...run } = row;
      return run as RunRow;
    },
  });
  return { ...result, items: await toRunResources(ctx, result.items, baseUrl) };
}

/** `POST /threads/{uuid}/cancel`: stops the thread's run in flight and answers once it stopped. */
export async function cancelThreadRun(ctx: AppContext, scope: WorkspaceScope, threadId: string, baseUrl: string): Promise<RunResource> {
  const active = await repo.findActiveRunOfThread(ctx.db.kysely, scope.workspaceId, threadId);
  if (!active || (await reapExpiredRun(ctx, active.id))) {
    throw new AppError('CONFLICT', 'The thread has no run in progress.');
  }
  await cancelRunRow(ctx, active, 'cancelled');
  await waitForRunToEnd(ctx, active, Date.now() + INTERRUPT_WAIT_MS);
  const row = await repo.findRun(ctx.db.kysely, scope.workspaceId, active.id);
  const [resource] = await toRunResources(ctx, [row ?? active], baseUrl);
  return resource!;
}
