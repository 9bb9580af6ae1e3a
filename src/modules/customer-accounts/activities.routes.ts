import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { sendThenaList, thenaErrors, thenaPageOf } from '../../http/thena.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import {
  ActivityAttachmentParams,
  ActivityListQuery,
  ActivityParams,
  ActivityResponseDto,
  CreateActivityDto,
  UpdateActivityDto,
} from './activities.schemas.js';
import * as activities from './activities.service.js';

const tags = ['Accounts'];

export function activityRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/v1/accounts/activities', {
      schema: {
        tags,
        operationId: 'ActivitiesController_getActivities',
        summary: 'Gets activities',
        description:
          'The activities of `accountId` (of the workspace when omitted), newest first; `activityId` gives that one alone. The total is in `X-Total-Count`.',
        querystring: ActivityListQuery,
        response: { 200: Type.Array(ActivityResponseDto, { description: 'Operation successful' }), ...thenaErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        return sendThenaList(reply, await activities.listActivities(ctx, scope, request.query, thenaPageOf(request.query)));
      },
    });

    app.post('/v1/accounts/activities', {
      schema: {
        tags,
        operationId: 'ActivitiesController_createActivity',
        summary: 'Creates an activity',
        description: '`type` and `status` take a value’s id or text; omitted ones get the attribute’s default. Each of `attachmentUrls` becomes an attachment.',
        body: CreateActivityDto,
        response: { 201: { ...ActivityResponseDto, description: 'Created' }, ...thenaErrors },
      },
      handler: async (request, reply) => {
        const activity = await activities.createActivity(ctx, await workspaceScopeOf(ctx, request), request.body);
        return reply.code(201).send(activity);
      },
    });

    app.put('/v1/accounts/activities/:activityId', {
      schema: {
        tags,
        operationId: 'ActivitiesController_updateActivity',
        summary: 'Updates an activity',
        description: '`attachmentUrls` replaces the attachments; URLs already attached keep their ids.',
        params: ActivityParams,
        body: UpdateActivityDto,
        response: { 200: { ...ActivityResponseDto, description: 'Operation successful' }, ...thenaErrors },
      },
      handler: async (request) => activities.updateActivity(ctx, await workspaceScopeOf(ctx, request), request.params.activityId, request.body),
    });

    app.delete('/v1/accounts/activities/:activityId', {
      schema: {
        tags,
        operationId: 'ActivitiesController_deleteActivity',
        summary: 'Deletes an activity',
        description: 'Soft delete. Tasks linked to the activity stay, unlinked.',
        params: ActivityParams,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...thenaErrors },
      },
      handler: async (request, reply) => {
        await activities.deleteActivity(ctx, await workspaceScopeOf(ctx, request), request.params.activityId);
        return reply.code(204).send(null);
      },
    });

    app.delete('/v1/accounts/activities/:activityId/attachments/:attachmentId', {
      schema: {
        tags,
        operationId: 'ActivitiesController_removeActivityAttachment',
        summary: 'Removes an attachment from an activity',
        params: ActivityAttachmentParams,
        response: { 204: Type.Null({ description: 'Removed.' }), ...thenaErrors },
      },
      handler: async (request, reply) => {
        const { activityId, attachmentId } = request.params;
        await activities.removeActivityAttachment(ctx, await workspaceScopeOf(ctx, request), activityId, attachmentId);
        return reply.code(204).send(null);
      },
    });
  };
}
