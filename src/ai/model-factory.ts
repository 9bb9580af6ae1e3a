import type { EmbeddingModel, LanguageModel } from 'ai';

// The SDK prints its warnings to the console; Athena's logs are structured (pino) instead.
(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;

/** Wire protocols of model vendors (the provider's `metadata.api`). */
export type ModelApi = 'openai' | 'anthropic' | 'gemini' | 'ollama';

/** What is needed to talk to one model of one vendor. Built from a catalog entry and an account. */
export interface ModelSpec {
  api: ModelApi;
  /** The provider's slug: `openai`, `mistral`, `groq` get their vendor's own SDK provider. */
  providerSlug: string;
  baseUrl: string;
  apiKey: string | null;
  modelId: string;
  /** Retries, timeouts: see retryingFetch. */
  fetch?: typeof globalThis.fetch;
}

/**
 * The AI SDK provider for a spec. OpenAI's own API goes through `@ai-sdk/openai` (Chat
 * Completions, which every OpenAI-compatible server speaks too), Anthropic, Gemini, Mistral and
 * Groq through theirs, and every other OpenAI-compatible server (vLLM, LM Studio, DeepSeek,
 * OpenRouter, Ollama's `/v1`) through `@ai-sdk/openai-compatible`. Each package is loaded the
 * first time a model of its vendor is called.
 */
async function providerOf(spec: ModelSpec) {
  const apiKey = spec.apiKey ?? undefined;
  const common = { baseURL: spec.baseUrl, fetch: spec.fetch };
  switch (spec.api) {
    case 'anthropic': {
      const { createAnthropic } = await import('@ai-sdk/anthropic');
      const anthropic = createAnthropic({ ...common, apiKey: apiKey ?? '' });
      return { chat: (id: string) => anthropic(id), embedding: undefined };
    }
    case 'gemini': {
      const { createGoogleGenerativeAI } = await import('@ai-sdk/google');
      const google = createGoogleGenerativeAI({ ...common, apiKey: apiKey ?? '' });
      return { chat: (id: string) => google(id), embedding: (id: string) => google.textEmbeddingModel(id) };
    }
    case 'ollama': {
      const { createOpenAICompatible } = await import('@ai-sdk/openai-compatible');
      const ollama = createOpenAICompatible({ ...common, baseURL: `${spec.baseUrl}/v1`, name: 'ollama', includeUsage: true });
      return { chat: (id: string) => ollama.chatModel(id), embedding: (id: string) => ollama.textEmbeddingModel(id) };
    }
    case 'openai': {
      if (spec.providerSlug === 'openai') {
        const { createOpenAI } = await import('@ai-sdk/openai');
        const openai = createOpenAI({ ...common, apiKey: apiKey ?? '' });
        return { chat: (id: string) => openai.chat(id), embedding: (id: string) => openai.textEmbeddingModel(id) };
      }
      if (spec.providerSlug === 'mistral') {
        const { createMistral } = await import('@ai-sdk/mistral');
        const mistral = createMistral({ ...common, apiKey: apiKey ?? '' });
        return { chat: (id: string) => mistral(id), embedding: (id: string) => mistral.textEmbeddingModel(id) };
      }
      if (spec.providerSlug === 'groq') {
        const { createGroq } = await import('@ai-sdk/groq');
        const groq = createGroq({ ...common, apiKey: apiKey ?? '' });
        return { chat: (id: string) => groq(id), embedding: undefined };
      }
      const { createOpenAICompatible } = await import('@ai-sdk/openai-compatible');
      const compatible = createOpenAICompatible({
        ...common,
        name: spec.providerSlug,
        ...(apiKey ? { apiKey } : {}),
        includeUsage: true,
      });
      return { chat: (id: string) => compatible.chatModel(id), embedding: (id: string) => compatible.textEmbeddingModel(id) };
    }
  }
}

/** The language model of a spec, ready for generateText/streamText. */
export async function languageModelOf(spec: ModelSpec): Promise<Exclude<LanguageModel, string>> {
  return (await providerOf(spec)).chat(spec.modelId) as Exclude<LanguageModel, string>;
}

/** Thrown when a vendor has no embeddings API Athena can call. */
export class EmbeddingsUnsupportedError extends Error {
  constructor(readonly providerSlug: string) {
    super(`The ${providerSlug} provider offers no embedding models.`);
    this.name = 'EmbeddingsUnsupportedError';
  }
}

/** The embedding model of a spec (OpenAI-compatible `/embeddings`, Gemini, Mistral). */
export async function embeddingModelOf(spec: ModelSpec): Promise<Exclude<EmbeddingModel, string>> {
  const embedding = (await providerOf(spec)).embedding;
  if (!embedding) throw new EmbeddingsUnsupportedError(spec.providerSlug);
  return embedding(spec.modelId) as Exclude<EmbeddingModel, string>;
}
