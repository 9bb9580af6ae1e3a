import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { pageRequestOf, pageResponse } from '../../http/pagination.js';
import { MessageResponse, Page, platformErrors } from '../../http/schemas.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { CreateThreadBody, Thread, ThreadEnvelope, ThreadListQuery, ThreadParams, UpdateThreadBody } from './threads.schemas.js';
import * as threads from './threads.service.js';

const tags = ['Thread'];
const noContent = Type.Null({ description: 'Done.' });

export function threadRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/api/v1/threads', {
      schema: {
        tags,
        operationId: 'getThreads',
        summary: 'Get Threads',
        description:
          'Threads of the workspace the caller may read: their own and the workspace-visible ones. `filter[agent]` (uuid), `filter[visibility]`, `filter[mine]`; `search` matches the name. Sort `-updated_at` (default), `created_at`, `last_message_at` (threads without messages count from their creation).',
        querystring: ThreadListQuery,
        response: { 200: Page(Thread), ...platformErrors },
      },
      handler: async (request) => {
        const { search, filter } = request.query;
        const scope = await workspaceScopeOf(ctx, request);
        const page = pageRequestOf(request.query, threads.SORT_COLUMNS, '-updated_at');
        const result = await threads.listThreads(ctx, scope, page, {
          search,
          agentId: filter?.agent?.toLowerCase(),
          visibility: filter?.visibility,
          mine: filter?.mine,
        });
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.post('/api/v1/threads', {
      schema: {
        tags,
        operationId: 'createThread',
        summary: 'Create a Thread',
        description:
          'A conversation in the acting workspace, owned by the caller (members and above). `agent_uuid` must name an agent the caller may run (422 otherwise). `visibility` defaults to `private`.',
        body: CreateThreadBody,
        response: { 201: ThreadEnvelope, ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        return reply.code(201).send({ data: await threads.createThreadForCaller(ctx, scope, request.body) });
      },
    });

    app.get('/api/v1/threads/:thread_uuid', {
      schema: {
        tags,
        operationId: 'retrieveThread',
        summary: 'Retrieve a Thread',
        description: 'A thread the caller may read; a private thread of someone else answers 404.',
        params: ThreadParams,
        response: { 200: ThreadEnvelope, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        return { data: await threads.getThread(ctx, scope, request.params.thread_uuid.toLowerCase()) };
      },
    });

    app.put('/api/v1/threads/:thread_uuid', {
      schema: {
        tags,
        operationId: 'updateThread',
        summary: 'Update a Thread',
        description:
          'Its owner only (other readers get 403). `name`, `visibility`, `metadata` (replaced as a whole) and `agent_uuid` (an agent the caller may run, or null); fields left out keep their value.',
        params: ThreadParams,
        body: UpdateThreadBody,
        response: { 200: ThreadEnvelope, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        return { data: await threads.updateThread(ctx, scope, request.params.thread_uuid.toLowerCase(), request.body) };
      },
    });

    app.delete('/api/v1/threads/:thread_uuid', {
      schema: {
        tags,
        operationId: 'deleteThread',
        summary: 'Delete a Thread',
        description: 'Its owner, or an admin or owner of the workspace who can see it. Deletes its messages and runs; 409 while a run is in progress (cancel it first).',
        params: ThreadParams,
        response: { 204: noContent, 409: MessageResponse, ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        await threads.deleteThread(ctx, scope, request.params.thread_uuid.toLowerCase());
        return reply.code(204).send(null);
      },
    });
  };
}
