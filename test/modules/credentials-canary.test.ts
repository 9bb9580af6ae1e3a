import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic } from '../fakes/anthropic-server.js';
import type { FakeServer } from '../fakes/http-fake.js';
import { startFakeOAuth2, type FakeOAuth2Server } from '../fakes/oauth2-server.js';
import { startFakeOpenAi } from '../fakes/openai-server.js';
import { DIALECTS } from '../helpers/databases.js';
import { connectOAuth2, oauth2ProviderBody } from '../helpers/oauth2.js';
import { createTestApp, type TestApp, type TestResponse } from '../helpers/test-app.js';

/** Known secret strings; none may ever come back out, in a body or in a log line. */
const CANARY = {
  openai: 'sk-CANARY-openai-5f1d2e',
  rotated: 'sk-CANARY-rotated-77aa01',
  wrong: 'sk-CANARY-wrong-c0ffee',
  anthropic: 'sk-ant-CANARY-9b8c7d',
  password: 'CANARY-password-31337',
  clientSecret: 'CANARY-client-secret-4242',
  newClientSecret: 'CANARY-client-secret-rotated-99',
};

describe.each(DIALECTS)('no secret ever comes back out, on %s', (dialect) => {
  let t: TestApp;
  let openai: FakeServer;
  let anthropic: FakeServer;
  let oauth: FakeOAuth2Server;
  const responses: TestResponse[] = [];

  const call = async (options: Parameters<TestApp['request']>[0]) => {
    const response = await t.request(options);
    responses.push(response);
    return response;
  };

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: CANARY.openai, echoKey: true });
    anthropic = await startFakeAnthropic({ apiKey: CANARY.anthropic });
    oauth = await startFakeOAuth2({ clientId: 'athena-client', clientSecret: CANARY.clientSecret });
    // Everything logged, at the most talkative level, with the access log on.
    t = await createTestApp(dialect, { LOG_LEVEL: 'trace', ATHENA_ACCESS_LOG: 'true', ATHENA_OUTBOUND_ALLOW: '127.0.0.1' });
  });
  afterAll(async () => {
    await t.close();
    await Promise.all([openai.close(), anthropic.close(), oauth.close()]);
  });

  it('a new user connects an OpenAI-compatible server and an OAuth2 provider, verifies both, lists models, and gets no secret back', async () => {
    const { token } = await t.signUp();
    const providers = await call({ url: '/api/v1/providers?per_page=100', token });
    const compatible = providers.body.data.find((p: any) => p.slug === 'openai-compatible');
    const anthropicProvider = providers.body.data.find((p: any) => p.slug === 'anthropic');

    // An OpenAI-compatible server.
    const created = await call({
      method: 'POST',
      url: '/api/v1/accounts',
      token,
      body: { provider_uuid: compatible.uuid, provider_display_name: 'Local vLLM', token: CANARY.openai, base_url: `${openai.url}/v1` },
    });
    expect(created.status).toBe(201);
    const accountId = created.body.data.uuid;
    expect((await call({ method: 'POST', url: `/api/v1/accounts/${accountId}/verify`, token })).status).toBe(200);
    await call({ url: `/api/v1/accounts/${accountId}`, token });
    await call({ url: '/api/v1/accounts', token });
    await call({
      method: 'PUT',
      url: `/api/v1/accounts/${accountId}`,
      token,
      body: {
        provider_display_name: 'Local vLLM',
        provider_authentication_strategy: 'token',
        token: CANARY.rotated,
        username: 'ops',
        password: CANARY.password,
        scope: 'public',
      },
    });
    await call({ method: 'PUT', url: `/api/v1/accounts/${accountId}`, token, body: { token: '********', password: '********' } });
    // A rejected key (the fake echoes it back in its error message).
    await call({ method: 'PUT', url: `/api/v1/accounts/${accountId}`, token, body: { token: CANARY.wrong } });
    expect((await call({ method: 'POST', url: `/api/v1/accounts/${accountId}/verify`, token })).status).toBe(422);
    await call({ method: 'PUT', url: `/api/v1/accounts/${accountId}`, token, body: { token: CANARY.openai } });
    expect((await call({ method: 'POST', url: `/api/v1/accounts/${accountId}/verify`, token })).status).toBe(200);
    // A request refused by validation, carrying a secret.
    expect((await call({ method: 'PUT', url: `/api/v1/accounts/${accountId}`, token, body: { token: CANARY.rotated, bogus: 1 } })).status).toBe(422);

    // Anthropic.
    const claude = await call({
      method: 'POST',
      url: '/api/v1/accounts',
      token,
      body: { provider_uuid: anthropicProvider.uuid, provider_display_name: 'Claude', token: CANARY.anthropic, base_url: `${anthropic.url}/v1` },
    });
    expect((await call({ method: 'POST', url: `/api/v1/accounts/${claude.body.data.uuid}/verify`, token })).status).toBe(200);

    // An OAuth2 provider, connected and verified.
    const provider = await call({ method: 'POST', url: '/api/v1/providers', token, body: oauth2ProviderBody(oauth, CANARY.clientSecret) });
    expect(provider.status).toBe(201);
    await call({ url: `/api/v1/providers/${provider.body.data.uuid}`, token });
    await call({
      method: 'PUT',
      url: `/api/v1/providers/${provider.body.data.uuid}`,
      token,
      body: { authentication_config: { oauth2: { ...provider.body.data.authentication_config.oauth2, client_secret: CANARY.newClientSecret } } },
    });
    // The fake authorization server only knows the original secret: put it back.
    await call({
      method: 'PUT',
      url: `/api/v1/providers/${provider.body.data.uuid}`,
      token,
      body: { authentication_config: { oauth2: { ...provider.body.data.authentication_config.oauth2, client_secret: CANARY.clientSecret } } },
    });
    const { callback } = await connectOAuth2(t, token, provider.body.data.uuid);
    responses.push(callback);
    expect(callback.status).toBe(201);
    const verified = await call({ method: 'POST', url: `/api/v1/accounts/${callback.body.data.uuid}/verify`, token });
    expect(verified.status).toBe(200);
    expect(verified.body.data.provider_account_id).toBe('oauth-user-42');
    expect(verified.body.meta).toMatchObject({ is_verified: true, token: '********' });

    // The models the server listed.
    const models = await call({ url: '/api/v1/large-language-models?provider=openai-compatible', token });
    expect(models.body.data.map((m: any) => m.model_id)).toContain('llama-3.1-8b-instruct');
    await call({ url: '/api/v1/workspaces/metrics', token });
    await call({ method: 'DELETE', url: `/api/v1/accounts/${callback.body.data.uuid}`, token });

    // Nothing that left the server, and nothing it logged, holds a secret.
    const secrets = [...Object.values(CANARY), ...oauth.issuedAccessTokens, ...oauth.issuedRefreshTokens];
    expect(t.logs.length).toBeGreaterThan(20);
    const everything = [...responses.map((r) => `${JSON.stringify(r.headers)}\n${r.text}`), ...t.logs.map((line) => JSON.stringify(line))].join('\n');
    for (const secret of secrets) expect(everything).not.toContain(secret);
    expect(everything).not.toContain('CANARY');

    // And at rest, the secret columns hold ciphertext only.
    const rows = await t.ctx.db.kysely.selectFrom('connected_accounts').selectAll().execute();
    const providerRows = await t.ctx.db.kysely.selectFrom('providers').selectAll().execute();
    const stored = JSON.stringify([rows, providerRows]);
    for (const secret of secrets) expect(stored).not.toContain(secret);
  });
});
