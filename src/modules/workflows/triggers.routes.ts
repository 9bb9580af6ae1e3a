import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import qs from 'qs';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { fromJson, toBool } from '../../db/values.js';
import { WEBHOOK_METHODS } from '../../engine/nodes/triggers.js';
import type { WebhookResponse } from '../../engine/node-type.js';
import { AppError } from '../../errors.js';
import { Envelope, MessageResponse, Uuid, platformErrors } from '../../http/schemas.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { findExecutionById } from '../executions/executions.repository.js';
import { ExecuteBody, WorkflowExecution } from '../executions/executions.schemas.js';
import { startAndWait, startExecution, toExecutionResource, type StartInput, type WaitResult } from '../executions/executions.service.js';
import type { ExecutionRow } from '../executions/executions.table.js';
import { findWorkflowById, resolveWorkflowAccessOrThrow, webhookSecretMatches, workflowSettingsOf } from './access.js';
import type { WorkflowRow } from './workflows.table.js';

const tags = ['Workflow'];
const WorkflowParams = Type.Object({ workflow_uuid: Uuid });
const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, description: 'A retried call with the same key gets the first call’s execution; the workflow does not run twice.' }),
  ),
});
const Accepted = Envelope(Type.Object({ execution_uuid: Uuid, status: Type.String() }));

const WEBHOOK_DESCRIPTION =
  'Starts the workflow from its webhook node whose `method` matches the call. Authenticated by the workflow’s webhook secret (`X-Webhook-Secret` header or `secret` query parameter), not by a user token; the workflow must be active (409 otherwise). The webhook node’s `respond` decides the answer: `immediately` (202 with the execution uuid), `last_node` (the last node’s output) or `respond_node` (a respond node’s status, headers and body). When the run takes longer than the workflow’s webhook timeout, or parks on a wait: 202 with the execution uuid. A failed run: 500 with the execution uuid. `Idempotency-Key` makes a retried call return the first call’s execution.';

const WebhookHeaders = Type.Object({
  ...IdempotencyHeaders.properties,
  'x-webhook-secret': Type.Optional(Type.String({ maxLength: 256, description: 'The workflow’s webhook secret (or the `secret` query parameter).' })),
});

/** Headers a webhook's trigger data never carries: credentials of the caller. */
const HIDDEN_HEADERS = new Set(['authorization', 'cookie', 'x-webhook-secret', 'x-api-key']);

/** Manual runs (`execute`) and the webhook trigger of a workflow. */
export function workflowTriggerRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post('/api/v1/workflows/:workflow_uuid/execute', {
      schema: {
        tags,
        operationId: 'executeWorkflow',
        summary: 'Execute a Workflow',
        description:
          'Runs the workflow with `input` as the trigger data (from the first manual trigger, or `trigger_node_id`), whether or not it is active. With `wait: true` the answer is the finished execution (200) when it ends within the workflow’s webhook timeout, else 202 with the execution as it is; without, 202 at once. `Idempotency-Key` makes a retried call return the first call’s execution.',
        params: WorkflowParams,
        headers: IdempotencyHeaders,
        body: ExecuteBody,
        response: { 200: Envelope(WorkflowExecution), 202: Envelope(WorkflowExecution), ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        const { workflow } = await resolveWorkflowAccessOrThrow(ctx.db.kysely, scope, request.params.workflow_uuid, 'run');
        const input: StartInput = {
          workflow,
          userId: scope.userId,
          trigger: 'manual',
          triggerNodeId: request.body.trigger_node_id,
          triggerData: request.body.input ?? null,
          idempotencyKey: request.headers['idempotency-key'] ? `execute:${scope.userId}:${request.headers['idempotency-key']}` : null,
        };
        if (!request.body.wait) {
          const started = await startExecution(ctx, input, { inline: false });
          return reply.code(202).send({ data: toExecutionResource(ctx, started.row, workflow.name) });
        }
        const timeoutMs = workflowSettingsOf(workflow, ctx.config).webhook_timeout_ms;
        const result = await startAndWait(ctx, input, { timeoutMs, untilResponse: false });
        const row = await latestRow(ctx, result);
        const done = row.status === 'succeeded' || row.status === 'failed' || row.status === 'canceled';
        return reply.code(done ? 200 : 202).send({ data: toExecutionResource(ctx, row, workflow.name) });
      },
    });

    // Webhook calls carry any body: JSON, form, text or bytes. Parsers live in this scope only.
    await app.register(async (scoped) => {
      scoped.addContentTypeParser(['application/x-www-form-urlencoded'], { parseAs: 'string' }, (_request, body, done) => {
        done(null, qs.parse(body as string, { depth: 5, arrayLimit: 200, parameterLimit: 1000 }));
      });
      scoped.addContentTypeParser(['text/plain', 'text/*', 'application/xml'], { parseAs: 'string' }, (_request, body, done) => done(null, body));
      scoped.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, (body as Buffer).toString('base64')));

      // One route per method, so each has its own operation in /openapi.json.
      for (const method of WEBHOOK_METHODS) {
        scoped.route({
          method,
          url: '/api/v1/workflows/:workflow_uuid/webhook',
          // HEAD is a method of its own here, not GET's shadow.
          exposeHeadRoute: false,
          config: { auth: 'none', rateLimit: false },
          schema: {
            tags,
            operationId: `triggerWorkflowWebhook${method.charAt(0)}${method.slice(1).toLowerCase()}`,
            summary: method === 'POST' ? 'Trigger a webhook' : `Trigger a webhook (${method})`,
            description: WEBHOOK_DESCRIPTION,
            params: WorkflowParams,
            headers: WebhookHeaders,
            response: {
              200: Type.Unknown({ description: 'Whatever the workflow answers.' }),
              202: Accepted,
              401: MessageResponse,
              405: MessageResponse,
              409: MessageResponse,
              500: Type.Object({ message: Type.String(), execution_uuid: Uuid }),
            },
          },
          handler: (request, reply) => handleWebhook(ctx, request as WebhookRequest, reply),
        });
      }
    });
  };
}

