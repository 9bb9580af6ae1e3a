import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../context.js';
import { platformErrors } from '../../http/schemas.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import {
  AgentMetricsEnvelope,
  AgentMetricsQuery,
  ConversationMetricsQuery,
  MessageMetricsEnvelope,
  ThreadMetricsEnvelope,
  WorkflowExecutionMetricsEnvelope,
  WorkflowMetricsEnvelope,
  WorkflowMetricsQuery,
} from './metrics.schemas.js';
import * as metrics from './metrics.service.js';

const tags = ['Metrics'];
const RANGE = 'Buckets of `interval` aligned to `timezone` over [from, to) (default: daily over the last 30 days, UTC); every bucket is present, zeros included.';
const VISIBLE = 'Only what the caller may see: private agents, workflows and threads of other members are not counted.';

export function metricsRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/api/v1/metrics/agents', {
      schema: {
        tags,
        operationId: 'getAgentsMetrics',
        summary: 'Get Agents Metrics',
        description: `Agents created, their finished runs by outcome, tokens, cost and message feedback. ${RANGE} ${VISIBLE}`,
        querystring: AgentMetricsQuery,
        response: { 200: AgentMetricsEnvelope, ...platformErrors },
      },
      handler: async (request) => ({ data: await metrics.agentMetrics(ctx, await workspaceScopeOf(ctx, request), request.query) }),
    });

    app.get('/api/v1/metrics/workflows', {
      schema: {
        tags,
        operationId: 'getWorkflowsMetrics',
        summary: 'Get Workflows Metrics',
        description: `Workflows created and their executions by outcome. ${RANGE} ${VISIBLE}`,
        querystring: WorkflowMetricsQuery,
        response: { 200: WorkflowMetricsEnvelope, ...platformErrors },
      },
      handler: async (request) => ({ data: await metrics.workflowMetrics(ctx, await workspaceScopeOf(ctx, request), request.query) }),
    });

    app.get('/api/v1/metrics/threads', {
      schema: {
        tags,
        operationId: 'getThreadsMetrics',
        summary: 'Get Threads Metrics',
        description: `Threads started and messages written in them. ${RANGE} ${VISIBLE}`,
        querystring: ConversationMetricsQuery,
        response: { 200: ThreadMetricsEnvelope, ...platformErrors },
      },
      handler: async (request) => ({ data: await metrics.threadMetrics(ctx, await workspaceScopeOf(ctx, request), request.query) }),
    });

    app.get('/api/v1/metrics/messages', {
      schema: {
        tags,
        operationId: 'getMessagesMetrics',
        summary: 'Get Messages Metrics',
        description: `Messages by role, with input and output tokens and cost. ${RANGE} ${VISIBLE}`,
        querystring: ConversationMetricsQuery,
        response: { 200: MessageMetricsEnvelope, ...platformErrors },
      },
      handler: async (request) => ({ data: await metrics.messageMetrics(ctx, await workspaceScopeOf(ctx, request), request.query) }),
    });

    app.get('/api/v1/metrics/workflow-executions', {
      schema: {
        tags,
        operationId: 'getWorkflowExecutionsMetrics',
        summary: 'Get Workflow Executions Metrics',
        description: `Executions by status and trigger with duration percentiles (p50, p95); queued, running and waiting ones are counted live. ${RANGE} ${VISIBLE}`,
        querystring: WorkflowMetricsQuery,
        response: { 200: WorkflowExecutionMetricsEnvelope, ...platformErrors },
      },
      handler: async (request) => ({ data: await metrics.workflowExecutionMetrics(ctx, await workspaceScopeOf(ctx, request), request.query) }),
    });
  };
}
