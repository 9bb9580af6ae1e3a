import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { probeQueue } from '../../jobs/queue-health.js';

const tags = ['Operations'];
const Health = Type.Object({ status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]) });
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  checks: Type.Object({
    database: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
    /** Scale mode only (REDIS_URL set): the Redis queue. */
    queue: Type.Optional(Type.Union([Type.Literal('ok'), Type.Literal('error')])),
  }),
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
        description: 'Also checks the database and, in scale mode, the Redis queue; 503 when one does not answer.',
        security: [],
        response: { 200: Readiness, 503: Readiness },
      },
      handler: async (request, reply) => {
        const [database, queue] = await Promise.all([
          ctx.db.ping().then(
            () => 'ok' as const,
            (error: unknown) => {
              request.log.warn({ err: error }, 'readiness check: database unavailable');
              return 'error' as const;
            },
          ),
          ctx.config.redisUrl
            ? probeQueue(ctx).then(
                () => 'ok' as const,
                (error: unknown) => {
                  request.log.warn({ err: error }, 'readiness check: Redis queue unavailable');
                  return 'error' as const;
                },
              )
            : undefined,
        ]);
        const checks = queue === undefined ? { database } : { database, queue };
        if (database === 'ok' && queue !== 'error') return { status: 'ok' as const, checks };
        return reply.code(503).send({ status: 'unavailable' as const, checks });
      },
    });
  };
}
