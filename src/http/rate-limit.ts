import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

type Limiter = (request: FastifyRequest) => Promise<
  { isAllowed: true; key: string } | { isAllowed: false; max: number; remaining: number; ttlInSeconds: number; isExceeded: boolean }
>;

async function enforce(limiter: Limiter, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const result = await limiter(request);
  if (result.isAllowed) return;
  reply.header('x-ratelimit-limit', result.max);
  reply.header('x-ratelimit-remaining', result.remaining);
  if (result.isExceeded) throw new AppError('RATE_LIMITED', undefined, { retryAfter: result.ttlInSeconds });
}

export interface RateLimits {
  /** Counts a request against its principal's budget (called once the request is authenticated). */
  perPrincipal(request: FastifyRequest, reply: FastifyReply): Promise<void>;
}

/**
 * Two budgets: every request counts against its client IP (before anything else runs, so a
 * flood of bad tokens is cheap to refuse), and every authenticated request against its token.
 * Routes opt out with `config: { rateLimit: false }` (health checks, metrics scrapes).
 */
export async function registerRateLimits(app: FastifyInstance, config: Config): Promise<RateLimits> {
  await app.register(rateLimit, { global: false, timeWindow: config.rateLimit.windowMs });
  const perIp = app.createRateLimit({
    max: config.rateLimit.perIp,
    timeWindow: config.rateLimit.windowMs,
    keyGenerator: (request) => `ip:${request.ip}`,
  }) as Limiter;
  const perPrincipal = app.createRateLimit({
    max: config.rateLimit.perToken,
    timeWindow: config.rateLimit.windowMs,
    keyGenerator: (request) => {
      const principal = request.principal;
      return principal?.tokenId ? `token:${principal.tokenId}` : `user:${principal?.user.id ?? request.ip}`;
    },
  }) as Limiter;

  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.rateLimit === false) return;
    await enforce(perIp, request, reply);
  });
  return { perPrincipal: (request, reply) => enforce(perPrincipal, request, reply) };
}
