import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { pageRequestOf, pageResponse } from '../../http/pagination.js';
import { MessageResponse, Page, platformErrors } from '../../http/schemas.js';
import { principalOf } from '../../http/auth.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { knownResourcesOf } from './viewer.js';
import {
  CreateProviderBody,
  Provider,
  ProviderEnvelope,
  ProviderListQuery,
  ProviderParams,
  UpdateProviderBody,
} from './providers.schemas.js';
import * as providers from './providers.service.js';

const tags = ['Provider'];
const noContent = Type.Null({ description: 'Done.' });

export function providerRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/api/v1/providers', {
      schema: {
        tags,
        operationId: 'getProviders',
        summary: 'Get Providers',
        description:
          'The official catalog and the workspace’s custom providers. `type` (or `filter[type]`) narrows by kind; `search` matches name, slug and description.',
        querystring: ProviderListQuery,
        response: { 200: Page(Provider), ...platformErrors },
      },
      handler: async (request) => {
        const { search, filter, type } = request.query;
        const scope = await workspaceScopeOf(ctx, request);
        const page = pageRequestOf(request.query, providers.SORT_COLUMNS, 'name');
        const known = await knownResourcesOf(ctx, principalOf(request), scope);
        const result = await providers.listProviders(
          ctx,
          scope,
          page,
          { search, type: type ?? filter?.type, isOfficial: filter?.is_official, strategy: filter?.authentication_strategy },
          known,
        );
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.get('/api/v1/providers/:provider_uuid', {
      schema: {
        tags,
        operationId: 'retrieveProvider',
        summary: 'Retrieve a Provider',
        params: ProviderParams,
        response: { 200: ProviderEnvelope, ...platformErrors },
      },
      handler: async (request) => ({
        data: await providers.getProvider(ctx, await workspaceScopeOf(ctx, request), request.params.provider_uuid),
      }),
    });

    app.post('/api/v1/providers', {
      schema: {
        tags,
        operationId: 'createProvider',
        summary: 'Create a Provider',
        description: 'A custom provider of the workspace. `authentication_config.oauth2.client_secret` is write-only and encrypted at rest.',
        body: CreateProviderBody,
        response: { 201: ProviderEnvelope, ...platformErrors },
      },
      handler: async (request, reply) => {
        const provider = await providers.createProvider(ctx, await workspaceScopeOf(ctx, request), request.body);
        return reply.code(201).send({ data: provider });
      },
    });

    app.put('/api/v1/providers/:provider_uuid', {
      schema: {
        tags,
        operationId: 'updateProvider',
        summary: 'Update a Provider',
        description: 'Custom providers only (official ones are read-only: 403); their creator or a workspace admin. `********` keeps the stored client secret.',
        params: ProviderParams,
        body: UpdateProviderBody,
        response: { 200: ProviderEnvelope, ...platformErrors },
      },
      handler: async (request) => ({
        data: await providers.updateProvider(ctx, await workspaceScopeOf(ctx, request), request.params.provider_uuid, request.body),
      }),
    });

    app.delete('/api/v1/providers/:provider_uuid', {
      schema: {
        tags,
        operationId: 'deleteProvider',
        summary: 'Delete a Provider',
        description: 'Custom providers only; one that still has connected accounts is kept (409).',
        params: ProviderParams,
        response: { 204: noContent, 409: MessageResponse, ...platformErrors },
      },
      handler: async (request, reply) => {
        await providers.deleteProvider(ctx, await workspaceScopeOf(ctx, request), request.params.provider_uuid);
        return reply.code(204).send(null);
      },
    });
  };
}
