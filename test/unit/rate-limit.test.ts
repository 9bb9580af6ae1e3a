import { afterEach, describe, expect, it } from 'vitest';
import { FixedWindowLimiter } from '../../src/http/rate-limit.js';

describe('FixedWindowLimiter', () => {
  let limiter: FixedWindowLimiter;
  afterEach(() => limiter.close());

  it('allows max hits per key and window, then reports the seconds until reset', () => {
    limiter = new FixedWindowLimiter(2, 10_000);
    expect(limiter.hit('a', 0)).toEqual({ limit: 2, remaining: 1, resetInS: 10, exceeded: false });
    expect(limiter.hit('a', 1000)).toMatchObject({ remaining: 0, exceeded: false });
    expect(limiter.hit('a', 2500)).toEqual({ limit: 2, remaining: 0, resetInS: 8, exceeded: true });
    expect(limiter.hit('b', 2500)).toMatchObject({ remaining: 1, exceeded: false });
  });

  it('starts a fresh window once the old one ends', () => {
    limiter = new FixedWindowLimiter(1, 1000);
    limiter.hit('a', 0);
    expect(limiter.hit('a', 999).exceeded).toBe(true);
    expect(limiter.hit('a', 1000)).toMatchObject({ remaining: 0, exceeded: false });
  });

  it('never asks to wait less than a second', () => {
    limiter = new FixedWindowLimiter(1, 1000);
    limiter.hit('a', 0);
    expect(limiter.hit('a', 990).resetInS).toBe(1);
  });

  it('sweeps finished windows so memory follows active clients', () => {
    limiter = new FixedWindowLimiter(1, 1000);
    for (let i = 0; i < 100; i++) limiter.hit(`ip-${i}`, 0);
    limiter.sweep(1000);
    // A swept key starts over with its whole budget.
    expect(limiter.hit('ip-1', 1001)).toMatchObject({ remaining: 0, exceeded: false });
  });
});
