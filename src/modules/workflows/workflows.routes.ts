import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { baseUrlOf, pageRequestOf, pageResponse } from '../../http/pagination.js';
import { Page, platformErrors } from '../../http/schemas.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { Share, ShareBody, ShareListEnvelope, ShareListQuery } from '../shares/shares.schemas.js';
import * as shareService from '../shares/shares.service.js';
import {
  CreateWorkflowBody,
  MAX_EDGES,
  MAX_NODES,
  UpdateWorkflowBody,
  Workflow,
  WorkflowEnvelope,
  WorkflowListQuery,
  WorkflowNodeCatalog,
  WorkflowParams,
  WorkflowShareParams,
} from './workflows.schemas.js';
import * as workflows from './workflows.service.js';

const tags = ['Workflow'];
const noContent = Type.Null({ description: 'Done.' });

export function workflowRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  const callerOf = async (request: FastifyRequest): Promise<workflows.WorkflowCaller> => ({
    scope: await workspaceScopeOf(ctx, request),
    baseUrl: baseUrlOf(request, ctx.config.publicUrl),
  });

  return async (app) => {
    app.get('/api/v1/workflows', {
      schema: {
        tags,
        operationId: 'getWorkflows',
        summary: 'Get Workflows',
        description:
          'Workflows the caller can see. `filter[source]`: `workspace` (the acting workspace’s), `shared` (shared with the caller or the acting workspace from other workspaces), `public` (public workflows of the whole instance); default `workspace` and `shared`. Also `filter[visibility]`, `filter[is_active]`, `filter[mine]`; `search` matches name and description.',
        querystring: WorkflowListQuery,
        response: { 200: Page(Workflow), ...platformErrors },
      },
      handler: async (request) => {
        const { search, filter } = request.query;
        const page = pageRequestOf(request.query, workflows.SORT_COLUMNS, '-created_at');
        const result = await workflows.listWorkflows(ctx, await callerOf(request), page, {
          search,
          visibility: filter?.visibility,
          isActive: filter?.is_active,
          mine: filter?.mine,
          source: filter?.source,
        });
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.post('/api/v1/workflows', {
      schema: {
        tags,
        operationId: 'createWorkflow',
        summary: 'Create a Workflow',
        description: `Members and above. The graph (at most ${MAX_NODES} nodes and ${MAX_EDGES} edges) is validated: unknown node types, parameters that break their type’s schema, expressions that do not parse, dangling edges, nodes no trigger reaches, cycles that skip every loop node and bad schedules are a 422 naming the node or edge (\`errors\` keyed by \`nodes.<index>…\` / \`edges.<index>…\`). Secret variables are encrypted and shown as \`"********"\`. A webhook secret is made; \`is_active\` (default false) turns its schedules on. Visibility defaults to \`private\`.`,
        body: CreateWorkflowBody,
        response: { 201: WorkflowEnvelope, ...platformErrors },
      },
      handler: async (request, reply) => {
        return reply.code(201).send({ data: await workflows.createWorkflow(ctx, await callerOf(request), request.body) });
      },
    });

    app.get('/api/v1/workflows/:workflow_uuid', {
      schema: {
        tags,
        operationId: 'retrieveWorkflow',
        summary: 'Retrieve a Workflow',
        description: 'Any workflow the caller can see; `permission` says what they may do with it. `webhook_url` and `webhook_secret` only for those who may edit it.',
        params: WorkflowParams,
        response: { 200: WorkflowEnvelope, ...platformErrors },
      },
      handler: async (request) => ({ data: await workflows.getWorkflow(ctx, await callerOf(request), request.params.workflow_uuid) }),
    });

    app.put('/api/v1/workflows/:workflow_uuid', {
      schema: {
        tags,
        operationId: 'updateWorkflow',
        summary: 'Update a Workflow',
        description:
          'Needs `edit`. Fields left out keep their value; `nodes`, `edges` and `variables` replace the stored ones whole (a secret sent as `"********"` keeps its value); `settings` merges key by key. The resulting graph is validated as on create; `version` goes up by one. Changing `visibility` is for those who may share the workflow (its creator, admins and owners of its workspace).',
        params: WorkflowParams,
        body: UpdateWorkflowBody,
        response: { 200: WorkflowEnvelope, ...platformErrors },
      },
      handler: async (request) => ({
        data: await workflows.updateWorkflow(ctx, await callerOf(request), request.params.workflow_uuid, request.body),
      }),
    });

    app.delete('/api/v1/workflows/:workflow_uuid', {
      schema: {
        tags,
        operationId: 'deleteWorkflow',
        summary: 'Delete a Workflow',
        description: 'Its creator, or an admin or owner of its workspace. Its grants, schedules and executions go with it.',
        params: WorkflowParams,
        response: { 204: noContent, ...platformErrors },
      },
      handler: async (request, reply) => {
        await workflows.deleteWorkflow(ctx, await workspaceScopeOf(ctx, request), request.params.workflow_uuid);
        return reply.code(204).send(null);
      },
    });

    app.post('/api/v1/workflows/:workflow_uuid/webhook-secret', {
      schema: {
        tags,
        operationId: 'rotateWorkflowWebhookSecret',
        summary: 'Rotate a Workflow’s Webhook Secret',
        description: 'Needs `edit`. Makes a new webhook secret; the old one stops working at once. Answers the workflow with its new `webhook_url`.',
        params: WorkflowParams,
        response: { 200: WorkflowEnvelope, ...platformErrors },
      },
      handler: async (request) => ({
        data: await workflows.rotateWebhookSecret(ctx, await callerOf(request), request.params.workflow_uuid),
      }),
    });

    app.post('/api/v1/workflows/:workflow_uuid/share', {
      schema: {
        tags,
        operationId: 'shareWorkflow',
        summary: 'Share Workflow',
        description:
          'Its creator, or an admin or owner of its workspace. Grants `view`, `run` or `edit` to users (by email, wherever they act) and to workspaces the caller belongs to (their members acting there; viewers get at most `view`), and `view` or `run` to everyone with `public` (null removes the public grant). Granting a grantee again changes its permission. Answers every grant of the workflow.',
        params: WorkflowParams,
        body: ShareBody,
        response: { 200: ShareListEnvelope, ...platformErrors },
      },
      handler: async (request) => ({
        data: await workflows.shareWorkflow(ctx, await workspaceScopeOf(ctx, request), request.params.workflow_uuid, request.body),
      }),
    });

    app.get('/api/v1/workflows/:workflow_uuid/shares', {
      schema: {
        tags,
        operationId: 'getWorkflowShares',
        summary: 'Get Workflow Shares',
        description: 'The workflow’s grants, for those who may share it. `filter[grantee_type]`.',
        params: WorkflowParams,
        querystring: ShareListQuery,
        response: { 200: Page(Share), ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const page = pageRequestOf(request.query, shareService.SORT_COLUMNS, 'created_at');
        const result = await workflows.listWorkflowShares(ctx, scope, request.params.workflow_uuid, page, {
          granteeType: request.query.filter?.grantee_type,
        });
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.delete('/api/v1/workflows/:workflow_uuid/shares/:share_uuid', {
      schema: {
        tags,
        operationId: 'deleteWorkflowShare',
        summary: 'Revoke a Workflow Share',
        description: 'Removes one grant, for those who may share the workflow.',
        params: WorkflowShareParams,
        response: { 204: noContent, ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        await workflows.revokeWorkflowShare(ctx, scope, request.params.workflow_uuid, request.params.share_uuid);
        return reply.code(204).send(null);
      },
    });

    app.get('/api/v1/workflow-nodes', {
      schema: {
        tags,
        operationId: 'getWorkflowNodes',
        summary: 'Get Workflow Node Types',
        description:
          'The node catalog: every node type a workflow may use, with its category, its parameters’ JSON Schema (a string with `{{ }}` may stand for any value), its output handles, and whether it joins branches (merge) or may close a cycle (loop).',
        response: { 200: WorkflowNodeCatalog, 401: platformErrors[401], 429: platformErrors[429] },
      },
      handler: async () => ({ data: workflows.listNodeTypes() }),
    });
  };
}
