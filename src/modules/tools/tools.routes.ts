import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { pageRequestOf, pageResponse } from '../../http/pagination.js';
import { MessageResponse, Page, platformErrors } from '../../http/schemas.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { closeMcpClients } from './mcp-client.js';
import { CreateToolBody, Tool, ToolEnvelope, ToolListQuery, ToolParams, UpdateToolBody } from './tools.schemas.js';
import * as tools from './tools.service.js';

const tags = ['Tool'];
const noContent = Type.Null({ description: 'Done.' });

export function toolRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    // Pooled MCP connections end with the app.
    app.addHook('onClose', async () => closeMcpClients(ctx));

    app.get('/api/v1/tools', {
      schema: {
        tags,
        operationId: 'getTools',
        summary: 'Get Tools',
        description:
          'Built-in tools first, then the HTTP tools of providers the caller sees and the MCP tools of accounts the caller may use. Filter with `filter[kind]` (`builtin`, `http`, `mcp`), `filter[provider]`, `filter[account]`, `filter[group]`; `search` matches name, display name and description.',
        querystring: ToolListQuery,
        response: { 200: Page(Tool), ...platformErrors },
      },
      handler: async (request) => {
        const { search, filter } = request.query;
        const scope = await workspaceScopeOf(ctx, request);
        const page = pageRequestOf(request.query, tools.SORT_COLUMNS, 'name');
        const result = await tools.listTools(ctx, scope, page, {
          search,
          kind: filter?.kind,
          providerId: filter?.provider,
          accountId: filter?.account,
          group: filter?.group,
        });
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.get('/api/v1/tools/:tool_uuid', {
      schema: {
        tags,
        operationId: 'retrieveTool',
        summary: 'Retrieve a Tool',
        params: ToolParams,
        response: { 200: ToolEnvelope, ...platformErrors },
      },
      handler: async (request) => ({ data: await tools.getTool(ctx, await workspaceScopeOf(ctx, request), request.params.tool_uuid) }),
    });

    app.post('/api/v1/tools', {
      schema: {
        tags,
        operationId: 'createTool',
        summary: 'Create a Tool',
        description:
          'An HTTP tool on a custom provider of type `tool` of the workspace, by whoever may edit that provider. `http` holds LiquidJS templates over the model’s `input`; they are checked here.',
        body: CreateToolBody,
        response: { 201: ToolEnvelope, ...platformErrors },
      },
      handler: async (request, reply) => {
        const tool = await tools.createTool(ctx, await workspaceScopeOf(ctx, request), request.body);
        return reply.code(201).send({ data: tool });
      },
    });

    app.put('/api/v1/tools/:tool_uuid', {
      schema: {
        tags,
        operationId: 'updateTool',
        summary: 'Update a Tool',
        description: 'HTTP tools: any field. MCP tools: only `is_enabled` (by the owner of their account). Built-in tools are read-only.',
        params: ToolParams,
        body: UpdateToolBody,
        response: { 200: ToolEnvelope, ...platformErrors },
      },
      handler: async (request) => ({
        data: await tools.updateTool(ctx, await workspaceScopeOf(ctx, request), request.params.tool_uuid, request.body),
      }),
    });

    app.delete('/api/v1/tools/:tool_uuid', {
      schema: {
        tags,
        operationId: 'deleteTool',
        summary: 'Delete a Tool',
        description: 'HTTP tools only; an MCP tool comes from its server (409: disable it instead).',
        params: ToolParams,
        response: { 204: noContent, 409: MessageResponse, ...platformErrors },
      },
      handler: async (request, reply) => {
        await tools.deleteTool(ctx, await workspaceScopeOf(ctx, request), request.params.tool_uuid);
        return reply.code(204).send(null);
      },
    });
  };
}
