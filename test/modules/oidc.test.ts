import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { countRows, createTestApp, type TestApp } from '../helpers/test-app.js';
import { startFakeIdentityProvider, type FakeIdentityProvider } from '../fakes/identity-provider.js';

const AUDIENCE = 'athena-test';

describe.each(DIALECTS)('app access tokens from an external identity provider on %s', (dialect) => {
  let idp: FakeIdentityProvider;
  let t: TestApp;

  beforeAll(async () => {
    idp = await startFakeIdentityProvider(AUDIENCE);
    t = await createTestApp(dialect, {
      ATHENA_OIDC_ISSUER: idp.issuer,
      ATHENA_OIDC_AUDIENCE: AUDIENCE,
      ATHENA_OIDC_JWKS_URL: idp.jwksUrl,
    });
  });
  afterAll(async () => {
    await t.close();
    await idp.close();
  });

  const me = (token: string) => t.request({ url: '/api/v1/user', token });

  it('provisions the user by multiplai_id, with a primary workspace, on first use', async () => {
    const token = await idp.sign({ sub: 'mp|1001', email: 'Nova@Example.test', email_verified: true, given_name: 'Nova', family_name: 'Quinn' });

    const response = await me(token);

    expect(response.status).toBe(200);
    expect(response.body.data).toMatchObject({
      name: 'Nova Quinn',
      first_name: 'Nova',
      last_name: 'Quinn',
      email: 'nova@example.test',
      multiplai_id: 'mp|1001',
      primary_workspace: { is_owner: true },
    });
    expect(idp.jwksRequests).toBeGreaterThan(0);
    const row = await t.ctx.db.kysely.selectFrom('users').select(['password_hash', 'primary_workspace_id']).where('multiplai_id', '=', 'mp|1001').executeTakeFirstOrThrow();
    expect(row.password_hash).toBeNull();
    expect(row.primary_workspace_id).toBeTruthy();
  });

  it('finds the same user by subject on later tokens, even when the email claim changed', async () => {
    const users = await countRows(t, 'users');
    const token = await idp.sign({ sub: 'mp|1001', email: 'renamed@example.test', email_verified: true });

    const response = await me(token);

    expect(response.status).toBe(200);
    expect(response.body.data.multiplai_id).toBe('mp|1001');
    expect(await countRows(t, 'users')).toBe(users);
  });

  it('provisions a new subject only once under concurrent first requests', async () => {
    const users = await countRows(t, 'users');
    const tokens = await Promise.all(
      Array.from({ length: 8 }, (_, i) => idp.sign({ sub: 'mp|race', email: 'race@example.test', email_verified: true, jti: `j${i}` })),
    );

    const responses = await Promise.all(tokens.map((token) => me(token)));

    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(new Set(responses.map((r) => r.body.data.id)).size).toBe(1);
    expect(await countRows(t, 'users')).toBe(users + 1);
  });

  it('links an existing password account only when the provider verified the email', async () => {
    const existing = await t.signUp({ email: 'linkme@example.test' });

    const unverified = await me(await idp.sign({ sub: 'mp|2002', email: 'linkme@example.test', email_verified: false }));
    expect(unverified.status).toBe(401);

    const verified = await me(await idp.sign({ sub: 'mp|2002', email: 'linkme@example.test', email_verified: true }));
    expect(verified.status).toBe(200);
    expect(verified.body.data.id).toBe(existing.user.id);
    expect(verified.body.data.multiplai_id).toBe('mp|2002');

    // A second subject cannot take the linked account over.
    const other = await me(await idp.sign({ sub: 'mp|3003', email: 'linkme@example.test', email_verified: true }));
    expect(other.status).toBe(401);
  });

  it('refuses tokens signed by another key, for another audience or issuer, or expired, and writes nothing', async () => {
    const users = await countRows(t, 'users');
    const claims = { sub: 'mp|evil', email: 'evil@example.test', email_verified: true };
    const bad = [
      await idp.sign(claims, { foreignKey: true }),
      await idp.sign(claims, { audience: 'someone-else' }),
      await idp.sign(claims, { issuer: 'https://evil.example/' }),
      await idp.sign(claims, { expiresIn: Math.floor(Date.now() / 1000) - 120 }),
      (await idp.sign(claims)).slice(0, -4) + 'AAAA',
    ];

    for (const token of bad) {
      const response = await me(token);
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ message: 'Unauthenticated.' });
    }
    expect(await countRows(t, 'users')).toBe(users);
  });

  it('refuses a token without an email for an unknown subject', async () => {
    const response = await me(await idp.sign({ sub: 'mp|no-email' }));
    expect(response.status).toBe(401);
  });
});

describe('app access tokens without an identity provider configured', () => {
  it('are refused, not trusted', async () => {
    const idp = await startFakeIdentityProvider(AUDIENCE);
    const t = await createTestApp('sqlite');
    try {
      const response = await t.request({ url: '/api/v1/user', token: await idp.sign({ sub: 'mp|1', email: 'a@example.test', email_verified: true }) });
      expect(response.status).toBe(401);
      expect(idp.jwksRequests).toBe(0);
    } finally {
      await t.close();
      await idp.close();
    }
  });
});
