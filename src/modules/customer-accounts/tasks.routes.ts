import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { sendThenaList, thenaErrors, thenaPageOf } from '../../http/thena.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { CreateTaskDto, TaskAttachmentParams, TaskListQuery, TaskParams, TaskResponseDto, UpdateTaskDto } from './tasks.schemas.js';
import * as tasks from './tasks.service.js';

const tags = ['Accounts'];

export function taskRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/v1/accounts/tasks', {
      schema: {
        tags,
        operationId: 'TasksController_getTasks',
        summary: 'Gets tasks',
        description:
          'The tasks of `accountId` (of the workspace when omitted), newest first, filtered by `assigneeId`, `status`, `priority`; `taskId` gives that one alone. The total is in `X-Total-Count`.',
        querystring: TaskListQuery,
        response: { 200: Type.Array(TaskResponseDto, { description: 'Operation successful' }), ...thenaErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        return sendThenaList(reply, await tasks.listTasks(ctx, scope, request.query, thenaPageOf(request.query)));
      },
    });

    app.post('/v1/accounts/tasks', {
      schema: {
        tags,
        operationId: 'TasksController_createTask',
        summary: 'Creates a task',
        description:
          '`type`, `status` and `priority` take a value’s id or text; omitted ones get the attribute’s default. `assigneeId` must be a workspace member, `activityId` an activity of the same account (400 otherwise).',
        body: CreateTaskDto,
        response: { 201: { ...TaskResponseDto, description: 'Created' }, ...thenaErrors },
      },
      handler: async (request, reply) => {
        const task = await tasks.createTask(ctx, await workspaceScopeOf(ctx, request), request.body);
        return reply.code(201).send(task);
      },
    });

    app.put('/v1/accounts/tasks/:taskId', {
      schema: {
        tags,
        operationId: 'TasksController_updateTask',
        summary: 'Updates a task',
        description: '`assigneeId`, `activityId` and `dueDate` take null to clear them. `attachmentUrls` replaces the attachments; URLs already attached keep their ids.',
        params: TaskParams,
        body: UpdateTaskDto,
        response: { 200: { ...TaskResponseDto, description: 'Operation successful' }, ...thenaErrors },
      },
      handler: async (request) => tasks.updateTask(ctx, await workspaceScopeOf(ctx, request), request.params.taskId, request.body),
    });

    app.delete('/v1/accounts/tasks/:taskId', {
      schema: {
        tags,
        operationId: 'TasksController_deleteTask',
        summary: 'Deletes a task',
        description: 'Soft delete.',
        params: TaskParams,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...thenaErrors },
      },
      handler: async (request, reply) => {
        await tasks.deleteTask(ctx, await workspaceScopeOf(ctx, request), request.params.taskId);
        return reply.code(204).send(null);
      },
    });

    app.delete('/v1/accounts/tasks/:taskId/attachments/:attachmentId', {
      schema: {
        tags,
        operationId: 'TasksController_removeTaskAttachment',
        summary: 'Removes an attachment from a task',
        params: TaskAttachmentParams,
        response: { 204: Type.Null({ description: 'Removed.' }), ...thenaErrors },
      },
      handler: async (request, reply) => {
        const { taskId, attachmentId } = request.params;
        await tasks.removeTaskAttachment(ctx, await workspaceScopeOf(ctx, request), taskId, attachmentId);
        return reply.code(204).send(null);
      },
    });
  };
}
