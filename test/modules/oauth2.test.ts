import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshAccessToken } from '../../src/modules/accounts/accounts.oauth2.js';
import { startFakeOAuth2, type FakeOAuth2Server } from '../fakes/oauth2-server.js';
import { DIALECTS } from '../helpers/databases.js';
import { connectOAuth2, oauth2ProviderBody } from '../helpers/oauth2.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const CLIENT_SECRET = 'athena-client-secret';

describe.each(DIALECTS)('OAuth2 accounts on %s', (dialect) => {
  let t: TestApp;
  let fake: FakeOAuth2Server;
  let shortLived: FakeOAuth2Server;
  let owner: SignedUp;
  let other: SignedUp;
  let providerId: string;
  let shortProviderId: string;

  const accountRow = (id: string) => t.ctx.db.kysely.selectFrom('connected_accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  beforeAll(async () => {
    fake = await startFakeOAuth2({ clientId: 'athena-client', clientSecret: CLIENT_SECRET });
    // Tokens that live less than the refresh margin: every use refreshes first.
    shortLived = await startFakeOAuth2({ clientId: 'athena-client', clientSecret: CLIENT_SECRET, expiresIn: 30, rotateRefreshTokens: true });
    t = await createTestApp(dialect, { ATHENA_OUTBOUND_ALLOW: '127.0.0.1' });
    owner = await t.signUp();
    other = await t.signUp();
    const provider = await t.request({ method: 'POST', url: '/api/v1/providers', token: owner.token, body: oauth2ProviderBody(fake, CLIENT_SECRET) });
    providerId = provider.body.data.uuid;
    const short = await t.request({
      method: 'POST',
      url: '/api/v1/providers',
      token: owner.token,
      body: oauth2ProviderBody(shortLived, CLIENT_SECRET, { name: 'Short Lived Tool' }),
    });
    shortProviderId = short.body.data.uuid;
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
    await shortLived.close();
  });

  it('connects an account through the code flow with PKCE and stores the tokens encrypted', async () => {
    const { callback, authorizationUrl } = await connectOAuth2(t, owner.token, providerId, '?scope=public&provider_display_name=Acme%20login');

    const url = new URL(authorizationUrl);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('scope')).toBe('profile offline_access');
    expect(url.searchParams.get('redirect_uri')).toMatch(/\/api\/v1\/oauth2\/callback$/);
    expect(callback.status).toBe(201);
    expect(callback.body.data).toMatchObject({
      provider_display_name: 'Acme login',
      provider_authentication_strategy: 'oauth2',
      provider_account_id: 'oauth-user-42',
      user: { id: owner.user.id },
    });
    expect(callback.body.meta).toMatchObject({ scope: 'public', token: '********', is_verified: true });
    expect(Date.parse(callback.body.meta.expires_at)).toBeGreaterThan(Date.now() + 3_000_000);
    const row = await accountRow(callback.body.data.uuid);
    const accessToken = fake.issuedAccessTokens.at(-1)!;
    expect(row.access_token_encrypted).toMatch(/^ath1:/);
    expect(row.access_token_encrypted).not.toContain(accessToken);
    expect(callback.text).not.toContain(accessToken);
    expect(JSON.stringify(t.logs)).not.toContain(accessToken);
  });

  it('keeps an OAuth2 account’s tokens out of reach of PUT, but lets its owner rename and share it', async () => {
    const { callback } = await connectOAuth2(t, owner.token, providerId);
    const id = callback.body.data.uuid;

    const token = await t.request({ method: 'PUT', url: `/api/v1/accounts/${id}`, token: owner.token, body: { token: 'sk-pasted' } });
    const rename = await t.request({
      method: 'PUT',
      url: `/api/v1/accounts/${id}`,
      token: owner.token,
      body: { provider_display_name: 'Acme (team)', scope: 'public', token: '********' },
    });

    expect(token.status).toBe(422);
    expect(Object.keys(token.body.errors)).toEqual(['token']);
    expect(rename.status).toBe(200);
    expect(rename.body.data.provider_display_name).toBe('Acme (team)');
    expect((await accountRow(id)).scope).toBe('public');
  });

  it('refuses a replayed state and a forged one', async () => {
    const { callback, code, state } = await connectOAuth2(t, owner.token, providerId);
    expect(callback.status).toBe(201);

    const replay = await t.request({ url: `/api/v1/oauth2/callback?code=${code}&state=${state}` });
    const forged = await t.request({ url: `/api/v1/oauth2/callback?code=${code}&state=forged-state-value` });
    const missing = await t.request({ url: `/api/v1/oauth2/callback?code=${code}` });

    for (const response of [replay, forged, missing]) {
      expect(response.status).toBe(422);
      expect(Object.keys(response.body.errors)).toEqual(['state']);
    }
  });

  it('binds the state to the user who started the flow', async () => {
    const start = await t.request({ url: `/api/v1/providers/${providerId}/oauth2/authorize`, token: owner.token });
    const approval = await fetch(start.body.data.authorization_url, { redirect: 'manual' });
    const location = new URL(approval.headers.get('location')!);

    // Whoever's browser delivers the code, the account is the starter's, in the starter's workspace.
    const callback = await t.request({ url: `${location.pathname}${location.search}`, token: other.token });

    expect(callback.status).toBe(201);
    expect(callback.body.data.user.id).toBe(owner.user.id);
    const otherView = await t.request({ url: `/api/v1/accounts/${callback.body.data.uuid}`, token: other.token });
    expect(otherView.status).toBe(404);
  });

  it('refuses a provider that does not use oauth2', async () => {
    const list = await t.request({ url: '/api/v1/providers?search=openai-compatible', token: owner.token });
    const response = await t.request({ url: `/api/v1/providers/${list.body.data[0].uuid}/oauth2/authorize`, token: owner.token });
    expect(response.status).toBe(422);
  });

  it('refreshes before expiry (from expires_in), coalescing concurrent refreshes into one call', async () => {
    const { callback } = await connectOAuth2(t, owner.token, shortProviderId);
    const id = callback.body.data.uuid;
    const before = await accountRow(id);
    shortLived.refreshDelayMs = 150;

    const results = await Promise.all(
      Array.from({ length: 5 }, () => t.request({ method: 'POST', url: `/api/v1/accounts/${id}/verify`, token: owner.token })),
    );

    shortLived.refreshDelayMs = 0;
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(shortLived.refreshCount()).toBe(1);
    const after = await accountRow(id);
    expect(after.access_token_encrypted).not.toBe(before.access_token_encrypted);
    expect(after.refresh_token_encrypted).not.toBe(before.refresh_token_encrypted);
    // Every verification used the refreshed token, none the old one.
    const userInfoCalls = shortLived.requests.filter((r) => r.path === '/userinfo').slice(-5);
    expect(new Set(userInfoCalls.map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${shortLived.issuedAccessTokens.at(-1)}`]));
  });

  it('does not spend the refresh token again for a caller that read the account before another refresh', async () => {
    const { callback } = await connectOAuth2(t, owner.token, providerId);
    const stale = await accountRow(callback.body.data.uuid);
    const provider = await t.ctx.db.kysely.selectFrom('providers').selectAll().where('id', '=', providerId).executeTakeFirstOrThrow();
    const refreshes = fake.refreshCount();

    const first = await refreshAccessToken(t.ctx, stale, provider);
    const second = await refreshAccessToken(t.ctx, stale, provider);

    expect(second).toBe(first);
    expect(fake.refreshCount()).toBe(refreshes + 1);
  });

  it('refreshes on a 401 from the provider and retries once', async () => {
    const { callback } = await connectOAuth2(t, owner.token, providerId);
    const id = callback.body.data.uuid;
    fake.invalidateAccessToken(fake.issuedAccessTokens.at(-1)!);
    const refreshes = fake.refreshCount();

    const response = await t.request({ method: 'POST', url: `/api/v1/accounts/${id}/verify`, token: owner.token });

    expect(response.status).toBe(200);
    expect(fake.refreshCount()).toBe(refreshes + 1);
  });

  it('leaves the stored tokens intact when the refresh fails', async () => {
    const { callback } = await connectOAuth2(t, owner.token, providerId);
    const id = callback.body.data.uuid;
    fake.invalidateAccessToken(fake.issuedAccessTokens.at(-1)!);
    const before = await accountRow(id);
    fake.failRefresh = true;

    const response = await t.request({ method: 'POST', url: `/api/v1/accounts/${id}/verify`, token: owner.token });

    fake.failRefresh = false;
    expect(response.status).toBe(422);
    expect(response.body.errors.token[0]).toBe('The provider refused to refresh the token: The refresh token is invalid or expired.');
    const after = await accountRow(id);
    expect(after.access_token_encrypted).toBe(before.access_token_encrypted);
    expect(after.refresh_token_encrypted).toBe(before.refresh_token_encrypted);
    expect(after.token_expires_at).toBe(before.token_expires_at);
  });

  it('revokes the tokens at the provider when the account is deleted', async () => {
    const { callback } = await connectOAuth2(t, owner.token, providerId);
    const accessToken = fake.issuedAccessTokens.at(-1)!;
    const refreshToken = fake.issuedRefreshTokens.at(-1)!;

    const response = await t.request({ method: 'DELETE', url: `/api/v1/accounts/${callback.body.data.uuid}`, token: owner.token });

    expect(response.status).toBe(204);
    expect(fake.revoked).toEqual(expect.arrayContaining([accessToken, refreshToken]));
  });
});

describe.each(DIALECTS)('OAuth2 behind the outbound guard on %s', (dialect) => {
  let t: TestApp;
  let fake: FakeOAuth2Server;

  beforeAll(async () => {
    fake = await startFakeOAuth2({ clientId: 'athena-client', clientSecret: CLIENT_SECRET });
    t = await createTestApp(dialect);
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  it('refuses token and user-info URLs on loopback unless ATHENA_OUTBOUND_ALLOW opens them', async () => {
    const owner = await t.signUp();
    const provider = await t.request({ method: 'POST', url: '/api/v1/providers', token: owner.token, body: oauth2ProviderBody(fake, CLIENT_SECRET) });
    const tokenCalls = fake.requests.filter((r) => r.path === '/token').length;

    const { callback } = await connectOAuth2(t, owner.token, provider.body.data.uuid);

    expect(callback.status).toBe(422);
    expect(callback.body.errors.code[0]).toMatch(/^Outbound calls to 127\.0\.0\.1 \(127\.0\.0\.1\) are not allowed/);
    expect(fake.requests.filter((r) => r.path === '/token').length).toBe(tokenCalls);
    expect(await t.ctx.db.kysely.selectFrom('connected_accounts').select('id').execute()).toEqual([]);
  });
});
