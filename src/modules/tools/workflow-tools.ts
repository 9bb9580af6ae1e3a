import { ToolError, type JsonSchemaObject, type RunScope, type RunTool, type ToolCallContext } from '../../ai/ports.js';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fromJson, isUuid } from '../../db/values.js';
import type { WorkflowNode } from '../../engine/types.js';
import { AppError } from '../../errors.js';
import * as executions from '../executions/executions.repository.js';
import { cancelExecution, startAndWait, toExecutionResource, type WaitResult } from '../executions/executions.service.js';
import { FINISHED_STATUSES } from '../executions/executions.table.js';
import { findWorkflowsAccess, workflowSettingsOf } from '../workflows/access.js';
import type { WorkflowRow } from '../workflows/workflows.table.js';
import { permits } from '../shares/shares.service.js';
import { findMembership } from '../workspaces/workspaces.repository.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { inputSchemaProblem, normalizeInputSchema } from './input-schema.js';
import { outputOfValue } from './tool-output.js';

/** The trigger node type that makes a workflow a tool agents can call. */
export const AGENT_TOOL_NODE_TYPE = 'agent_tool';
/** Below the model step's own limit, so the model hears the timeout instead of the run failing. */
const STEP_MARGIN_MS = 10_000;

/** A workflow an agent may call, and the trigger node it starts at. */
export interface WorkflowTool {
  workflow: WorkflowRow;
  node: WorkflowNode;
}

interface AgentToolParameters {
  name?: unknown;
  description?: unknown;
  input_schema?: unknown;
}

/** The first enabled `agent_tool` trigger of a workflow's graph. */
export function agentToolNodeOf(workflow: Pick<WorkflowRow, 'nodes'>): WorkflowNode | undefined {
  const nodes = fromJson<WorkflowNode[] | null>(workflow.nodes) ?? [];
  return nodes.find((node) => node.type === AGENT_TOOL_NODE_TYPE && node.disabled !== true);
}

/**
 * The workflows among `ids` that `scope`'s user may call as tools: of `scope`'s workspace, with
 * at least `run` permission, and with an `agent_tool` trigger. Other ids are left out.
 */
export async function findWorkflowTools(db: Executor, scope: WorkspaceScope, ids: readonly string[]): Promise<Map<string, WorkflowTool>> {
  const candidates = [...new Set(ids.map((id) => id.toLowerCase()).filter(isUuid))];
  const tools = new Map<string, WorkflowTool>();
  if (candidates.length === 0) return tools;
  for (const [id, access] of await findWorkflowsAccess(db, scope, candidates)) {
    if (access.workflow.workspace_id !== scope.workspaceId || !permits(access.permission, 'run')) continue;
    const node = agentToolNodeOf(access.workflow);
    if (node) tools.set(id, { workflow: access.workflow, node });
  }
  return tools;
}

/**
 * Who a run's workflow tools act as: the agent's side (its creator in the agent's workspace, as
 * for HTTP and MCP tools), with their own role there. Undefined when they are no longer a member.
 */
async function toolOwnerScopeOf(db: Executor, run: RunScope): Promise<WorkspaceScope | undefined> {
  const owner = run.toolOwner ?? run.scope;
  if (owner.workspaceId === run.scope.workspaceId && owner.userId === run.scope.userId) return run.scope;
  const membership = await findMembership(db, owner.workspaceId, owner.userId);
  return membership ? { workspaceId: owner.workspaceId, userId: owner.userId, role: membership.role } : undefined;
}

/** The workflow tools of a run among `ids`, by workflow uuid, named as their trigger says (not yet unique). */
export async function findWorkflowRunTools(run: RunScope, ids: readonly string[]): Promise<Map<string, RunTool>> {
  const db = run.ctx.db.kysely;
  const candidates = ids.filter(isUuid);
  if (candidates.length === 0) return new Map();
  const owner = await toolOwnerScopeOf(db, run);
  if (!owner) return new Map();
  const found = await findWorkflowTools(db, owner, candidates);
  return new Map([...found].map(([id, tool]) => [id, workflowRunTool(run, owner, tool)]));
}

/** An agent_tool node's input schema when it is usable, else any object. */
function inputSchemaOf(schema: unknown): JsonSchemaObject {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return { type: 'object' };
  let candidate = normalizeInputSchema(schema as JsonSchemaObject);
  // `{properties: …}` written without its type still means an object.
  if (candidate.type === undefined) candidate = { type: 'object', ...candidate };
  return inputSchemaProblem(candidate) === undefined ? candidate : { type: 'object' };
}

/** `workflow_` and the end of its uuid (the random part of a UUIDv7). */
function defaultToolName(workflowId: string): string {
  return `workflow_${workflowId.replace(/-/g, '').slice(-8)}`;
}

/**
 * A workflow as a tool: each call starts an execution (trigger `agent`) at its agent_tool node
 * with the call's arguments as trigger data, acting as the tool owner, and answers with the
 * execution's output once it ends.
 */
