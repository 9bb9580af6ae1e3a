import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  /** Retries after the first attempt (0: none). */
  maxRetries: number;
  /** Time all attempts and waits of one call may take together; no retry starts past it. */
  budgetMs: number;
  /** First backoff step; doubled per retry, then a random share of it is waited (full jitter). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Told about every retry (for logs and metrics); never sees request bodies or credentials. */
  onRetry?: (event: { attempt: number; status: number | null; delayMs: number; reason: string }) => void;
  /** Replaced in tests to make jitter deterministic. */
  random?: () => number;
}

type Fetch = typeof globalThis.fetch;

/** 429 (rate limited), 408 and 5xx: the provider may answer differently a moment later. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(response: Response): number | undefined {
  const header = response.headers.get('retry-after-ms') ?? undefined;
  if (header !== undefined && /^\d+(\.\d+)?$/.test(header)) return Number(header);
  const value = response.headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/**
 * A fetch for model providers that retries 429, 408 and 5xx answers and connection failures
 * with exponential backoff and full jitter, honouring Retry-After, within a bounded budget.
 * The retry happens before the SDK reads the body, so streamed calls are retried the same way;
 * once a response is handed on, nothing is retried (no output is ever produced twice). The last
 * failing response is returned as is, so the SDK reports the provider's own reason.
 */
export function retryingFetch(policy: RetryPolicy, base: Fetch = globalThis.fetch): Fetch {
  const baseDelay = policy.baseDelayMs ?? 500;
  const maxDelay = policy.maxDelayMs ?? 8_000;
  const random = policy.random ?? Math.random;
  return async (input, init) => {
    const started = Date.now();
    const signal = init?.signal ?? undefined;
    for (let attempt = 0; ; attempt++) {
      let response: Response | undefined;
      let failure: unknown;
      try {
        response = await base(input, init);
      } catch (error) {
        if (isAbort(error) || signal?.aborted) throw error;
        failure = error;
      }
      const retryable = response ? isRetryableStatus(response.status) : true;
      if (!retryable || attempt >= policy.maxRetries) {
        if (response) return response;
        throw failure;
      }
      const backoff = Math.min(maxDelay, baseDelay * 2 ** attempt) * random();
      const hinted = response ? retryAfterMs(response) : undefined;
      const delayMs = Math.round(hinted !== undefined ? Math.min(hinted, maxDelay * 4) : backoff);
      if (Date.now() - started + delayMs > policy.budgetMs) {
        if (response) return response;
        throw failure;
      }
      // The body of a response we drop must be released, or its connection stays busy.
      await response?.body?.cancel().catch(() => undefined);
      policy.onRetry?.({
        attempt: attempt + 1,
        status: response?.status ?? null,
        delayMs,
        reason: response ? `HTTP ${response.status}` : String((failure as { cause?: { code?: string } })?.cause?.code ?? failure),
      });
      await sleep(delayMs, undefined, signal ? { signal } : undefined);
    }
  };
}
