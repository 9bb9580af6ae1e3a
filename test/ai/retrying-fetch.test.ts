import { describe, expect, it } from 'vitest';
import { isRetryableStatus, retryingFetch } from '../../src/ai/retrying-fetch.js';

/** A fetch that answers the given statuses in turn and records when it was called. */
function scripted(statuses: Array<number | Error>, headers: Record<string, string> = {}) {
  const calls: number[] = [];
  const fetch = (async () => {
    calls.push(Date.now());
    const next = statuses[Math.min(calls.length - 1, statuses.length - 1)]!;
    if (next instanceof Error) throw next;
    return new Response(JSON.stringify({ status: next }), { status: next, headers });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

describe('retryingFetch', () => {
  it('retries 429, 408 and 5xx, never other 4xx', () => {
    expect([429, 408, 500, 502, 503, 529].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 422].some(isRetryableStatus)).toBe(false);
  });

  it('retries until an answer that is not retryable, within maxRetries', async () => {
    const base = scripted([503, 429, 200]);
    const delays: number[] = [];
    const fetch = retryingFetch({ maxRetries: 5, budgetMs: 10_000, baseDelayMs: 1, onRetry: (e) => delays.push(e.delayMs) }, base.fetch);
    const response = await fetch('http://model.test/v1/chat/completions', { method: 'POST', body: '{}' });
    expect(response.status).toBe(200);
    expect(base.calls).toHaveLength(3);
    expect(delays).toHaveLength(2);
  });

  it('hands the last failing answer back once the retries are used up', async () => {
    const base = scripted([500]);
    const response = await retryingFetch({ maxRetries: 2, budgetMs: 10_000, baseDelayMs: 1 }, base.fetch)('http://model.test');
    expect(response.status).toBe(500);
    expect(base.calls).toHaveLength(3);
  });

  it('waits a random share of an exponential step (full jitter)', async () => {
    const delays: number[] = [];
    const randoms = [0.5, 0.25, 1];
    const fetch = retryingFetch(
      { maxRetries: 3, budgetMs: 60_000, baseDelayMs: 8, maxDelayMs: 1_000, random: () => randoms.shift()!, onRetry: (e) => delays.push(e.delayMs) },
      scripted([503]).fetch,
    );
    await fetch('http://model.test');
    expect(delays).toEqual([4, 4, 32]);
  });

  it('honours Retry-After, and stops retrying when the wait would pass the budget', async () => {
    const base = scripted([429], { 'retry-after': '5' });
    const started = Date.now();
    const response = await retryingFetch({ maxRetries: 5, budgetMs: 1_000, baseDelayMs: 1 }, base.fetch)('http://model.test');
    expect(response.status).toBe(429);
    expect(base.calls).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('retries refused connections and rethrows once out of retries', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    const base = scripted([refused]);
    await expect(retryingFetch({ maxRetries: 1, budgetMs: 5_000, baseDelayMs: 1 }, base.fetch)('http://model.test')).rejects.toBe(refused);
    expect(base.calls).toHaveLength(2);
  });

  it('does not retry once the caller aborted', async () => {
    const controller = new AbortController();
    const base = scripted([503]);
    const fetch = retryingFetch({ maxRetries: 5, budgetMs: 10_000, baseDelayMs: 200, random: () => 1, onRetry: () => controller.abort() }, base.fetch);
    await expect(fetch('http://model.test', { signal: controller.signal })).rejects.toThrow();
    expect(base.calls).toHaveLength(1);
  });
});
