import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { baseUrlOf, pageRequestOf, pageResponse } from '../../http/pagination.js';
import { MessageResponse, Page, platformErrors } from '../../http/schemas.js';
import { acceptsEventStream, clientGoneSignal, lastEventIdOf, sendEventStream } from '../../http/sse.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { AgentParams } from '../agents/agents.schemas.js';
import { PromptParams } from '../prompts/prompts.schemas.js';
import { ThreadEnvelope, ThreadParams } from '../threads/threads.schemas.js';
import { getThreadForRunOrThrow } from '../threads/threads.service.js';
import { prepareAgentRun, prepareThreadRun } from './agent-run.js';
import { generateAgent, generateThreadName } from './drafting.js';
import { preparePromptRunRequest } from './prompt-run.js';
import { Run } from './run-resource.js';
import {
  AgentRunBody,
  GenerateAgentBody,
  GeneratedAgentResponse,
  GenerateNameBody,
  PromptRunBody,
  RUN_STREAM_DESCRIPTION,
  RunEnvelope,
  RunHeaders,
  RunListQuery,
  RunParams,
  ThreadRunBody,
} from './runs.schemas.js';
import * as runs from './runs.service.js';

/** Errors a run may answer with besides the common ones. */
const runErrors = {
  ...platformErrors,
  409: MessageResponse,
  502: MessageResponse,
  504: MessageResponse,
};

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return (Array.isArray(value) ? value[0] : value)?.trim() || undefined;
}

