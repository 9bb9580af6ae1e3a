import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { baseUrlOf, pageRequestOf, pageResponse } from '../../http/pagination.js';
import { Envelope, MessageResponse, Page, platformErrors } from '../../http/schemas.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { can } from '../workspaces/permissions.js';
import { AppError } from '../../errors.js';
import {
  ExecutionCounts,
  ExecutionCountsQuery,
  ExecutionListQuery,
  ExecutionParams,
  ResumeBody,
  WorkflowExecution,
  WorkflowExecutionWithData,
} from './executions.schemas.js';
import * as executions from './executions.service.js';

const tags = ['Workflow Execution'];
const conflictErrors = { ...platformErrors, 409: MessageResponse };

export function executionRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/api/v1/workflow-executions', {
      schema: {
        tags,
        operationId: 'getWorkflowExecutions',
        summary: 'Get Workflow Executions',
        description: 'Executions of the workflows the caller can see, newest first. Filters: `filter[workflow_uuid]`, `filter[status]`, `filter[trigger]`, `filter[from]`, `filter[to]` (created at).',
        querystring: ExecutionListQuery,
        response: { 200: Page(WorkflowExecution), ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const filter = request.query.filter ?? {};
        const page = pageRequestOf(request.query, executions.SORT_COLUMNS, '-created_at');
        const result = await executions.listExecutions(ctx, scope, page, {
          workflowId: filter.workflow_uuid?.toLowerCase(),
          status: filter.status,
          trigger: filter.trigger,
          from: filter.from,
          to: filter.to,
        });
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.get('/api/v1/workflow-executions/counts', {
      schema: {
        tags,
        operationId: 'getWorkflowExecutionCounts',
        summary: 'Get Workflow Execution Counts',
        description: 'How many executions there are by status (and by workflow with `by=workflow`), over the workflows the caller can see.',
        querystring: ExecutionCountsQuery,
        response: { 200: Envelope(ExecutionCounts), ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const counts = await executions.countExecutions(ctx, scope, {
          workflowId: request.query.workflow_uuid?.toLowerCase(),
          byWorkflow: request.query.by === 'workflow',
          from: request.query.from,
          to: request.query.to,
        });
        return { data: counts };
      },
    });

    app.get('/api/v1/workflow-executions/:execution_uuid', {
      schema: {
        tags,
        operationId: 'retrieveWorkflowExecution',
        summary: 'Retrieve a Workflow Execution',
        description:
          'The execution with `data` (`WorkflowExecutionData`): the graph it ran, its trigger data and each node run’s input, output, error, attempts and timing. Inputs and outputs larger than the per-node cap are left out here (`data_file_bytes`) and read from `data_url`.',
        params: ExecutionParams,
        response: { 200: Envelope(WorkflowExecutionWithData), ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const row = await executions.getExecutionRowOrThrow(ctx, scope, request.params.execution_uuid.toLowerCase());
        return { data: await executions.toExecutionWithData(ctx, row, baseUrlOf(request, ctx.config.publicUrl)) };
      },
    });

    app.get('/api/v1/workflow-executions/:execution_uuid/nodes/:seq/data', {
      schema: {
        tags,
        operationId: 'getWorkflowExecutionNodeData',
        summary: 'Get a node run’s full data',
        description: 'The full input and output of one node run, also when they were kept in files for being larger than the per-node cap.',
        params: Type.Object({ execution_uuid: ExecutionParams.properties.execution_uuid, seq: Type.Integer({ minimum: 0 }) }),
        response: { 200: Envelope(Type.Object({ input: Type.Unknown(), output: Type.Unknown() })), ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const row = await executions.getExecutionRowOrThrow(ctx, scope, request.params.execution_uuid.toLowerCase());
        return { data: await executions.stepData(ctx, row, request.params.seq) };
      },
    });

    app.delete('/api/v1/workflow-executions/:execution_uuid', {
      schema: {
        tags,
        operationId: 'deleteWorkflowExecution',
        summary: 'Delete a Workflow Execution',
        description: 'Deletes an execution that is not running (cancel it first) with its node data.',
        params: ExecutionParams,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...conflictErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
        const row = await executions.getExecutionRowOrThrow(ctx, scope, request.params.execution_uuid.toLowerCase());
        await executions.deleteExecution(ctx, row);
        return reply.code(204).send(null);
      },
    });

    const action = (name: 'cancel' | 'retry' | 'resume', summary: string, description: string) =>
      app.post(`/api/v1/workflow-executions/:execution_uuid/${name}`, {
        schema: {
          tags,
          operationId: `${name}WorkflowExecution`,
          summary,
          description,
          params: ExecutionParams,
          ...(name === 'resume' ? { body: ResumeBody } : {}),
          response: { 200: Envelope(WorkflowExecution), ...conflictErrors },
        },
        handler: async (request) => {
          const scope = await workspaceScopeOf(ctx, request);
          if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
          const row = await executions.getExecutionRowOrThrow(ctx, scope, request.params.execution_uuid.toLowerCase());
          const changed =
            name === 'cancel'
              ? await executions.cancelExecution(ctx, row)
              : name === 'retry'
                ? await executions.retryExecution(ctx, row, scope.userId)
                : await executions.resumeExecution(ctx, row, (request.body as { data?: unknown } | undefined)?.data);
          return { data: executions.toExecutionResource(ctx, changed, await executions.workflowNameOf(ctx, changed)) };
        },
      });

    action('cancel', 'Cancel a Workflow Execution', 'Stops a queued, running or waiting execution: the node in flight is aborted and nothing after it runs. 409 when it already ended.');
    action(
      'retry',
      'Retry a Workflow Execution',
      'Starts a new execution (`retry_of_uuid`) of a failed or cancelled one from the node that stopped it, with the data of the nodes before it: they do not run again.',
    );
    action('resume', 'Resume a Workflow Execution', 'Wakes an execution parked on a wait node: `data` becomes the wait node’s output (human in the loop). 409 when it is not waiting.');
  };
}
