import { CompiledQuery, sql, type Insertable, type RawBuilder } from 'kysely';
import type { Dialect, Executor } from '../../db/database.js';
import { preparedQuery } from '../../db/prepared.js';
import type { ExecutionRow, ExecutionStatus, ExecutionStepRow, WorkflowExecutionStepsTable, WorkflowExecutionsTable } from './executions.table.js';

export type NewExecution = Insertable<WorkflowExecutionsTable>;

const EXECUTION_COLUMNS = [
  'id',
  'workspace_id',
  'workflow_id',
  'user_id',
  'status',
  'trigger',
  'trigger_node_id',
  'workflow_version',
  'trigger_data',
  'state',
  'output',
  'error',
  'response',
  'resume_data',
  'idempotency_key',
  'parent_execution_id',
  'retry_of_id',
  'node_runs',
  'lease_owner',
  'lease_expires_at',
  'wake_at',
  'started_at',
  'finished_at',
  'created_at',
  'updated_at',
] as const;

// Every execution writes these: built once per dialect and re-bound (see preparedQuery).
const insertExecutionQuery = preparedQuery((db, p: Record<string, unknown>) =>
  db.insertInto('workflow_executions').values(Object.fromEntries(EXECUTION_COLUMNS.map((c) => [c, p[c]])) as never),
);

const STEP_COLUMNS = [
  'execution_id',
  'seq',
  'node_id',
  'node_type',
  'status',
  'input',
  'output',
  'handle',
  'error',
  'attempts',
  'started_at',
  'finished_at',
  'state',
] as const;

// PostgreSQL types the selected parameters from these casts (an INSERT … SELECT has no column context).
const PG_CASTS: Record<(typeof STEP_COLUMNS)[number], string> = {
  execution_id: 'uuid',
  seq: 'integer',
  node_id: 'text',
  node_type: 'text',
  status: 'text',
  input: 'jsonb',
  output: 'jsonb',
  handle: 'text',
  error: 'jsonb',
  attempts: 'integer',
  started_at: 'timestamptz',
  finished_at: 'timestamptz',
  state: 'jsonb',
};

/**
 * The step commit: one INSERT that writes the node run (with the state after it) only while the
 * execution is running under this owner's lease. One statement, so one atomic commit per step.
 */
function guardedStepInsertSql(dialect: Dialect): string {
  const columns = STEP_COLUMNS.join(', ');
  const n = STEP_COLUMNS.length;
  const values =
    dialect === 'sqlite' ? STEP_COLUMNS.map(() => '?').join(', ') : STEP_COLUMNS.map((column, i) => `$${i + 1}::${PG_CASTS[column]}`).join(', ');
  const guard = dialect === 'sqlite' ? 'id = ? and lease_owner = ?' : `id = $${n + 1}::uuid and lease_owner = $${n + 2}`;
  return `insert into workflow_execution_steps (${columns}) select ${values} where exists (select 1 from workflow_executions where ${guard} and status = 'running')`;
}

const guardedStepInsert: Record<Dialect, string> = { sqlite: guardedStepInsertSql('sqlite'), postgres: guardedStepInsertSql('postgres') };

/** What an ending statement returns: the columns the metrics rollups count an ended execution by. */
const ENDED_COLUMNS = ['id', 'workspace_id', 'workflow_id', 'status', 'trigger', 'created_at', 'started_at', 'finished_at'] as const;
export type EndedExecution = Pick<ExecutionRow, (typeof ENDED_COLUMNS)[number]>;

const finishQuery = preparedQuery(
  (
    db,
    p: {
      id: string;
      owner: string;
      status: ExecutionStatus;
      state: string;
      output: string | null;
      error: string | null;
      response: string | null;
      node_runs: number;
      at: string;
    },
  ) =>
    db
      .updateTable('workflow_executions')
      .set({
        status: p.status,
        state: p.state,
        output: p.output,
        error: p.error,
        response: p.response,
        node_runs: p.node_runs,
        lease_owner: null,
        lease_expires_at: null,
        wake_at: null,
        finished_at: p.at,
        updated_at: p.at,
      })
      .where('id', '=', p.id)
      .where('lease_owner', '=', p.owner)
      .where('status', '=', 'running')
      .returning(ENDED_COLUMNS),
);

