import type { AppContext } from '../../../context.js';
import { NodeError } from '../../../engine/node-type.js';
import type { SubWorkflowSpec } from '../../../engine/ports.js';
import * as executions from '../../executions/executions.repository.js';
import { startExecution } from '../../executions/executions.service.js';
import type { ExecutionRow } from '../../executions/executions.table.js';
import type { WorkspaceScope } from '../../workspaces/workspaces.service.js';

/** How deep workflows may call workflows (a workflow calling itself stops here). */
export const MAX_SUB_WORKFLOW_DEPTH = 10;

/**
 * The `workflow` node: runs another workflow of the workspace as a child execution. With
 * `wait`, the child runs inline in this runner (outside the concurrency bound, so parents
 * waiting on children cannot starve the pool) and its output becomes the node's.
 */
export function createSubWorkflowService(
  ctx: AppContext,
  parent: ExecutionRow,
  scopeOf: () => Promise<WorkspaceScope>,
) {
  return async (spec: SubWorkflowSpec, signal: AbortSignal): Promise<unknown> => {
    const scope = await scopeOf();
    const db = ctx.db.kysely;
    const workflow = await db
      .selectFrom('workflows')
      .selectAll()
      .where('id', '=', spec.workflow_uuid.toLowerCase())
      .where('workspace_id', '=', parent.workspace_id)
      .executeTakeFirst();
    if (!workflow || (workflow.visibility === 'private' && workflow.user_id !== scope.userId)) {
      throw new NodeError(`Workflow ${spec.workflow_uuid} was not found in this workspace.`);
    }
    if ((await depthOf(ctx, parent)) >= MAX_SUB_WORKFLOW_DEPTH) {
      throw new NodeError(`Workflows may call workflows at most ${MAX_SUB_WORKFLOW_DEPTH} deep.`);
    }
    signal.throwIfAborted();
    const started = await startExecution(
      ctx,
      { workflow, userId: scope.userId, trigger: 'workflow', triggerData: spec.input, parentExecutionId: parent.id },
      { inline: spec.wait ? 'always' : false },
    );
    if (!spec.wait || !started.run) return { execution_uuid: started.row.id, status: started.row.status };
    const abort = () => ctx.executions.cancelEverywhere(started.row.id);
    signal.addEventListener('abort', abort, { once: true });
    try {
      const outcome = await started.run;
      if (outcome.status === 'succeeded') return outcome.output;
      if (outcome.status === 'failed') {
        throw new NodeError(`Sub-workflow "${workflow.name}" failed: ${outcome.error.message}`, { execution_uuid: started.row.id });
      }
      return { execution_uuid: started.row.id, status: outcome.status === 'waiting' ? 'waiting' : 'canceled' };
    } finally {
      signal.removeEventListener('abort', abort);
    }
  };
}

async function depthOf(ctx: AppContext, execution: ExecutionRow): Promise<number> {
  let depth = 0;
  let parentId = execution.parent_execution_id;
  while (parentId && depth < MAX_SUB_WORKFLOW_DEPTH) {
    const parent = await executions.findExecutionById(ctx.db.kysely, parentId);
    if (!parent || parent.trigger === 'error') break;
    depth += 1;
    parentId = parent.parent_execution_id;
  }
  return depth;
}
