import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';

const tags = ['Operations'];
const Health = Type.Object({ status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]) });
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  checks: Type.Object({ database: Type.Union([Type.Literal('ok'), Type.Literal('error')]) }),
});

export function healthRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/health', {
      config: { auth: 'none', rateLimit: false },
      schema: {
        tags,
        operationId: 'health',
        summary: 'Liveness',
        description: 'Answers 200 once the server is listening (migrations done).',
        security: [],
        response: { 200: Health },
      },
      handler: async () => ({ status: 'ok' as const }),
    });

    app.get('/ready', {
      config: { auth: 'none', rateLimit: false },
      schema: {
        tags,
        operationId: 'ready',
        summary: 'Readiness',
        description: 'Also checks the database; 503 when it does not answer.',
        security: [],
        response: { 200: Readiness, 503: Readiness },
      },
      handler: async (request, reply) => {
        try {
          await ctx.db.ping();
          return { status: 'ok' as const, checks: { database: 'ok' as const } };
        } catch (error) {
          request.log.warn({ err: error }, 'readiness check: database unavailable');
          return reply.code(503).send({ status: 'unavailable' as const, checks: { database: 'error' as const } });
        }
      },
    });
  };
}
