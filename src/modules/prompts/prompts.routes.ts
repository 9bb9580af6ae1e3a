import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { pageRequestOf, pageResponse } from '../../http/pagination.js';
import { MessageResponse, Page, platformErrors } from '../../http/schemas.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import {
  CreatePromptBody,
  Prompt,
  PromptEnvelope,
  PromptListQuery,
  PromptParams,
  PromptVersion,
  PromptVersionEnvelope,
  PromptVersionListQuery,
  PromptVersionParams,
  UpdatePromptBody,
} from './prompts.schemas.js';
import * as prompts from './prompts.service.js';

const tags = ['Prompt'];
const noContent = Type.Null({ description: 'Done.' });

export function promptRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/api/v1/prompts', {
      schema: {
        tags,
        operationId: 'getPrompts',
        summary: 'Get Prompts',
        description:
          'Prompts of the workspace the caller sees: every `workspace` and `public` one, and their own `private` ones. `search` matches name and description; `filter[visibility]`, `filter[mine]`.',
        querystring: PromptListQuery,
        response: { 200: Page(Prompt), ...platformErrors },
      },
      handler: async (request) => {
        const { search, filter } = request.query;
        const scope = await workspaceScopeOf(ctx, request);
        const page = pageRequestOf(request.query, prompts.SORT_COLUMNS, '-created_at');
        const result = await prompts.listPrompts(ctx, scope, page, { search, visibility: filter?.visibility, mine: filter?.mine });
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.post('/api/v1/prompts', {
      schema: {
        tags,
        operationId: 'createPrompt',
        summary: 'Create a Prompt',
        description:
          'A LiquidJS template with its variables (declared, or inferred from the template when left out), a default model and settings. A template that does not parse, loads files (`include`, `render`, `layout`) or uses an undeclared variable is a 422 on `content`. Creates version 1.',
        body: CreatePromptBody,
        response: { 201: PromptEnvelope, ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        return reply.code(201).send({ data: await prompts.createPrompt(ctx, scope, request.body) });
      },
    });

    app.get('/api/v1/prompts/:prompt_uuid', {
      schema: {
        tags,
        operationId: 'retrievePrompt',
        summary: 'Retrieve a Prompt',
        description: 'A prompt the caller sees in the workspace, or a public prompt of any workspace.',
        params: PromptParams,
        response: { 200: PromptEnvelope, ...platformErrors },
      },
      handler: async (request) => ({ data: await prompts.getPrompt(ctx, await workspaceScopeOf(ctx, request), request.params.prompt_uuid) }),
    });

    app.put('/api/v1/prompts/:prompt_uuid', {
      schema: {
        tags,
        operationId: 'updatePrompt',
        summary: 'Update a Prompt',
        description:
          'Its creator, or an admin or owner of the workspace. Fields left out keep their value; `variables: null` goes back to inferring them. A change to content, variables, settings, `llm_uuid` or `account_uuid` adds a version; name, description, visibility and photo do not. Answers 409 if a concurrent update took the version number.',
        params: PromptParams,
        body: UpdatePromptBody,
        response: { 200: PromptEnvelope, 409: MessageResponse, ...platformErrors },
      },
      handler: async (request) => ({
        data: await prompts.updatePrompt(ctx, await workspaceScopeOf(ctx, request), request.params.prompt_uuid, request.body),
      }),
    });

    app.delete('/api/v1/prompts/:prompt_uuid', {
      schema: {
        tags,
        operationId: 'deletePrompt',
        summary: 'Delete a Prompt',
        description: 'Its creator, or an admin or owner of the workspace. Its versions are deleted with it; runs keep their record.',
        params: PromptParams,
        response: { 204: noContent, ...platformErrors },
      },
      handler: async (request, reply) => {
        await prompts.deletePrompt(ctx, await workspaceScopeOf(ctx, request), request.params.prompt_uuid);
        return reply.code(204).send(null);
      },
    });

    app.get('/api/v1/prompts/:prompt_uuid/versions', {
      schema: {
        tags,
        operationId: 'getPromptVersions',
        summary: 'Get Prompt Versions',
        description: 'Every version of the prompt, newest first (`sort=version` for oldest first).',
        params: PromptParams,
        querystring: PromptVersionListQuery,
        response: { 200: Page(PromptVersion), ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const page = pageRequestOf(request.query, prompts.VERSION_SORT_COLUMNS, '-version');
        const result = await prompts.listPromptVersions(ctx, scope, request.params.prompt_uuid, page);
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.get('/api/v1/prompts/:prompt_uuid/versions/:version', {
      schema: {
        tags,
        operationId: 'retrievePromptVersion',
        summary: 'Retrieve a Prompt Version',
        description: 'One version by number; 404 for a number the prompt never had.',
        params: PromptVersionParams,
        response: { 200: PromptVersionEnvelope, ...platformErrors },
      },
      handler: async (request) => ({
        data: await prompts.getPromptVersion(ctx, await workspaceScopeOf(ctx, request), request.params.prompt_uuid, request.params.version),
      }),
    });
  };
}
