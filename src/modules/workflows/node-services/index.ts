import { ToolError } from '../../../ai/ports.js';
import type { AppContext } from '../../../context.js';
import { NodeError } from '../../../engine/node-type.js';
import type { NodeServices } from '../../../engine/ports.js';
import { runSandboxed } from '../../../engine/sandbox/index.js';
import type { ExecutionRow } from '../../executions/executions.table.js';
import { customerAccountsTools } from '../../tools/customer-accounts-tools.js';
import { findMembership } from '../../workspaces/workspaces.repository.js';
import type { WorkspaceScope } from '../../workspaces/workspaces.service.js';
import { createAiServices } from './ai.js';
import { createHttpService } from './http.js';
import { createSubWorkflowService } from './sub-workflow.js';

/**
 * The services an execution's IO nodes call, acting as the execution's user in its workspace
 * (for a webhook or schedule: the workflow's owner). Built per execution; cheap.
 */
export function createNodeServices(ctx: AppContext, execution: ExecutionRow): NodeServices {
  const scopeRef = { workspaceId: execution.workspace_id, userId: execution.user_id };
  let scope: Promise<WorkspaceScope> | undefined;
  // The user's current role, read once per execution and only by nodes that act as them.
  const scopeOf = (): Promise<WorkspaceScope> =>
    (scope ??= (async () => {
      if (execution.user_id === null) throw new NodeError('The workflow has no owner any more to act as; assign it to a member.');
      const membership = await findMembership(ctx.db.kysely, execution.workspace_id, execution.user_id);
      if (!membership) throw new NodeError('The user this workflow acts as is no longer a member of its workspace.');
      return { workspaceId: execution.workspace_id, userId: execution.user_id, role: membership.role };
    })());

  const http = createHttpService(ctx, scopeRef);
  const ai = createAiServices(ctx, scopeOf);
  const subWorkflows = createSubWorkflowService(ctx, execution, scopeOf);
  const { codeTimeoutMs, codeMemoryBytes } = ctx.config.workflows;

  return {
    http,
    runPrompt: ai.runPrompt,
    runAgent: ai.runAgent,
    runWorkflow: subWorkflows,
    runCode: (code, input, context, signal) => runSandboxed(code, input, { timeoutMs: codeTimeoutMs, memoryBytes: codeMemoryBytes, context, signal }),
    async customerAccounts(action, input, signal) {
      const tool = customerAccountsTools.find((candidate) => candidate.name === action);
      if (!tool) {
        throw new NodeError(`Unknown customer-accounts action "${action}"; one of: ${customerAccountsTools.map((t) => t.name).join(', ')}.`);
      }
      const runScope = { ctx, scope: await scopeOf(), runId: execution.id, agentId: null, threadId: null };
      try {
        return await tool.execute(input, runScope, { signal, toolCallId: execution.id });
      } catch (error) {
        if (error instanceof ToolError) throw new NodeError(error.message);
        throw error;
      }
    },
  };
}
