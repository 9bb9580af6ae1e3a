import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { pageRequestOf, pageResponse } from '../../http/pagination.js';
import { MessageResponse, Page, platformErrors } from '../../http/schemas.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { Share, ShareBody, ShareListEnvelope, ShareListQuery } from '../shares/shares.schemas.js';
import * as shareService from '../shares/shares.service.js';
import { agentLeaderboard } from './agents.leaderboard.js';
import { trainAgent } from './agents.training.js';
import {
  Agent,
  AgentEnvelope,
  AgentLeaderboard,
  AgentListQuery,
  AgentParams,
  AgentShareParams,
  CreateAgentBody,
  LEADERBOARD_FORMULA,
  LeaderboardQuery,
  MAX_DOCUMENT_CHARS,
  MAX_TRAINING_DOCUMENTS,
  MAX_TRAINING_EXAMPLES,
  TrainAgentBody,
  TrainAgentResponse,
  UpdateAgentBody,
} from './agents.schemas.js';
import * as agents from './agents.service.js';

const tags = ['Agent'];
const noContent = Type.Null({ description: 'Done.' });
/** Training bodies may carry 50 documents of 200,000 characters: more than the usual body limit. */
const TRAINING_BODY_LIMIT = 16 * 1024 * 1024;

export function agentRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/api/v1/agents', {
      schema: {
        tags,
        operationId: 'getAgents',
        summary: 'Get Agents',
        description:
          'Agents the caller can see. `filter[source]`: `workspace` (the acting workspace’s), `shared` (shared with the caller or the acting workspace from other workspaces), `public` (public agents of the whole instance); default `workspace` and `shared`. Also `filter[visibility]`, `filter[mine]`; `search` matches name and description.',
        querystring: AgentListQuery,
        response: { 200: Page(Agent), ...platformErrors },
      },
      handler: async (request) => {
        const { search, filter } = request.query;
        const scope = await workspaceScopeOf(ctx, request);
        const page = pageRequestOf(request.query, agents.SORT_COLUMNS, '-created_at');
        const result = await agents.listAgents(ctx, scope, page, {
          search,
          visibility: filter?.visibility,
          mine: filter?.mine,
          source: filter?.source,
        });
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.post('/api/v1/agents', {
      schema: {
        tags,
        operationId: 'createAgent',
        summary: 'Create an Agent',
        description:
          'Members and above. `llm_uuid` and `account_uuid` come together (a catalog model and an account of its provider the caller may use); `tools` are tool uuids of the workspace (at most 64, no repeats); `settings.max_steps` is at most ATHENA_AGENT_MAX_STEPS. Visibility defaults to `private`.',
        body: CreateAgentBody,
        response: { 201: AgentEnvelope, ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        return reply.code(201).send({ data: await agents.createAgent(ctx, scope, request.body) });
      },
    });

    // Declared before `/agents/:agent_uuid`; the router prefers the static segment anyway.
    app.get('/api/v1/agents/leaderboard', {
      schema: {
        tags,
        operationId: 'getAgentLeaderboard',
        summary: 'Get Agent Leaderboard',
        description: `Agents the caller can see, ranked by their finished runs and message feedback in the acting workspace over [from, to) (default: the last 30 days; at most 366 days). Agents without runs in the period are not listed. ${LEADERBOARD_FORMULA}.`,
        querystring: LeaderboardQuery,
        response: { 200: AgentLeaderboard, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const board = await agentLeaderboard(ctx, scope, request.query);
        const page = pageResponse(request, ctx.config.publicUrl, board.page);
        // Always a length-aware page: the board is ranked in memory.
        const meta = page.meta as Extract<typeof page.meta, { total: number }>;
        return { ...page, meta: { ...meta, period: board.period, sort: board.sort, formula: board.formula } };
      },
    });

    app.get('/api/v1/agents/:agent_uuid', {
      schema: {
        tags,
        operationId: 'retrieveAgent',
        summary: 'Retrieve an Agent',
        description: 'Any agent the caller can see; `permission` says what they may do with it.',
        params: AgentParams,
        response: { 200: AgentEnvelope, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        return { data: await agents.getAgent(ctx, scope, request.params.agent_uuid) };
      },
    });

    app.put('/api/v1/agents/:agent_uuid', {
      schema: {
        tags,
        operationId: 'updateAgent',
        summary: 'Update an Agent',
        description:
          'Needs `edit`. Fields left out keep their value; `memory` and `settings` merge key by key. Changing `visibility` is for those who may share the agent (its creator, admins and owners of its workspace).',
        params: AgentParams,
        body: UpdateAgentBody,
        response: { 200: AgentEnvelope, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        return { data: await agents.updateAgent(ctx, scope, request.params.agent_uuid, request.body) };
      },
    });

    app.delete('/api/v1/agents/:agent_uuid', {
      schema: {
        tags,
        operationId: 'deleteAgent',
        summary: 'Delete an Agent',
        description:
          'Its creator, or an admin or owner of its workspace. Its grants and memories go with it; threads and their messages stay, no longer linked to it.',
        params: AgentParams,
        response: { 204: noContent, ...platformErrors },
      },
      handler: async (request, reply) => {
        await agents.deleteAgent(ctx, await workspaceScopeOf(ctx, request), request.params.agent_uuid);
        return reply.code(204).send(null);
      },
    });

    app.post('/api/v1/agents/:agent_uuid/train', {
      bodyLimit: Math.max(ctx.config.bodyLimit, TRAINING_BODY_LIMIT),
      schema: {
        tags,
        operationId: 'trainAgent',
        summary: 'Train an Agent',
        description: `Needs \`edit\`. Stores examples (at most ${MAX_TRAINING_EXAMPLES}) and documents (at most ${MAX_TRAINING_DOCUMENTS}, ${MAX_DOCUMENT_CHARS.toLocaleString('en')} characters each) as the agent’s training memories, which every later run retrieves: an example as one memory (input, a blank line, output), a document split on paragraph and sentence boundaries into chunks of at most 1,500 characters. The body may be up to 16 MB, or ATHENA_BODY_LIMIT when larger.`,
        params: AgentParams,
        body: TrainAgentBody,
        response: { 201: TrainAgentResponse, 413: MessageResponse, ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        return reply.code(201).send({ data: await trainAgent(ctx, scope, request.params.agent_uuid, request.body) });
      },
    });

    app.post('/api/v1/agents/:agent_uuid/share', {
      schema: {
        tags,
        operationId: 'shareAgent',
        summary: 'Share Agent',
        description:
          'Its creator, or an admin or owner of its workspace. Grants `view`, `run` or `edit` to users (by email, wherever they act) and to workspaces the caller belongs to (their members acting there; viewers get at most `view`), and `view` or `run` to everyone with `public` (null removes the public grant). Granting a grantee again changes its permission. Answers every grant of the agent.',
        params: AgentParams,
        body: ShareBody,
        response: { 200: ShareListEnvelope, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        return { data: await agents.shareAgent(ctx, scope, request.params.agent_uuid, request.body) };
      },
    });

    app.get('/api/v1/agents/:agent_uuid/shares', {
      schema: {
        tags,
        operationId: 'getAgentShares',
        summary: 'Get Agent Shares',
        description: 'The agent’s grants, for those who may share it. `filter[grantee_type]`.',
        params: AgentParams,
        querystring: ShareListQuery,
        response: { 200: Page(Share), ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const page = pageRequestOf(request.query, shareService.SORT_COLUMNS, 'created_at');
        const result = await agents.listAgentShares(ctx, scope, request.params.agent_uuid, page, {
          granteeType: request.query.filter?.grantee_type,
        });
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.delete('/api/v1/agents/:agent_uuid/shares/:share_uuid', {
      schema: {
        tags,
        operationId: 'deleteAgentShare',
        summary: 'Revoke an Agent Share',
        description: 'Removes one grant, for those who may share the agent.',
        params: AgentShareParams,
        response: { 204: noContent, ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        await agents.revokeAgentShare(ctx, scope, request.params.agent_uuid, request.params.share_uuid);
        return reply.code(204).send(null);
      },
    });
  };
}
