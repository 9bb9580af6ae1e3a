import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

export interface LimitResult {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetInS: number;
  exceeded: boolean;
}

/**
 * Fixed-window request counters in process memory: one Map lookup per request. Chosen over
 * @fastify/rate-limit, whose per-call promise, callbacks and route-option copies cost about
 * 17 µs a request here, a fifth of an authenticated request (docs/architecture.md).
 */
export class FixedWindowLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {
    // Finished windows are dropped once per window, so memory follows the active clients.
    this.sweeper = setInterval(() => this.sweep(Date.now()), windowMs);
    this.sweeper.unref();
  }

  hit(key: string, now: number): LimitResult {
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(key, window);
    }
    window.count += 1;
    return {
      limit: this.max,
      remaining: Math.max(0, this.max - window.count),
      resetInS: Math.max(1, Math.ceil((window.resetAt - now) / 1000)),
      exceeded: window.count > this.max,
    };
  }

  sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}

export interface RateLimits {
  /** Counts a request against its client IP's budget (before anything else runs). */
  perIp(request: FastifyRequest, reply: FastifyReply): void;
  /** Counts a request against its principal's budget (once the request is authenticated). */
  perPrincipal(request: FastifyRequest, reply: FastifyReply): void;
  close(): void;
}

function enforce(limiter: FixedWindowLimiter, key: string, reply: FastifyReply): void {
  const result = limiter.hit(key, Date.now());
  reply.header('x-ratelimit-limit', result.limit);
  reply.header('x-ratelimit-remaining', result.remaining);
  if (result.exceeded) throw new AppError('RATE_LIMITED', undefined, { retryAfter: result.resetInS });
}

/**
 * Two budgets: every request counts against its client IP (before authentication, so a flood
 * of bad tokens is cheap to refuse), and every authenticated request against its token (or
 * user, for identity-provider JWTs). The request guard (http/auth.ts) applies them; routes
 * opt out with `config: { rateLimit: false }`. An authenticated request shows its token's
 * budget in the X-RateLimit headers.
 */
export function createRateLimits(config: Config): RateLimits {
  const { perIp, perToken, windowMs } = config.rateLimit;
  const ipLimiter = new FixedWindowLimiter(perIp, windowMs);
  const principalLimiter = new FixedWindowLimiter(perToken, windowMs);
  return {
    perIp: (request, reply) => enforce(ipLimiter, request.ip, reply),
    perPrincipal: (request, reply) => {
      const principal = request.principal;
      const key = principal?.tokenId ?? `user:${principal?.user.id}`;
      enforce(principalLimiter, key, reply);
    },
    close: () => {
      ipLimiter.close();
      principalLimiter.close();
    },
  };
}
