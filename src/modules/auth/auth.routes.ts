import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { principalOf } from '../../http/auth.js';
import { pageRequestOf, pageResponse } from '../../http/pagination.js';
import { MessageResponse, Page, ValidationErrorResponse, platformErrors } from '../../http/schemas.js';
import { toUserResource } from '../users/users.service.js';
import {
  AccessTokenEnvelope,
  CreatePersonalTokenBody,
  NewPersonalAccessToken,
  PersonalAccessToken,
  SignInBody,
  SignUpBody,
  TokenListQuery,
  TokenParams,
} from './auth.schemas.js';
import * as auth from './auth.service.js';

const tags = ['Authentication'];

export function authRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    const withUser = async (session: auth.SessionToken) => ({
      data: { ...session, user: await toUserResource(ctx.db.kysely, session.user) },
    });

    app.post('/api/v1/auth/sign-in', {
      config: { auth: 'none' },
      schema: {
        tags,
        operationId: 'signIn',
        summary: 'Sign In',
        description: 'Exchanges email and password for an access token. Failed attempts are throttled per account and per IP.',
        security: [],
        body: SignInBody,
        response: { 200: AccessTokenEnvelope, 422: ValidationErrorResponse, 429: MessageResponse },
      },
      handler: async (request) => withUser(await auth.signIn(ctx, request.body, request.ip)),
    });

    app.post('/api/v1/auth/sign-up', {
      config: { auth: 'none' },
      schema: {
        tags,
        operationId: 'signUp',
        summary: 'Sign Up',
        description: 'Creates a user and their primary workspace when registration is open (ATHENA_REGISTRATION=open).',
        security: [],
        body: SignUpBody,
        response: { 201: AccessTokenEnvelope, 403: MessageResponse, 422: ValidationErrorResponse, 429: MessageResponse },
      },
      handler: async (request, reply) => {
        const session = await auth.signUp(ctx, request.body);
        return reply.code(201).send(await withUser(session));
      },
    });

    app.post('/api/v1/auth/logout', {
      schema: {
        tags,
        operationId: 'logout',
        summary: 'Logout',
        description: 'Revokes the access token the request was made with.',
        response: { 204: Type.Null({ description: 'Signed out.' }), 401: MessageResponse, 429: MessageResponse },
      },
      handler: async (request, reply) => {
        await auth.logout(ctx, principalOf(request));
        return reply.code(204).send(null);
      },
    });

    const tokenTags = ['User'];

    app.get('/api/v1/user/tokens', {
      schema: {
        tags: tokenTags,
        operationId: 'listPersonalAccessTokens',
        summary: 'Get Personal Access Tokens',
        description: 'Live personal API tokens of the authenticated user; secrets are never shown again. `search` matches the name.',
        querystring: TokenListQuery,
        response: { 200: Page(PersonalAccessToken), ...platformErrors },
      },
      handler: async (request) => {
        const page = pageRequestOf(request.query, auth.TOKEN_SORT_COLUMNS, '-created_at');
        const result = await auth.listPersonalTokens(ctx, principalOf(request).user, page, request.query.search);
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.post('/api/v1/user/tokens', {
      schema: {
        tags: tokenTags,
        operationId: 'createPersonalAccessToken',
        summary: 'Create a Personal Access Token',
        description: 'The response holds the token itself, once. It authenticates as `Bearer`, `x-api-key` or Basic with the email.',
        body: CreatePersonalTokenBody,
        response: { 201: Type.Object({ data: NewPersonalAccessToken }), ...platformErrors },
      },
      handler: async (request, reply) => {
        const token = await auth.createPersonalToken(ctx, principalOf(request).user, request.body);
        return reply.code(201).send({ data: token });
      },
    });

    app.delete('/api/v1/user/tokens/:token_uuid', {
      schema: {
        tags: tokenTags,
        operationId: 'revokePersonalAccessToken',
        summary: 'Revoke a Personal Access Token',
        params: TokenParams,
        response: { 204: Type.Null({ description: 'Revoked.' }), ...platformErrors },
      },
      handler: async (request, reply) => {
        await auth.revokePersonalToken(ctx, principalOf(request).user, request.params.token_uuid);
        return reply.code(204).send(null);
      },
    });
  };
}