export async function insertExecution(db: Executor, row: NewExecution): Promise<void> {
  await insertExecutionQuery(db, row as unknown as Record<string, unknown>);
}

/** Commits one step under the owner's lease; false when the execution is no longer its own (nothing is written). */
export async function insertStepIfOwned(
  db: Executor,
  dialect: Dialect,
  row: Insertable<WorkflowExecutionStepsTable>,
  owner: string,
): Promise<boolean> {
  const values = row as unknown as Record<string, unknown>;
  const parameters = [...STEP_COLUMNS.map((column) => values[column] ?? null), row.execution_id, owner];
  const result = await db.executeQuery(CompiledQuery.raw(guardedStepInsert[dialect], parameters));
  return Number(result.numAffectedRows ?? 0) === 1;
}

/** Ends a running execution this owner holds; undefined when it is no longer its own (cancelled, taken over). */
export async function finishExecution(
  db: Executor,
  values: {
    id: string;
    owner: string;
    status: ExecutionStatus;
    state: string;
    output: string | null;
    error: string | null;
    response: string | null;
    node_runs: number;
    at: string;
  },
): Promise<EndedExecution | undefined> {
  const [row] = await finishQuery(db, values);
  return row;
}

export async function parkExecution(
  db: Executor,
  values: { id: string; owner: string; state: string; node_runs: number; wake_at: string | null; response: string | null; at: string },
): Promise<boolean> {
  const result = await db
    .updateTable('workflow_executions')
    .set({
      status: 'waiting',
      state: values.state,
      node_runs: values.node_runs,
      wake_at: values.wake_at,
      response: values.response,
      resume_data: null,
      lease_owner: null,
      lease_expires_at: null,
      updated_at: values.at,
    })
    .where('id', '=', values.id)
    .where('lease_owner', '=', values.owner)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function renewLease(db: Executor, id: string, owner: string, expiresAt: string): Promise<boolean> {
  const result = await db
    .updateTable('workflow_executions')
    .set({ lease_expires_at: expiresAt })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Hands a running execution back to the queue (a runner shutting down). */
export async function releaseExecution(db: Executor, id: string, owner: string, at: string): Promise<void> {
  await db
    .updateTable('workflow_executions')
    .set({ status: 'queued', lease_owner: null, lease_expires_at: null, updated_at: at })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'running')
    .execute();
}

/**
 * Claims up to `limit` executions that need a runner: queued ones, running ones whose runner's
 * lease ran out (it died), and waiting ones whose time came. PostgreSQL skips rows another
 * claimer has locked; SQLite has one writer, so each update is atomic as it is.
 */
export async function claimExecutions(
  db: Executor,
  dialect: Dialect,
  values: { owner: string; now: string; leaseExpiresAt: string; limit: number },
): Promise<ExecutionRow[]> {
  if (values.limit <= 0) return [];
  const lock = dialect === 'postgres' ? sql` for update skip locked` : sql``;
  const claim = async (due: RawBuilder<unknown>, order: RawBuilder<unknown>, limit: number) =>
    (
      await sql<ExecutionRow>`
        update workflow_executions
        set status = 'running', lease_owner = ${values.owner}, lease_expires_at = ${values.leaseExpiresAt},
            started_at = coalesce(started_at, ${values.now}), wake_at = null, updated_at = ${values.now}
        where id in (select id from workflow_executions where ${due} order by ${order} limit ${limit}${lock})
        returning *`.execute(db)
    ).rows;
  // Three claims, each matching one partial index exactly (an OR of them would scan the table).
  const claimed: ExecutionRow[] = [];
  for (const [due, order] of [
    [sql`status = 'queued'`, sql`created_at`],
    [sql`status = 'running' and lease_expires_at < ${values.now}`, sql`lease_expires_at`],
    [sql`status = 'waiting' and wake_at <= ${values.now}`, sql`wake_at`],
  ] as const) {
    if (claimed.length >= values.limit) break;
    claimed.push(...(await claim(due, order, values.limit - claimed.length)));
  }
  return claimed;
}

/** Owners holding running executions, other than `except`. */
export async function leaseOwners(db: Executor, except: string): Promise<string[]> {
  const rows = await db
    .selectFrom('workflow_executions')
    .select('lease_owner')
    .distinct()
    .where('status', '=', 'running')
    .where('lease_owner', 'is not', null)
    .where('lease_owner', '!=', except)
    .execute();
  return rows.map((row) => row.lease_owner!);
}

/** Ends the leases of a runner known to be dead, so its executions are claimed at once. */
export async function expireLeasesOf(db: Executor, owner: string, at: string): Promise<number> {
  const result = await db
    .updateTable('workflow_executions')
    .set({ lease_expires_at: at })
    .where('status', '=', 'running')
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Claims one execution by id if it is queued (or its lease ran out, or its wait is due). */
export async function claimExecution(
  db: Executor,
  values: { id: string; owner: string; now: string; leaseExpiresAt: string; resumeData?: string | null },
): Promise<ExecutionRow | undefined> {
  const result = await db
    .updateTable('workflow_executions')
    .set({
      status: 'running',
      lease_owner: values.owner,
      lease_expires_at: values.leaseExpiresAt,
      started_at: sql`coalesce(started_at, ${values.now})`,
      wake_at: null,
      updated_at: values.now,
    })
    .where('id', '=', values.id)
    .where((eb) =>
      eb.or([
        eb('status', '=', 'queued'),
        eb.and([eb('status', '=', 'running'), eb('lease_expires_at', '<', values.now)]),
        eb.and([eb('status', '=', 'waiting'), eb('wake_at', '<=', values.now)]),
      ]),
    )
    .returningAll()
    .executeTakeFirst();
  return result as ExecutionRow | undefined;
}

export function findExecution(db: Executor, workspaceId: string, id: string): Promise<ExecutionRow | undefined> {
  return db.selectFrom('workflow_executions').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
}

/** For runners: the execution whatever its workspace (runners act on ids they claimed). */
export function findExecutionById(db: Executor, id: string): Promise<ExecutionRow | undefined> {
  return db.selectFrom('workflow_executions').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findByIdempotencyKey(db: Executor, workflowId: string, key: string): Promise<ExecutionRow | undefined> {
  return db
    .selectFrom('workflow_executions')
    .selectAll()
    .where('workflow_id', '=', workflowId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
}

export function listSteps(db: Executor, executionId: string): Promise<ExecutionStepRow[]> {
  return db.selectFrom('workflow_execution_steps').selectAll().where('execution_id', '=', executionId).orderBy('seq').execute();
}

/** Outputs only, for resuming: what `nodes.<id>.output` and queued inputs need. */
export function listStepOutputs(db: Executor, executionId: string): Promise<Pick<ExecutionStepRow, 'seq' | 'node_id' | 'status' | 'output' | 'state'>[]> {
  return db
    .selectFrom('workflow_execution_steps')
    .select(['seq', 'node_id', 'status', 'output', 'state'])
    .where('execution_id', '=', executionId)
    .orderBy('seq')
    .execute();
}

/** Cancels a queued, running or waiting execution; the runner holding it stops at its next commit. */
export async function cancelExecution(db: Executor, workspaceId: string, id: string, at: string): Promise<EndedExecution | undefined> {
  return db
    .updateTable('workflow_executions')
    .set({
      status: 'canceled',
      lease_owner: null,
      lease_expires_at: null,
      wake_at: null,
      finished_at: at,
      updated_at: at,
      error: JSON.stringify({ kind: 'canceled', message: 'The execution was cancelled.', node_id: null }),
    })
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .where('status', 'in', ['queued', 'running', 'waiting'])
    .returning(ENDED_COLUMNS)
    .executeTakeFirst();
}

/** Wakes an execution parked on a resume wait, with the resume call's body. */
export async function resumeExecution(db: Executor, workspaceId: string, id: string, resumeData: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('workflow_executions')
    .set({ status: 'queued', resume_data: resumeData, wake_at: null, updated_at: at })
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .where('status', '=', 'waiting')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function deleteExecution(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('workflow_executions').where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
}

export async function copySteps(db: Executor, fromId: string, toId: string, beforeSeq: number): Promise<void> {
  await sql`
    insert into workflow_execution_steps (execution_id, seq, node_id, node_type, status, input, output, handle, error, state, attempts, started_at, finished_at)
    select ${toId}, seq, node_id, node_type, status, input, output, handle, error, state, attempts, started_at, finished_at
    from workflow_execution_steps where execution_id = ${fromId} and seq < ${beforeSeq}`.execute(db);
}
