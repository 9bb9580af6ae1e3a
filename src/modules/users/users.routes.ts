import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../context.js';
import { principalOf } from '../../http/auth.js';
import { MessageResponse, ValidationErrorResponse, platformErrors } from '../../http/schemas.js';
import { CreateUserBody, UpdateProfileBody, UserEnvelope } from './users.schemas.js';
import * as users from './users.service.js';

const tags = ['User'];

export function userRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/api/v1/user', {
      schema: {
        tags,
        operationId: 'getAuthenticatedUser',
        summary: 'Get Authenticated User using Multiplai App Access Token',
        description:
          'The authenticated user with their primary workspace. Accepts an app access token (JWT of the identity provider), an access token or a personal token.',
        response: { 200: UserEnvelope, 401: MessageResponse, 429: MessageResponse },
      },
      handler: async (request) => ({ data: await users.toOwnUserResource(ctx, principalOf(request)) }),
    });

    app.get('/api/v1/user/basic', {
      config: { auth: 'basic' },
      schema: {
        tags,
        operationId: 'getAuthenticatedUserBasic',
        summary: 'Get Authenticated User using Basic Token',
        description: 'The authenticated user, for `Authorization: Basic base64(email:api_token)` only.',
        security: [{ basicAuth: [] }],
        response: { 200: UserEnvelope, 401: MessageResponse, 429: MessageResponse },
      },
      handler: async (request) => ({ data: await users.toOwnUserResource(ctx, principalOf(request)) }),
    });

    app.put('/api/v1/user', {
      schema: {
        tags,
        operationId: 'updateAuthenticatedUser',
        summary: 'Update the Authenticated User',
        description: 'Changes the profile. A new email or password needs `current_password`; a new password ends other sessions.',
        body: UpdateProfileBody,
        response: { 200: UserEnvelope, 401: MessageResponse, 422: ValidationErrorResponse, 429: MessageResponse },
      },
      handler: async (request) => {
        const principal = principalOf(request);
        const user = await users.updateProfile(ctx, principal.user, principal.tokenId, request.body);
        return { data: await users.toUserResource(ctx.db.kysely, user) };
      },
    });

    app.post('/api/v1/users', {
      schema: {
        tags,
        operationId: 'createUser',
        summary: 'Create a User',
        description: 'Instance administrators create users (with a primary workspace), also when registration is closed.',
        body: CreateUserBody,
        response: { 201: UserEnvelope, ...platformErrors },
      },
      handler: async (request, reply) => {
        const admin = principalOf(request).user;
        const user = await users.createUserAsAdmin(ctx, admin, request.body);
        return reply.code(201).send({ data: await users.toUserResource(ctx.db.kysely, user, admin.id) });
      },
    });
  };
}
