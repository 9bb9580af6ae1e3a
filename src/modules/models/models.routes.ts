import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../context.js';
import { pageRequestOf, pageResponse } from '../../http/pagination.js';
import { Page, platformErrors } from '../../http/schemas.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { LargeLanguageModel, ModelEnvelope, ModelListQuery, ModelParams } from './models.schemas.js';
import * as models from './models.service.js';

const tags = ['Large Language Model'];

export function modelRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/api/v1/large-language-models', {
      schema: {
        tags,
        operationId: 'getLargeLanguageModels',
        summary: 'Get Large Language Models',
        description:
          'The official catalog and the models that servers of the caller’s usable accounts listed on verification. Filter by `provider` (uuid or slug) and `capability` (`tools`, `vision`, `json`, `streaming`), directly or as `filter[...]`.',
        querystring: ModelListQuery,
        response: { 200: Page(LargeLanguageModel), ...platformErrors },
      },
      handler: async (request) => {
        const { search, filter, provider, capability } = request.query;
        const scope = await workspaceScopeOf(ctx, request);
        const page = pageRequestOf(request.query, models.SORT_COLUMNS, 'name');
        const result = await models.listModels(ctx, scope, page, {
          search,
          provider: provider ?? filter?.provider,
          capability: capability ?? filter?.capability,
          accountId: filter?.account,
          isOfficial: filter?.is_official,
        });
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.get('/api/v1/large-language-models/:llm_uuid', {
      schema: {
        tags,
        operationId: 'retrieveLargeLanguageModel',
        summary: 'Retrieve a Large Language Model',
        params: ModelParams,
        response: { 200: ModelEnvelope, ...platformErrors },
      },
      handler: async (request) => ({ data: await models.getModel(ctx, await workspaceScopeOf(ctx, request), request.params.llm_uuid) }),
    });
  };
}