export function runRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  /** The one way every run endpoint answers: JSON once the run is done, or its event stream. */
  async function answer(
    request: FastifyRequest,
    reply: FastifyReply,
    body: { stream?: boolean; multitask_strategy?: runs.MultitaskStrategy },
    prepare: (scope: Awaited<ReturnType<typeof workspaceScopeOf>>) => Promise<runs.PreparedRun>,
  ) {
    const scope = await workspaceScopeOf(ctx, request);
    const { stream: _stream, ...rest } = body as Record<string, unknown>;
    const result = await runs.startRun(
      ctx,
      {
        scope,
        idempotencyKey: headerOf(request, 'idempotency-key'),
        // Streaming or not, a retry is the same request.
        fingerprint: { route: request.routeOptions.url, params: request.params, body: rest },
        stream: body.stream ?? acceptsEventStream(request),
        lastEventId: lastEventIdOf(request),
        multitask: body.multitask_strategy ?? 'reject',
        clientGone: clientGoneSignal(reply),
        baseUrl: baseUrlOf(request, ctx.config.publicUrl),
      },
      () => prepare(scope),
    );
    if (result.kind === 'stream') return sendEventStream(reply, result.source, result.afterId);
    return reply.code(result.status).send(result.body);
  }

  return async (app) => {
    app.post('/api/v1/agents/:agent_uuid/run', {
      schema: {
        tags: ['Agent'],
        operationId: 'runAgent',
        summary: 'Run an Agent',
        description: `Sends \`input\` to the agent in a new thread, or in \`thread_uuid\`, and loops model and tool calls until it answers (at most its \`max_steps\`). Stores the user message, every tool call and result, and the reply. ${RUN_STREAM_DESCRIPTION}`,
        params: AgentParams,
        headers: RunHeaders,
        body: AgentRunBody,
        response: { 200: RunEnvelope, ...runErrors },
      },
      handler: (request, reply) =>
        answer(request, reply, request.body, (scope) =>
          prepareAgentRun(ctx, scope, request.params.agent_uuid, {
            input: request.body.input,
            thread_uuid: request.body.thread_uuid,
            variables: request.body.variables,
            attachments: request.body.attachments,
          }),
        ),
    });

    app.post('/api/v1/threads/:thread_uuid/run', {
      schema: {
        tags: ['Thread'],
        operationId: 'runThread',
        summary: 'Run a Thread',
        description: `Appends \`content\` (and \`attachments\`) as the user's message and gets the thread agent's reply; without content, the agent answers the conversation as it stands. ${RUN_STREAM_DESCRIPTION}`,
        params: ThreadParams,
        headers: RunHeaders,
        body: ThreadRunBody,
        response: { 200: RunEnvelope, ...runErrors },
      },
      handler: (request, reply) =>
        answer(request, reply, request.body, (scope) =>
          prepareThreadRun(ctx, scope, request.params.thread_uuid, {
            input: request.body.content,
            attachments: request.body.attachments,
            variables: request.body.variables,
          }),
        ),
    });

    app.post('/api/v1/prompts/:prompt_uuid/run', {
      schema: {
        tags: ['Prompt'],
        operationId: 'runPrompt',
        summary: 'Run a prompt',
        description: `Renders the prompt (its current version, or \`version\`) with \`variables\` and sends it to the model: the prompt's own, or \`llm_uuid\` with \`account_uuid\`. The run records the version, tokens and cost. ${RUN_STREAM_DESCRIPTION}`,
        params: PromptParams,
        headers: RunHeaders,
        body: PromptRunBody,
        response: { 200: RunEnvelope, ...runErrors },
      },
      handler: (request, reply) => {
        const { stream: _stream, ...input } = request.body;
        return answer(request, reply, request.body, (scope) => preparePromptRunRequest(ctx, scope, request.params.prompt_uuid, input));
      },
    });

    app.post('/api/v1/threads/:thread_uuid/cancel', {
      schema: {
        tags: ['Thread'],
        operationId: 'cancelThreadRun',
        summary: 'Cancel a Thread run',
        description: 'Stops the run in flight on the thread (in any process) and answers once it stopped; what it produced is kept, marked incomplete. 409 when nothing runs.',
        params: ThreadParams,
        response: { 200: RunEnvelope, 409: MessageResponse, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const thread = await getThreadForRunOrThrow(ctx, scope, request.params.thread_uuid.toLowerCase());
        return { data: await runs.cancelThreadRun(ctx, scope, thread.id, baseUrlOf(request, ctx.config.publicUrl)) };
      },
    });

    app.post('/api/v1/threads/:thread_uuid/generate-name', {
      schema: {
        tags: ['Thread'],
        operationId: 'generateThreadName',
        summary: 'Generate Thread Name',
        description: 'A model names the thread from its first messages: the thread agent’s model, or `llm_uuid` with `account_uuid`.',
        params: ThreadParams,
        body: GenerateNameBody,
        response: { 200: ThreadEnvelope, 502: MessageResponse, 504: MessageResponse, ...platformErrors },
      },
      handler: async (request) => ({
        data: await generateThreadName(ctx, await workspaceScopeOf(ctx, request), request.params.thread_uuid, request.body),
      }),
    });

    app.post('/api/v1/agents/generate', {
      schema: {
        tags: ['Agent'],
        operationId: 'generateAgent',
        summary: 'Generate an Agent',
        description:
          'A model drafts a complete agent from `description`: name, emoji, description, instructions and tools from the caller’s catalog. The draft is validated, then saved like a created agent (with `llm_uuid` and `account_uuid` as its model).',
        body: GenerateAgentBody,
        response: { 201: GeneratedAgentResponse, 502: MessageResponse, 504: MessageResponse, ...platformErrors },
      },
      handler: async (request, reply) => {
        const result = await generateAgent(ctx, await workspaceScopeOf(ctx, request), request.body);
        return reply.code(201).send({
          data: result.agent,
          meta: { run_uuid: result.runId, suggested_tools: result.suggestedTools, ignored_tools: result.ignoredTools },
        });
      },
    });

    app.get('/api/v1/runs', {
      schema: {
        tags: ['Run'],
        operationId: 'getRuns',
        summary: 'Get Runs',
        description: 'The caller’s runs in the workspace with their tokens, cost and latency. Filters: `filter[kind]`, `filter[status]`, `filter[agent]`, `filter[thread]`, `filter[prompt]`.',
        querystring: RunListQuery,
        response: { 200: Page(Run), ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const page = pageRequestOf(request.query, runs.SORT_COLUMNS, '-created_at');
        const filter = request.query.filter ?? {};
        const result = await runs.listRuns(ctx, scope, page, {
          kind: filter.kind,
          status: filter.status,
          agentId: filter.agent,
          threadId: filter.thread,
          promptId: filter.prompt,
        }, baseUrlOf(request, ctx.config.publicUrl));
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.get('/api/v1/runs/:run_uuid', {
      schema: {
        tags: ['Run'],
        operationId: 'retrieveRun',
        summary: 'Retrieve a Run',
        params: RunParams,
        response: { 200: RunEnvelope, ...platformErrors },
      },
      handler: async (request) => ({
        data: await runs.getRun(ctx, await workspaceScopeOf(ctx, request), request.params.run_uuid, baseUrlOf(request, ctx.config.publicUrl)),
      }),
    });

    app.get('/api/v1/runs/:run_uuid/events', {
      schema: {
        tags: ['Run'],
        operationId: 'streamRunEvents',
        summary: 'Resume a Run’s event stream',
        description: `The run's Server-Sent Events after \`Last-Event-ID\`: live while it runs (which also keeps a run whose first client left from being stopped), rebuilt from what was stored once it ended. ${RUN_STREAM_DESCRIPTION}`,
        params: RunParams,
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 20 })) }),
        response: { 200: Type.String({ description: 'text/event-stream' }), ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        const source = await runs.runEvents(ctx, scope, request.params.run_uuid, baseUrlOf(request, ctx.config.publicUrl));
        return sendEventStream(reply, source, lastEventIdOf(request));
      },
    });
  };
}
