import type { FakeOAuth2Server } from '../fakes/oauth2-server.js';
import type { TestApp, TestResponse } from './test-app.js';

/** Body of a custom oauth2 provider whose endpoints are the fake authorization server's. */
export function oauth2ProviderBody(fake: FakeOAuth2Server, clientSecret: string, overrides: Record<string, unknown> = {}) {
  return {
    name: 'Fake OAuth Tool',
    type: 'tool',
    authentication_strategy: 'oauth2',
    authentication_config: {
      oauth2: {
        client_id: 'athena-client',
        client_secret: clientSecret,
        authorize_url: `${fake.url}/authorize`,
        token_url: `${fake.url}/token`,
        user_url: `${fake.url}/userinfo`,
        revoke_url: `${fake.url}/revoke`,
        scopes: ['profile', 'offline_access'],
        scope_separator: 'space',
      },
    },
    ...overrides,
  };
}

/**
 * Walks the browser's part of the flow: asks Athena for the authorization URL, lets the fake
 * server approve it (its 302 carries code and state) and hands them to Athena's callback.
 */
export async function connectOAuth2(
  t: TestApp,
  token: string,
  providerId: string,
  query = '',
  headers: Record<string, string> = {},
): Promise<{ callback: TestResponse; code: string; state: string; authorizationUrl: string }> {
  const start = await t.request({ url: `/api/v1/providers/${providerId}/oauth2/authorize${query}`, token, headers });
  if (start.status !== 200) throw new Error(`authorize failed: ${start.status} ${start.text}`);
  const authorizationUrl: string = start.body.data.authorization_url;
  const approval = await fetch(authorizationUrl, { redirect: 'manual' });
  const location = new URL(approval.headers.get('location')!);
  const code = location.searchParams.get('code')!;
  const state = location.searchParams.get('state')!;
  const callback = await t.request({ url: `${location.pathname}${location.search}` });
  return { callback, code, state, authorizationUrl };
}
