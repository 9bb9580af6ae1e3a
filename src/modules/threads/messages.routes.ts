import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { baseUrlOf, pageRequestOf, pageResponse } from '../../http/pagination.js';
import { Page, platformErrors } from '../../http/schemas.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { CreateMessageBody, Message, MessageEnvelope, MessageListQuery, MessageParams, UpdateMessageBody } from './messages.schemas.js';
import * as messages from './messages.service.js';
import { ThreadParams } from './threads.schemas.js';

const tags = ['Message'];
const noContent = Type.Null({ description: 'Done.' });

export function messageRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/api/v1/threads/:thread_uuid/messages', {
      schema: {
        tags,
        operationId: 'getMessages',
        summary: 'Get Messages',
        description:
          'The messages of a thread the caller may read, in conversation order (`sequence`; `sort=-sequence` for newest first), with tool calls, tool results, attachments and usage. `filter[role]`; `search` matches part of the content.',
        params: ThreadParams,
        querystring: MessageListQuery,
        response: { 200: Page(Message), ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const page = pageRequestOf(request.query, messages.SORT_COLUMNS, 'sequence');
        const result = await messages.listMessages(ctx, scope, request.params.thread_uuid.toLowerCase(), page, {
          role: request.query.filter?.role,
          search: request.query.search,
        }, baseUrlOf(request, ctx.config.publicUrl));
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.post('/api/v1/threads/:thread_uuid/messages', {
      schema: {
        tags,
        operationId: 'createMessage',
        summary: 'Create a Message',
        description:
          'Appends a message to the caller’s own thread without calling a model (`POST /api/v1/threads/{thread_uuid}/run` gets a reply). `role` is `user` (default), `assistant` or `system`; `attachments` are media uuids of the workspace.',
        params: ThreadParams,
        body: CreateMessageBody,
        response: { 201: MessageEnvelope, ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        return reply.code(201).send({ data: await messages.createMessage(ctx, scope, request.params.thread_uuid.toLowerCase(), request.body, baseUrlOf(request, ctx.config.publicUrl)) });
      },
    });

    app.get('/api/v1/threads/:thread_uuid/messages/:message_uuid', {
      schema: {
        tags,
        operationId: 'retrieveMessage',
        summary: 'Retrieve a Message',
        params: MessageParams,
        response: { 200: MessageEnvelope, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const { thread_uuid, message_uuid } = request.params;
        return { data: await messages.getMessage(ctx, scope, thread_uuid.toLowerCase(), message_uuid.toLowerCase(), baseUrlOf(request, ctx.config.publicUrl)) };
      },
    });

    app.put('/api/v1/threads/:thread_uuid/messages/:message_uuid', {
      schema: {
        tags,
        operationId: 'updateMessage',
        summary: 'Update a Message',
        description:
          '`content` and `metadata`: the thread’s owner, not on tool messages. `feedback` (`up`, `down`, or null to take it back) and `feedback_comment`: any member who can read the thread, on assistant messages only; the agent leaderboard counts it.',
        params: MessageParams,
        body: UpdateMessageBody,
        response: { 200: MessageEnvelope, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const { thread_uuid, message_uuid } = request.params;
        return { data: await messages.updateMessage(ctx, scope, thread_uuid.toLowerCase(), message_uuid.toLowerCase(), request.body, baseUrlOf(request, ctx.config.publicUrl)) };
      },
    });

    app.delete('/api/v1/threads/:thread_uuid/messages/:message_uuid', {
      schema: {
        tags,
        operationId: 'deleteMessage',
        summary: 'Delete a Message',
        description: 'The thread’s owner only. The thread’s `message_count` and `last_message_at` follow; sequences of the other messages do not change.',
        params: MessageParams,
        response: { 204: noContent, ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        const { thread_uuid, message_uuid } = request.params;
        await messages.deleteMessage(ctx, scope, thread_uuid.toLowerCase(), message_uuid.toLowerCase());
        return reply.code(204).send(null);
      },
    });
  };
}
