import { api } from '../lib/harness.js';
import type { Scenario } from '../lib/scenario.js';

/** Issue #3: updating an account, with its token and password encrypted on every request. */
export const accountPut: Scenario = {
  id: 'account-put',
  issue: 3,
  title: 'PUT /api/v1/accounts/{account_uuid} (seed body, token and password re-encrypted)',
  dialects: ['sqlite', 'postgres'],
  connections: [10, 50],
  durationS: 10,
  baseline: 'hello',
  targets: { minBaselineShare: { connections: 50, share: 0.3 }, maxP99Ms: { connections: 50, ms: 25 } },
  async prepare(server, token) {
    const providers = await api(server.url, 'GET', '/api/v1/providers?search=openai&per_page=50', token);
    const openai = providers.data.find((p: { slug: string }) => p.slug === 'openai');
    const account = await api(server.url, 'POST', '/api/v1/accounts', token, {
      provider_uuid: openai.uuid,
      provider_display_name: 'Bench OpenAI',
      token: 'sk-bench-initial-token',
    });
    const body = {
      provider_display_name: 'My OpenAI Account',
      provider_authentication_strategy: 'token',
      token: 'sk-bench-rotated-token-0123456789abcdef',
      username: 'bench',
      password: 'bench-password-value',
      scope: 'public',
    };
    return {
      request: {
        method: 'PUT',
        path: `/api/v1/accounts/${account.data.uuid}`,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      },
      notes: 'each request encrypts a token and a password (AES-256-GCM with the cached workspace data key) and answers the nested seed shape',
    };
  },
};

/** Issue #3: the provider catalog, first page. */
export const providers: Scenario = {
  id: 'providers',
  issue: 3,
  title: 'GET /api/v1/providers (first page of 15: the official catalog and 5 custom providers)',
  dialects: ['sqlite', 'postgres'],
  connections: [10, 50],
  durationS: 10,
  baseline: 'hello',
  targets: {},
  async prepare(server, token) {
    for (let i = 0; i < 5; i++) {
      await api(server.url, 'POST', '/api/v1/providers', token, {
        name: `Bench tool ${i}`,
        type: 'tool',
        authentication_strategy: 'token',
        authentication_config: { token: { url: 'https://api.example.test/me', key: 'Authorization', type: 'bearer' } },
      });
    }
    return {
      request: { path: '/api/v1/providers', headers: { authorization: `Bearer ${token}` } },
      notes: '16 providers visible (11 official, 5 custom, created by the caller and nested with their user)',
    };
  },
};
