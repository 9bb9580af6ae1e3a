import type { AppContext } from '../../context.js';
import { retryingFetch } from '../../ai/retrying-fetch.js';
import { languageModelOf } from '../../ai/model-factory.js';
import type { ModelTarget } from './model-target.js';

/** The fetch model calls go through: 429/5xx retried with jitter within the configured budget. */
export function modelFetch(ctx: AppContext, target: ModelTarget): typeof globalThis.fetch {
  const { maxRetries, retryBudgetMs } = ctx.config.model;
  return retryingFetch({
    maxRetries,
    budgetMs: retryBudgetMs,
    onRetry: (event) => ctx.log.warn({ provider: target.provider.slug, model: target.llm.model_id, ...event }, 'retrying a model call'),
  });
}

/** The AI SDK model for a resolved target, with Athena's retries. */
export function languageModelFor(ctx: AppContext, target: ModelTarget): ReturnType<typeof languageModelOf> {
  return languageModelOf({
    api: target.api,
    providerSlug: target.provider.slug,
    baseUrl: target.baseUrl,
    apiKey: target.apiKey,
    modelId: target.llm.model_id,
    fetch: modelFetch(ctx, target),
  });
}
