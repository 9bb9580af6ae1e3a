import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const OFFICIAL_MODEL_PROVIDERS = ['anthropic', 'deepseek', 'google-gemini', 'groq', 'mistral', 'ollama', 'openai', 'openrouter'];

describe.each(DIALECTS)('model catalog on %s', (dialect) => {
  let t: TestApp;
  let user: SignedUp;

  beforeAll(async () => {
    t = await createTestApp(dialect);
    user = await t.signUp();
  });
  afterAll(() => t.close());

  it('ships models for every official model provider, with prices, limits and capabilities', async () => {
    const response = await t.request({ url: '/api/v1/large-language-models?per_page=100', token: user.token });

    expect(response.status).toBe(200);
    const models = response.body.data;
    expect(new Set(models.map((m: any) => m.provider.slug))).toEqual(new Set(OFFICIAL_MODEL_PROVIDERS));
    const mini = models.find((m: any) => m.model_id === 'gpt-4o-mini');
    expect(mini).toMatchObject({
      name: 'GPT-4o mini',
      context_window: 128_000,
      max_output_tokens: 16_384,
      input_price_per_million: 0.15,
      output_price_per_million: 0.6,
      capabilities: { tools: true, vision: true, json: true, streaming: true },
      is_official: true,
      account_uuid: null,
      provider: { slug: 'openai', user: null, metadata: { is_official: true } },
    });
    for (const model of models) {
      expect(model.context_window).toBeGreaterThan(0);
      expect(model.max_output_tokens).toBeGreaterThan(0);
      expect(typeof model.input_price_per_million).toBe('number');
    }
  });

  it('filters by provider (uuid or slug) and by capability', async () => {
    const bySlug = await t.request({ url: '/api/v1/large-language-models?provider=anthropic', token: user.token });
    expect(bySlug.body.data.length).toBeGreaterThan(0);
    expect(bySlug.body.data.every((m: any) => m.provider.slug === 'anthropic')).toBe(true);

    const providerId = bySlug.body.data[0].provider.uuid;
    const byUuid = await t.request({ url: `/api/v1/large-language-models?filter[provider]=${providerId}`, token: user.token });
    expect(byUuid.body.meta.total).toBe(bySlug.body.meta.total);

    const vision = await t.request({ url: '/api/v1/large-language-models?capability=vision&per_page=100', token: user.token });
    expect(vision.body.data.length).toBeGreaterThan(0);
    expect(vision.body.data.every((m: any) => m.capabilities.vision)).toBe(true);
    expect(vision.body.data.map((m: any) => m.model_id)).not.toContain('deepseek-reasoner');

    const noTools = await t.request({ url: '/api/v1/large-language-models?filter[capability]=tools&provider=deepseek', token: user.token });
    expect(noTools.body.data.map((m: any) => m.model_id)).toEqual(['deepseek-chat']);

    const bad = await t.request({ url: '/api/v1/large-language-models?capability=telepathy', token: user.token });
    expect(bad.status).toBe(422);
  });

  it('sorts by price and searches by name or id', async () => {
    const cheapest = await t.request({ url: '/api/v1/large-language-models?sort=-input_price_per_million&per_page=1', token: user.token });
    expect(cheapest.body.data[0].model_id).toBe('claude-opus-4-20250514');

    const search = await t.request({ url: '/api/v1/large-language-models?search=gemini', token: user.token });
    expect(search.body.data.length).toBe(3);
  });

  it('retrieves one model, and 404 for an unknown or malformed id', async () => {
    const list = await t.request({ url: '/api/v1/large-language-models?provider=groq', token: user.token });
    const id = list.body.data[0].uuid;

    const one = await t.request({ url: `/api/v1/large-language-models/${id}`, token: user.token });
    const unknown = await t.request({ url: '/api/v1/large-language-models/0198ffff-0000-7000-8000-000000000000', token: user.token });
    const malformed = await t.request({ url: '/api/v1/large-language-models/nope', token: user.token });

    expect(one.status).toBe(200);
    expect(one.body.data).toEqual(list.body.data[0]);
    expect(unknown.status).toBe(404);
    expect(malformed.status).toBe(404);
  });

  it('pages with cursors as well', async () => {
    const first = await t.request({ url: '/api/v1/large-language-models?cursor=&per_page=10', token: user.token });
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(10);
    expect(first.body.meta.next_cursor).toEqual(expect.any(String));
    const second = await t.request({ url: `/api/v1/large-language-models?cursor=${first.body.meta.next_cursor}&per_page=10`, token: user.token });
    expect(second.body.data[0].uuid).not.toBe(first.body.data[0].uuid);
  });
});