type WebhookRequest = FastifyRequest<{ Params: { workflow_uuid: string }; Querystring: Record<string, unknown>; Headers: Record<string, string | undefined> }>;

async function handleWebhook(ctx: AppContext, request: WebhookRequest, reply: FastifyReply) {
  const query = { ...(request.query ?? {}) };
  const presented = request.headers['x-webhook-secret'] ?? (typeof query.secret === 'string' ? query.secret : undefined);
  delete query.secret;
  const workflow = await findWorkflowById(ctx.db.kysely, request.params.workflow_uuid);
  // Unknown workflow and wrong secret answer alike: the caller learns nothing without the secret.
  if (!workflow || !presented || !webhookSecretMatches(workflow, presented)) throw new AppError('UNAUTHENTICATED');
  if (!toBool(workflow.is_active)) throw new AppError('CONFLICT', 'The workflow is not active.');
  const node = webhookNodeFor(workflow, request.method);
  if (!node) {
    return reply.code(405).send({ message: `The workflow has no webhook node for ${request.method}.` });
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && !HIDDEN_HEADERS.has(name)) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  const key = request.headers['idempotency-key'];
  const input: StartInput = {
    workflow,
    userId: workflow.user_id,
    trigger: 'webhook',
    triggerNodeId: node.id,
    triggerData: { body: request.body ?? null, query, headers, method: request.method },
    idempotencyKey: key ? `webhook:${key}` : null,
  };
  if (node.respond === 'immediately') {
    const started = await startExecution(ctx, input, { inline: false });
    return reply.code(202).send({ data: { execution_uuid: started.row.id, status: started.row.status } });
  }
  const timeoutMs = workflowSettingsOf(workflow, ctx.config).webhook_timeout_ms;
  const result = await startAndWait(ctx, input, { timeoutMs, untilResponse: node.respond === 'respond_node' });
  if (result.kind === 'responded') return sendResponse(reply, result.response);
  if (result.kind === 'timeout') return reply.code(202).send({ data: { execution_uuid: result.row.id, status: 'running' } });
  const outcome = result.outcome;
  if (outcome) {
    if (outcome.status === 'succeeded') {
      return outcome.response && node.respond === 'respond_node' ? sendResponse(reply, outcome.response) : sendBody(reply, 200, outcome.output);
    }
    if (outcome.status === 'failed') return reply.code(500).send({ message: 'The workflow execution failed.', execution_uuid: result.row.id });
    return reply.code(202).send({ data: { execution_uuid: result.row.id, status: outcome.status === 'waiting' ? 'waiting' : result.row.status } });
  }
  // Ran in another process: the stored row tells how it ended.
  const row = result.row;
  if (row.status === 'succeeded') {
    const stored = row.response === null ? null : fromJson<WebhookResponse>(row.response);
    if (stored && node.respond === 'respond_node') return sendResponse(reply, stored);
    return sendBody(reply, 200, toExecutionResource(ctx, row).output);
  }
  if (row.status === 'failed') return reply.code(500).send({ message: 'The workflow execution failed.', execution_uuid: row.id });
  return reply.code(202).send({ data: { execution_uuid: row.id, status: row.status } });
}

interface WebhookNode {
  id: string;
  respond: 'immediately' | 'last_node' | 'respond_node';
}

// Webhook nodes by workflow version and method: a hot webhook does not parse its graph per call.
const webhookNodes = new LRUCache<string, { node: WebhookNode | null }>({ max: 1000 });

function webhookNodeFor(workflow: WorkflowRow, method: string): WebhookNode | undefined {
  const key = `${workflow.id}:${workflow.version}:${method}`;
  let entry = webhookNodes.get(key);
  if (!entry) webhookNodes.set(key, (entry = { node: findWebhookNode(workflow, method) ?? null }));
  return entry.node ?? undefined;
}

function findWebhookNode(workflow: WorkflowRow, method: string): WebhookNode | undefined {
  const nodes = fromJson<Array<{ id: string; type: string; disabled?: boolean; parameters?: { method?: string; respond?: WebhookNode['respond'] } }>>(workflow.nodes);
  const node = nodes.find((candidate) => candidate.type === 'webhook' && !candidate.disabled && (candidate.parameters?.method ?? 'POST') === method);
  return node ? { id: node.id, respond: node.parameters?.respond ?? 'last_node' } : undefined;
}

function sendResponse(reply: FastifyReply, response: WebhookResponse) {
  for (const [name, value] of Object.entries(response.headers)) reply.header(name, value);
  return sendBody(reply, response.status, response.body);
}

function sendBody(reply: FastifyReply, status: number, body: unknown) {
  reply.code(status);
  if (typeof body === 'string') {
    if (!reply.hasHeader('content-type')) reply.type('text/plain; charset=utf-8');
    return reply.serializer((value: unknown) => value as string).send(body);
  }
  if (!reply.hasHeader('content-type')) reply.type('application/json; charset=utf-8');
  return reply.serializer(JSON.stringify).send(body === undefined ? null : body);
}

async function latestRow(ctx: AppContext, result: WaitResult): Promise<ExecutionRow> {
  return (await findExecutionById(ctx.db.kysely, result.row.id)) ?? result.row;
}
