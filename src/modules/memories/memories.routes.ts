import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { principalOf } from '../../http/auth.js';
import { pageRequestOf, pageResponse } from '../../http/pagination.js';
import { MessageResponse, Page, platformErrors } from '../../http/schemas.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { getAiSettings, updateAiSettings } from './ai-settings.service.js';
import {
  CreateMemoryBody,
  MemoryEnvelope,
  MemoryListItem,
  MemoryListQuery,
  MemoryParams,
  UpdateMemoryBody,
  UpdateWorkspaceAiSettingsBody,
  WorkspaceAiSettingsEnvelope,
  WorkspaceParams,
} from './memories.schemas.js';
import * as memories from './memories.service.js';

const tags = ['Memory'];
const noContent = Type.Null({ description: 'Done.' });

export function memoryRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/api/v1/memories', {
      schema: {
        tags,
        operationId: 'getMemories',
        summary: 'Get Memories',
        description:
          'The caller’s memories in the workspace and the agent-wide ones of agents they can see. `filter[agent]`, `filter[thread]`, `filter[type]`, `filter[source]`. `search` is full-text (words are stemmed, any of them matches) and ranks by relevance (`score`, `sort=-score` by default when searching).',
        querystring: MemoryListQuery,
        response: { 200: Page(MemoryListItem), ...platformErrors },
      },
      handler: async (request) => {
        const { search, filter } = request.query;
        const scope = await workspaceScopeOf(ctx, request);
        const searching = search !== undefined && search.trim() !== '';
        const page = pageRequestOf(request.query, memories.SORT_COLUMNS, searching ? '-score' : '-created_at');
        const result = await memories.listMemories(ctx, scope, page, {
          search,
          agentId: filter?.agent,
          threadId: filter?.thread,
          type: filter?.type,
          source: filter?.source,
        });
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.post('/api/v1/memories', {
      schema: {
        tags,
        operationId: 'createMemory',
        summary: 'Create a Memory',
        description:
          'A memory of the caller (`source: api`), optionally for an agent and a thread (a thread’s agent is used when `agent_uuid` is left out). Embedded when the workspace has an embedding model.',
        body: CreateMemoryBody,
        response: { 201: MemoryEnvelope, ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        return reply.code(201).send({ data: await memories.createMemory(ctx, scope, request.body) });
      },
    });

    app.get('/api/v1/memories/:memory_uuid', {
      schema: {
        tags,
        operationId: 'retrieveMemory',
        summary: 'Retrieve a Memory',
        params: MemoryParams,
        response: { 200: MemoryEnvelope, ...platformErrors },
      },
      handler: async (request) => ({ data: await memories.getMemory(ctx, await workspaceScopeOf(ctx, request), request.params.memory_uuid) }),
    });

    app.put('/api/v1/memories/:memory_uuid', {
      schema: {
        tags,
        operationId: 'updateMemory',
        summary: 'Update a Memory',
        description:
          'Its user; for an agent’s own memories, the agent’s creator or a workspace admin. New content is embedded again.',
        params: MemoryParams,
        body: UpdateMemoryBody,
        response: { 200: MemoryEnvelope, ...platformErrors },
      },
      handler: async (request) => ({
        data: await memories.updateMemory(ctx, await workspaceScopeOf(ctx, request), request.params.memory_uuid, request.body),
      }),
    });

    app.delete('/api/v1/memories/:memory_uuid', {
      schema: {
        tags,
        operationId: 'deleteMemory',
        summary: 'Delete a Memory',
        description: 'Who may change a memory may delete it.',
        params: MemoryParams,
        response: { 204: noContent, ...platformErrors },
      },
      handler: async (request, reply) => {
        await memories.deleteMemory(ctx, await workspaceScopeOf(ctx, request), request.params.memory_uuid);
        return reply.code(204).send(null);
      },
    });

    app.get('/api/v1/workspaces/:workspace_uuid/ai-settings', {
      schema: {
        tags,
        operationId: 'retrieveWorkspaceAiSettings',
        summary: 'Retrieve the AI Settings of a Workspace',
        description: 'The embedding model memories are embedded with (members).',
        params: WorkspaceParams,
        response: { 200: WorkspaceAiSettingsEnvelope, ...platformErrors },
      },
      handler: async (request) => ({ data: await getAiSettings(ctx, principalOf(request).user.id, request.params.workspace_uuid) }),
    });

    app.put('/api/v1/workspaces/:workspace_uuid/ai-settings', {
      schema: {
        tags,
        operationId: 'updateWorkspaceAiSettings',
        summary: 'Update the AI Settings of a Workspace',
        description:
          'Admins and owners. `embedding_account_uuid`: an account the caller may use, of a language-model provider with an embeddings API (OpenAI-compatible `/embeddings`, Gemini, Mistral, Ollama); `embedding_model`: the model id there. Checked with one embedding call. Both null: embeddings off. Memories stored earlier are not embedded again; retrieval compares vectors of the current model only.',
        params: WorkspaceParams,
        body: UpdateWorkspaceAiSettingsBody,
        response: { 200: WorkspaceAiSettingsEnvelope, 502: MessageResponse, ...platformErrors },
      },
      handler: async (request) => ({
        data: await updateAiSettings(ctx, principalOf(request).user.id, request.params.workspace_uuid, request.body),
      }),
    });
  };
}
