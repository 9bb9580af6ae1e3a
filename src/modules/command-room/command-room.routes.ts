import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { pageResponse } from '../../http/pagination.js';
import { Page, platformErrors } from '../../http/schemas.js';
import { lastEventIdIfSent, sendEventStream } from '../../http/sse.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { startFollowing } from './command-room.follow.js';
import { CommandRoomTask, CommandRoomTaskEnvelope, CreateTaskBody, StreamQuery, TaskListQuery, TaskParams, UpdateTaskBody } from './command-room.schemas.js';
import * as service from './command-room.service.js';
import { closeWithApp, commandRoomOf, connectCommandRoomRedis } from './command-room.stream.js';

const tags = ['Command Room Task'];
const noContent = Type.Null({ description: 'Done.' });
/** A stream client this far behind is cut off; it resumes from the table with Last-Event-ID. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** The command room board, its live stream, and (once per server) the runtime behind them. */
export function commandRoomRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    const runtime = commandRoomOf(ctx);
    await connectCommandRoomRedis(ctx, runtime);
    startFollowing(ctx, runtime);
    closeWithApp(app, runtime);

    app.get('/api/v1/command-room/tasks', {
      schema: {
        tags,
        operationId: 'getCommandRoomTasks',
        summary: 'Get Command Room Tasks',
        description:
          'The workspace’s board, in column order (`todo`, `in_progress`, `blocked`, `done`, `failed`, `canceled`) then by position. `filter[status]`, `filter[assignee_id]`, `filter[link_type]`; `search` matches title and description. Every member (viewers too) sees the whole board. The `X-Last-Event-Id` header names the newest board event before the board was read: open the stream with it to miss nothing.',
        querystring: TaskListQuery,
        response: { 200: Page(CommandRoomTask), ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        const { filter, search } = request.query;
        const result = await service.listTasks(
          ctx,
          scope,
          { page: request.query.page ?? 1, perPage: request.query.per_page ?? 15 },
          { search, status: filter?.status, assigneeId: filter?.assignee_id, linkType: filter?.link_type },
        );
        reply.header('x-last-event-id', String(result.lastEventId));
        return pageResponse(request, ctx.config.publicUrl, result.page);
      },
    });

    app.post('/api/v1/command-room/tasks', {
      schema: {
        tags,
        operationId: 'storeCommandRoomTask',
        summary: 'Store Command Room Task',
        description:
          'Members and above. `position` defaults to the end of the column and is clamped to it; the tasks after it move down one. `assignee_id` must be a member of the workspace; `link` an agent, thread, workflow or execution of the workspace that the caller can see (else 422 on `link.uuid`). Without `status`, a linked run already in progress decides it.',
        body: CreateTaskBody,
        response: { 201: CommandRoomTaskEnvelope, ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        return reply.code(201).send({ data: await service.createTask(ctx, scope, request.body) });
      },
    });

    app.get('/api/v1/command-room/tasks/:task_uuid', {
      schema: {
        tags,
        operationId: 'retrieveCommandRoomTask',
        summary: 'Retrieve a Command Room Task',
        params: TaskParams,
        response: { 200: CommandRoomTaskEnvelope, ...platformErrors },
      },
      handler: async (request) => ({ data: await service.getTask(ctx, await workspaceScopeOf(ctx, request), request.params.task_uuid) }),
    });

    app.put('/api/v1/command-room/tasks/:task_uuid', {
      schema: {
        tags,
        operationId: 'updateCommandRoomTask',
        summary: 'Update Command Room Task',
        description:
          'Members and above. Edits any field and/or moves the task: `status` to another column (at its end unless `position`), `position` within it (clamped); both columns stay 0..n-1. A new `link` is followed from now on; `link: null` stops following.',
        params: TaskParams,
        body: UpdateTaskBody,
        response: { 200: CommandRoomTaskEnvelope, ...platformErrors },
      },
      handler: async (request) => ({
        data: await service.updateTask(ctx, await workspaceScopeOf(ctx, request), request.params.task_uuid, request.body),
      }),
    });

    app.delete('/api/v1/command-room/tasks/:task_uuid', {
      schema: {
        tags,
        operationId: 'removeCommandRoomTask',
        summary: 'Remove Command Room Task',
        description: 'Members and above. The tasks after it in its column move up one.',
        params: TaskParams,
        response: { 204: noContent, ...platformErrors },
      },
      handler: async (request, reply) => {
        await service.deleteTask(ctx, await workspaceScopeOf(ctx, request), request.params.task_uuid);
        return reply.code(204).send(null);
      },
    });

    app.get('/api/v1/command-room/stream', {
      config: { rateLimit: false },
      schema: {
        tags,
        operationId: 'streamCommandRoom',
        summary: 'Stream Command Room Changes',
        description:
          'Server-Sent Events of the workspace’s board changes: `task.created`, `task.updated`, `task.moved` (data: the task) and `task.deleted` (data: `{uuid}`), each with its `id`. With `Last-Event-ID` (or `last_event_id`) the changes after it are replayed first, then live ones follow, in order; without, only changes from now on. When the id is no longer kept, a `reset` event (data `{last_event_id}`) says to reload the board. The stream stays open (a comment every 15 s keeps proxies from closing it) until the server ends it after about 15 minutes; the client then resumes with `Last-Event-ID`, which checks its access again.',
        querystring: StreamQuery,
        response: { 200: Type.String({ description: 'text/event-stream' }), ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        const afterId = lastEventIdIfSent(request);
        const source = runtime.source(scope.workspaceId, service.viewerOf(scope), afterId);
        return sendEventStream(reply, source, afterId ?? 0, { maxBufferedBytes: MAX_BUFFERED_BYTES });
      },
    });
  };
}
