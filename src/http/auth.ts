import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { authenticateBasic, authenticateBearer, type Principal } from '../modules/auth/auth.service.js';
import type { RateLimits } from './rate-limit.js';
import { surfaceOf } from './surface.js';

/** How a route authenticates: any credential (default), Basic only, or none (public). */
export type AuthMode = 'required' | 'basic' | 'none';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
    /** false: not counted against the per-IP budget (health checks, metrics scrapes). */
    rateLimit?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function authenticate(ctx: AppContext, request: FastifyRequest, mode: AuthMode): Promise<Principal | undefined> {
  const authorization = headerValue(request.headers.authorization)?.trim();
  const space = authorization?.indexOf(' ') ?? -1;
  const scheme = space > 0 ? authorization!.slice(0, space).toLowerCase() : undefined;
  const credentials = space > 0 ? authorization!.slice(space + 1).trim() : '';
  if (mode === 'basic') return scheme === 'basic' ? authenticateBasic(ctx, credentials) : undefined;
  if (scheme === 'bearer') return authenticateBearer(ctx, credentials);
  if (scheme === 'basic') return authenticateBasic(ctx, credentials);
  const apiKey = headerValue(request.headers['x-api-key'])?.trim();
  if (apiKey) return authenticateBearer(ctx, apiKey);
  return undefined;
}

/** Every route under the two API prefixes is protected unless it opts out. */
function isApiPath(url: string): boolean {
  return url.startsWith('/api/') || surfaceOf(url) === 'thena';
}

/**
 * The guard every request passes before its body is read: the per-IP budget, then
 * authentication, then the principal's budget. API routes are protected unless they say
 * `config: { auth: 'none' }`, so a forgotten setting fails closed. One hook rather than three:
 * this runs on every request.
 */
export function registerRequestGuard(app: FastifyInstance, ctx: AppContext, limits: RateLimits, lifecycle: { closing: boolean }): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request, reply) => {
    // A server draining for shutdown takes no new work; the client retries elsewhere.
    if (lifecycle.closing) {
      reply.header('connection', 'close');
      throw new AppError('SERVICE_UNAVAILABLE');
    }
    const config = request.routeOptions.config;
    if (config.rateLimit !== false) limits.perIp(request, reply);
    if (request.is404) return;
    const mode = config.auth ?? (isApiPath(request.url) ? 'required' : 'none');
    if (mode === 'none') return;
    const principal = await authenticate(ctx, request, mode);
    if (!principal) throw new AppError('UNAUTHENTICATED');
    request.principal = principal;
    limits.perPrincipal(request, reply);
  });
}

/** The authenticated principal of a protected route. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('UNAUTHENTICATED');
  return request.principal;
}
