import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { principalOf } from '../../http/auth.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { pageRequestOf, pageResponse } from '../../http/pagination.js';
import { MessageResponse, Page, platformErrors } from '../../http/schemas.js';
import {
  AddMemberBody,
  ChangeRoleBody,
  CreateWorkspaceBody,
  MemberEnvelope,
  MemberListQuery,
  MemberParams,
  UpdateWorkspaceBody,
  Workspace,
  WorkspaceEnvelope,
  WorkspaceListQuery,
  WorkspaceMember,
  WorkspaceMetricsResponse,
  WorkspaceParams,
} from './workspaces.schemas.js';
import * as workspaces from './workspaces.service.js';

const tags = ['Workspace'];
const noContent = Type.Null({ description: 'Done.' });

export function workspaceRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/api/v1/workspaces/metrics', {
      schema: {
        tags,
        operationId: 'getWorkspacesMetrics',
        summary: 'Get Workspaces Metrics',
        description:
          'For each workspace the caller belongs to, counts of what it holds that the caller can see, and their totals. ' +
          'With `X-Workspace-Id`, that workspace only (404 when the caller is not a member).',
        response: { 200: WorkspaceMetricsResponse, 401: MessageResponse, 404: MessageResponse, 429: MessageResponse },
      },
      handler: async (request) => {
        const only = request.headers['x-workspace-id'] === undefined ? undefined : (await workspaceScopeOf(ctx, request)).workspaceId;
        return workspaces.workspaceMetrics(ctx, principalOf(request).user, only);
      },
    });

    app.get('/api/v1/workspaces', {
      schema: {
        tags,
        operationId: 'getWorkspaces',
        summary: 'Get Workspaces',
        description: 'Workspaces the caller belongs to. `search` matches name and slug; `filter[role]` narrows by the caller’s role.',
        querystring: WorkspaceListQuery,
        response: { 200: Page(Workspace), ...platformErrors },
      },
      handler: async (request) => {
        const { search, filter } = request.query;
        const page = pageRequestOf(request.query, workspaces.SORT_COLUMNS.workspaces, 'created_at');
        const result = await workspaces.listWorkspaces(ctx, principalOf(request).user, page, { search, role: filter?.role });
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.post('/api/v1/workspaces', {
      schema: {
        tags,
        operationId: 'createWorkspace',
        summary: 'Create a Workspace',
        description: 'The caller becomes its owner.',
        body: CreateWorkspaceBody,
        response: { 201: WorkspaceEnvelope, ...platformErrors },
      },
      handler: async (request, reply) => {
        const workspace = await workspaces.createWorkspace(ctx, principalOf(request).user, request.body);
        return reply.code(201).send({ data: workspace });
      },
    });

    app.get('/api/v1/workspaces/:workspace_uuid', {
      schema: {
        tags,
        operationId: 'retrieveWorkspace',
        summary: 'Retrieve a workspace',
        params: WorkspaceParams,
        response: { 200: WorkspaceEnvelope, ...platformErrors },
      },
      handler: async (request) => ({
        data: await workspaces.getWorkspace(ctx, principalOf(request).user, request.params.workspace_uuid),
      }),
    });

    app.put('/api/v1/workspaces/:workspace_uuid', {
      schema: {
        tags,
        operationId: 'updateWorkspace',
        summary: 'Update a Workspace',
        description: 'Owners only. Fields left out keep their value; `metadata` is replaced as a whole.',
        params: WorkspaceParams,
        body: UpdateWorkspaceBody,
        response: { 200: WorkspaceEnvelope, ...platformErrors },
      },
      handler: async (request) => ({
        data: await workspaces.updateWorkspace(ctx, principalOf(request).user, request.params.workspace_uuid, request.body),
      }),
    });

    app.delete('/api/v1/workspaces/:workspace_uuid', {
      schema: {
        tags,
        operationId: 'deleteWorkspace',
        summary: 'Delete a Workspace',
        description: 'Owners only; deletes everything in it. A user’s primary workspace cannot be deleted (409).',
        params: WorkspaceParams,
        response: { 204: noContent, 409: MessageResponse, ...platformErrors },
      },
      handler: async (request, reply) => {
        await workspaces.deleteWorkspace(ctx, principalOf(request).user, request.params.workspace_uuid);
        return reply.code(204).send(null);
      },
    });

    app.get('/api/v1/workspaces/:workspace_uuid/members', {
      schema: {
        tags,
        operationId: 'getWorkspaceMembers',
        summary: 'Get Workspace Members',
        params: WorkspaceParams,
        querystring: MemberListQuery,
        response: { 200: Page(WorkspaceMember), ...platformErrors },
      },
      handler: async (request) => {
        const { search, filter } = request.query;
        const page = pageRequestOf(request.query, workspaces.SORT_COLUMNS.members, 'created_at');
        const result = await workspaces.listMembers(ctx, principalOf(request).user, request.params.workspace_uuid, page, {
          search,
          role: filter?.role,
        });
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.post('/api/v1/workspaces/:workspace_uuid/members', {
      schema: {
        tags,
        operationId: 'addWorkspaceMember',
        summary: 'Add a Workspace Member',
        description: 'Owners and admins add an existing user by email or id; only owners add owners.',
        params: WorkspaceParams,
        body: AddMemberBody,
        response: { 201: MemberEnvelope, 409: MessageResponse, ...platformErrors },
      },
      handler: async (request, reply) => {
        const member = await workspaces.addMember(ctx, principalOf(request).user, request.params.workspace_uuid, request.body);
        return reply.code(201).send({ data: member });
      },
    });

    app.put('/api/v1/workspaces/:workspace_uuid/members/:user_id', {
      schema: {
        tags,
        operationId: 'updateWorkspaceMember',
        summary: 'Change a Member’s Role',
        description: 'Owners and admins; only owners grant or take away ownership, and the last owner stays one (409).',
        params: MemberParams,
        body: ChangeRoleBody,
        response: { 200: MemberEnvelope, 409: MessageResponse, ...platformErrors },
      },
      handler: async (request) => {
        const { workspace_uuid, user_id } = request.params;
        return { data: await workspaces.changeMemberRole(ctx, principalOf(request).user, workspace_uuid, user_id, request.body.role) };
      },
    });

    app.delete('/api/v1/workspaces/:workspace_uuid/members/:user_id', {
      schema: {
        tags,
        operationId: 'removeWorkspaceMember',
        summary: 'Remove a Workspace Member',
        description: 'Owners and admins remove members; anyone may leave. The last owner and a user’s own primary workspace stay (409).',
        params: MemberParams,
        response: { 204: noContent, 409: MessageResponse, ...platformErrors },
      },
      handler: async (request, reply) => {
        const { workspace_uuid, user_id } = request.params;
        await workspaces.removeMember(ctx, principalOf(request).user, workspace_uuid, user_id);
        return reply.code(204).send(null);
      },
    });
  };
}