export function workflowRunTool(run: RunScope, owner: WorkspaceScope, tool: WorkflowTool): RunTool {
  const { workflow, node } = tool;
  const params = node.parameters as AgentToolParameters;
  const name = typeof params.name === 'string' && /^[a-zA-Z0-9_-]{1,64}$/.test(params.name) ? params.name : defaultToolName(workflow.id);
  const description =
    (typeof params.description === 'string' && params.description.trim()) ||
    workflow.description?.trim() ||
    `Runs the workflow "${workflow.name}" and returns its result.`;
  return {
    uuid: workflow.id,
    name,
    description,
    inputSchema: inputSchemaOf(params.input_schema),
    execute: (input, call) => callWorkflow(run.ctx, run, owner, tool, input, call),
  };
}

async function callWorkflow(ctx: AppContext, run: RunScope, owner: WorkspaceScope, tool: WorkflowTool, input: unknown, call: ToolCallContext): Promise<unknown> {
  const { workflow, node } = tool;
  const timeoutMs = Math.min(workflowSettingsOf(workflow, ctx.config).webhook_timeout_ms, Math.max(1_000, ctx.config.model.timeoutMs - STEP_MARGIN_MS));
  // One execution per tool call, even if the call is delivered twice; it also finds the execution to cancel.
  const idempotencyKey = `agent-tool:${run.runId}:${call.toolCallId}`.slice(0, 255);
  call.signal.throwIfAborted();
  const waiting = startAndWait(
    ctx,
    { workflow, userId: owner.userId, trigger: 'agent', triggerNodeId: node.id, triggerData: input ?? {}, idempotencyKey },
    // Outside the concurrency bound: an agent node of a running execution may be the caller,
    // and executions waiting on executions that wait for a slot would never finish.
    { timeoutMs, untilResponse: false, inline: 'always' },
  );
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted');
    call.signal.addEventListener('abort', onAbort, { once: true });
  });
  let result: WaitResult | 'aborted';
  try {
    result = await Promise.race([waiting, aborted]);
  } catch (error) {
    if (error instanceof AppError) throw new ToolError(`The workflow "${workflow.name}" could not start: ${error.message}`);
    throw error;
  } finally {
    call.signal.removeEventListener('abort', onAbort!);
  }
  if (result === 'aborted') {
    // The run stopped (cancel, timeout, shutdown): so does the execution it started.
    void cancelByKey(ctx, workflow.id, idempotencyKey);
    void waiting.then((late) => (late.kind === 'timeout' ? cancelByKey(ctx, workflow.id, idempotencyKey) : undefined)).catch(() => undefined);
    throw new ToolError('The tool call was cancelled.');
  }
  return outcomeOf(ctx, workflow, result);
}

async function cancelByKey(ctx: AppContext, workflowId: string, key: string): Promise<void> {
  try {
    const row = await executions.findByIdempotencyKey(ctx.db.kysely, workflowId, key);
    if (row && !FINISHED_STATUSES.includes(row.status)) await cancelExecution(ctx, row);
  } catch (error) {
    // Already ended in between (409), or storage trouble: the execution's own limits still apply.
    if (!(error instanceof AppError)) ctx.log.warn({ err: error, workflow: workflowId }, 'could not cancel the execution of a cancelled tool call');
  }
}

/** The tool's answer: the execution's output, or a ToolError the model can read. */
async function outcomeOf(ctx: AppContext, workflow: WorkflowRow, result: WaitResult): Promise<unknown> {
  const executionId = result.row.id;
  if (result.kind === 'timeout') {
    throw new ToolError(`The workflow "${workflow.name}" did not finish in time; it goes on as execution ${executionId}, whose result this call will not return.`);
  }
  if (result.kind === 'responded') return outputOfValue(result.response.body, []);
  const { outcome } = result;
  if (outcome) {
    if (outcome.status === 'succeeded') return outputOfValue(outcome.output, []);
    if (outcome.status === 'failed') throw new ToolError(`The workflow "${workflow.name}" failed: ${outcome.error.message}`);
    if (outcome.status === 'waiting') throw waitingError(workflow, executionId);
    throw new ToolError(`The workflow "${workflow.name}" was cancelled (execution ${executionId}).`);
  }
  // Settled in another process: its stored row says how.
  const row = (await executions.findExecutionById(ctx.db.kysely, executionId)) ?? result.row;
  const execution = toExecutionResource(ctx, row, workflow.name);
  switch (execution.status) {
    case 'succeeded':
      return outputOfValue(execution.output, []);
    case 'failed': {
      const message = (execution.error as { message?: unknown } | null)?.message;
      throw new ToolError(`The workflow "${workflow.name}" failed: ${typeof message === 'string' ? message : 'no reason given'}`);
    }
    case 'waiting':
      throw waitingError(workflow, executionId);
    default:
      throw new ToolError(`The workflow "${workflow.name}" was cancelled (execution ${executionId}).`);
  }
}

function waitingError(workflow: WorkflowRow, executionId: string): ToolError {
  return new ToolError(`The workflow "${workflow.name}" is waiting (execution ${executionId}); its result will not come back to this call.`);
}
