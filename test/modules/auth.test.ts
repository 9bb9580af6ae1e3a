import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { countRows, createTestApp, TEST_PASSWORD, type TestApp } from '../helpers/test-app.js';

describe.each(DIALECTS)('authentication on %s', (dialect) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(dialect, { ATHENA_SIGNIN_MAX_ATTEMPTS: '3', ATHENA_SIGNIN_MAX_ATTEMPTS_PER_IP: '6' });
  });
  afterAll(() => t.close());

  describe('sign-up', () => {
    it('creates the user, a primary workspace they own, and an access token', async () => {
      const response = await t.request({
        method: 'POST',
        url: '/api/v1/auth/sign-up',
        body: { name: 'Grace Brewster Hopper', email: 'Grace@Example.test', password: TEST_PASSWORD },
      });

      expect(response.status).toBe(201);
      const { data } = response.body;
      expect(data.token_type).toBe('Bearer');
      expect(data.token).toMatch(/^ath_at_[A-Za-z0-9_-]{43}$/);
      expect(Date.parse(data.expires_at)).toBeGreaterThan(Date.now());
      expect(data.user).toMatchObject({
        name: 'Grace Brewster Hopper',
        first_name: 'Grace',
        last_name: 'Brewster Hopper',
        email: 'grace@example.test',
      });
      expect(data.user.primary_workspace).toMatchObject({ name: "Grace's Workspace", is_owner: true, user: {} });

      const me = await t.request({ url: '/api/v1/user', token: data.token });
      expect(me.status).toBe(200);
      expect(me.body.data.id).toBe(data.user.id);
    });

    it('refuses a taken email with 422, case-insensitively, and writes nothing', async () => {
      await t.signUp({ email: 'taken@example.test' });
      const users = await countRows(t, 'users');

      const response = await t.request({
        method: 'POST',
        url: '/api/v1/auth/sign-up',
        body: { name: 'Someone', email: 'TAKEN@example.test', password: TEST_PASSWORD },
      });

      expect(response.status).toBe(422);
      expect(response.body).toEqual({
        message: 'The email has already been taken.',
        errors: { email: ['The email has already been taken.'] },
      });
      expect(await countRows(t, 'users')).toBe(users);
    });

    it('lets exactly one of concurrent sign-ups with the same email win, without a 500', async () => {
      const users = await countRows(t, 'users');
      const workspaces = await countRows(t, 'workspaces');
      const attempts = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          t.request({
            method: 'POST',
            url: '/api/v1/auth/sign-up',
            body: { name: `Racer ${i}`, email: 'race@example.test', password: TEST_PASSWORD },
          }),
        ),
      );

      const statuses = attempts.map((a) => a.status).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 422)).toHaveLength(7);
      expect(await countRows(t, 'users')).toBe(users + 1);
      expect(await countRows(t, 'workspaces')).toBe(workspaces + 1);
    });

    it('validates every field, Laravel-style', async () => {
      const response = await t.request({
        method: 'POST',
        url: '/api/v1/auth/sign-up',
        body: { email: 'not-an-email', password: 'short' },
      });

      expect(response.status).toBe(422);
      expect(response.body.errors).toEqual({
        name: ['The name field is required.'],
        email: ['The email field must be a valid email address.'],
        password: ['The password field must be at least 8 characters.'],
      });
      expect(response.body.message).toBe('The name field is required. (and 2 more errors)');
    });
  });

  describe('sign-in and logout', () => {
    it('signs in with the right password and answers the seed user shape', async () => {
      const { email } = await t.signUp();

      const response = await t.request({ method: 'POST', url: '/api/v1/auth/sign-in', body: { email, password: TEST_PASSWORD } });

      expect(response.status).toBe(200);
      expect(response.body.data.token).toMatch(/^ath_at_/);
      expect(response.body.data.user.email).toBe(email);
    });

    it('refuses a wrong password and an unknown email alike', async () => {
      const { email } = await t.signUp();
      const wrong = await t.request({
        method: 'POST',
        url: '/api/v1/auth/sign-in',
        body: { email, password: 'not-the-password' },
        remoteAddress: '10.9.0.1',
      });
      const unknown = await t.request({
        method: 'POST',
        url: '/api/v1/auth/sign-in',
        body: { email: 'nobody@example.test', password: TEST_PASSWORD },
        remoteAddress: '10.9.0.2',
      });

      for (const response of [wrong, unknown]) {
        expect(response.status).toBe(422);
        expect(response.body).toEqual({
          message: 'These credentials do not match our records.',
          errors: { email: ['These credentials do not match our records.'] },
        });
      }
    });

    it('throttles failed sign-ins per account, with Retry-After, even for the right password', async () => {
      const { email } = await t.signUp();
      for (let i = 0; i < 3; i++) {
        const failed = await t.request({
          method: 'POST',
          url: '/api/v1/auth/sign-in',
          body: { email, password: 'wrong-password' },
          remoteAddress: `10.1.0.${i + 1}`,
        });
        expect(failed.status).toBe(422);
      }

      const locked = await t.request({
        method: 'POST',
        url: '/api/v1/auth/sign-in',
        body: { email, password: TEST_PASSWORD },
        remoteAddress: '10.1.0.99',
      });

      expect(locked.status).toBe(429);
      expect(locked.body).toEqual({ message: 'Too Many Attempts.' });
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('throttles failed sign-ins per IP across accounts', async () => {
      const ip = '10.2.0.1';
      for (let i = 0; i < 6; i++) {
        const failed = await t.request({
          method: 'POST',
          url: '/api/v1/auth/sign-in',
          body: { email: `spray${i}@example.test`, password: 'wrong-password' },
          remoteAddress: ip,
        });
        expect(failed.status).toBe(422);
      }
      const { email } = await t.signUp();

      const locked = await t.request({ method: 'POST', url: '/api/v1/auth/sign-in', body: { email, password: TEST_PASSWORD }, remoteAddress: ip });
      const elsewhere = await t.request({
        method: 'POST',
        url: '/api/v1/auth/sign-in',
        body: { email, password: TEST_PASSWORD },
        remoteAddress: '10.2.0.2',
      });

      expect(locked.status).toBe(429);
      expect(elsewhere.status).toBe(200);
    });

    it('logout revokes the token used, and only that one', async () => {
      const { token, email } = await t.signUp();
      const other = (await t.request({ method: 'POST', url: '/api/v1/auth/sign-in', body: { email, password: TEST_PASSWORD } })).body.data.token;

      const logout = await t.request({ method: 'POST', url: '/api/v1/auth/logout', token });

      expect(logout.status).toBe(204);
      expect(logout.text).toBe('');
      expect((await t.request({ url: '/api/v1/user', token })).status).toBe(401);
      expect((await t.request({ url: '/api/v1/user', token: other })).status).toBe(200);
    });
  });

  describe('credentials on protected routes', () => {
    it.each([
      ['no credentials', {}],
      ['an unknown bearer token', { authorization: 'Bearer ath_at_unknown' }],
      ['a malformed authorization header', { authorization: 'Bearer' }],
      ['an unknown scheme', { authorization: 'Digest abc' }],
      ['an unknown x-api-key', { 'x-api-key': 'ath_pat_unknown' }],
      ['a JWT when no identity provider is configured', { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln' }],
    ])('answers 401 for %s', async (_label, headers) => {
      const response = await t.request({ url: '/api/v1/user', headers });

      expect(response.status).toBe(401);
      expect(response.body).toEqual({ message: 'Unauthenticated.' });
      expect(response.headers['www-authenticate']).toBe('Bearer');
    });

    it('answers 401 for an expired token', async () => {
      const { token } = await t.signUp();
      await t.ctx.db.kysely.updateTable('access_tokens').set({ expires_at: '2020-01-01T00:00:00.000Z' }).where('kind', '=', 'session').execute();

      expect((await t.request({ url: '/api/v1/user', token })).status).toBe(401);
    });
  });

  describe('personal API tokens', () => {
    it('shows the secret once, stores only its hash, and authenticates as Bearer, x-api-key and Basic', async () => {
      const { token: session, email } = await t.signUp();

      const created = await t.request({ method: 'POST', url: '/api/v1/user/tokens', token: session, body: { name: 'CI' } });

      expect(created.status).toBe(201);
      const secret: string = created.body.data.token;
      expect(secret).toMatch(/^ath_pat_/);
      expect(created.body.data).toMatchObject({ name: 'CI', token_hint: `ath_pat_…${secret.slice(-4)}`, expires_at: null });
      const stored = await t.ctx.db.kysely.selectFrom('access_tokens').selectAll().where('id', '=', created.body.data.uuid).executeTakeFirstOrThrow();
      expect(JSON.stringify(stored)).not.toContain(secret);

      const listed = await t.request({ url: '/api/v1/user/tokens', token: session });
      expect(listed.status).toBe(200);
      expect(listed.body.data).toHaveLength(1);
      expect(listed.body.data[0]).not.toHaveProperty('token');
      expect(listed.body.meta.total).toBe(1);

      expect((await t.request({ url: '/api/v1/user', token: secret })).status).toBe(200);
      expect((await t.request({ url: '/api/v1/user', headers: { 'x-api-key': secret } })).status).toBe(200);
      const basic = Buffer.from(`${email}:${secret}`).toString('base64');
      const viaBasic = await t.request({ url: '/api/v1/user/basic', headers: { authorization: `Basic ${basic}` } });
      expect(viaBasic.status).toBe(200);
      expect(viaBasic.body.data.email).toBe(email);
    });

    it('refuses Basic with another user’s email, and /user/basic without Basic', async () => {
      const { token: session } = await t.signUp();
      const { email: otherEmail } = await t.signUp();
      const secret = (await t.request({ method: 'POST', url: '/api/v1/user/tokens', token: session, body: { name: 'x' } })).body.data.token;

      const wrongEmail = Buffer.from(`${otherEmail}:${secret}`).toString('base64');
      expect((await t.request({ url: '/api/v1/user/basic', headers: { authorization: `Basic ${wrongEmail}` } })).status).toBe(401);
      expect((await t.request({ url: '/api/v1/user/basic', token: secret })).status).toBe(401);
      expect((await t.request({ url: '/api/v1/user/basic', headers: { authorization: 'Basic !!!' } })).status).toBe(401);
    });

    it('lists live tokens newest first and searches them by name', async () => {
      const user = await t.signUp();
      for (const name of ['deploy bot', 'laptop', 'Deploy staging']) {
        await t.request({ method: 'POST', url: '/api/v1/user/tokens', token: user.token, body: { name } });
      }

      const all = await t.request({ url: '/api/v1/user/tokens', token: user.token });
      expect(all.body.data.map((tk: { name: string }) => tk.name)).toEqual(['Deploy staging', 'laptop', 'deploy bot']);
      // Only a hint of each secret is ever shown again.
      expect(all.text).not.toMatch(/ath_pat_[A-Za-z0-9_-]{20}/);

      const searched = await t.request({ url: '/api/v1/user/tokens?search=deploy', token: user.token });
      expect(searched.body.data.map((tk: { name: string }) => tk.name)).toEqual(['Deploy staging', 'deploy bot']);
      expect(searched.body.meta.total).toBe(2);
    });

    it('revokes a token; revoking it again or another user’s token is 404', async () => {
      const { token: session } = await t.signUp();
      const { token: stranger } = await t.signUp();
      const created = (await t.request({ method: 'POST', url: '/api/v1/user/tokens', token: session, body: { name: 'temp' } })).body.data;

      expect((await t.request({ method: 'DELETE', url: `/api/v1/user/tokens/${created.uuid}`, token: stranger })).status).toBe(404);
      const revoked = await t.request({ method: 'DELETE', url: `/api/v1/user/tokens/${created.uuid}`, token: session });
      expect(revoked.status).toBe(204);
      expect((await t.request({ url: '/api/v1/user', token: created.token })).status).toBe(401);
      expect((await t.request({ method: 'DELETE', url: `/api/v1/user/tokens/${created.uuid}`, token: session })).status).toBe(404);
      expect((await t.request({ method: 'DELETE', url: '/api/v1/user/tokens/not-a-uuid', token: session })).status).toBe(404);
    });

    it('takes an expiry in the future only, and expired tokens stop working', async () => {
      const { token: session } = await t.signUp();

      const past = await t.request({ method: 'POST', url: '/api/v1/user/tokens', token: session, body: { name: 'old', expires_at: '2001-01-01T00:00:00.000Z' } });
      expect(past.status).toBe(422);
      expect(past.body.errors.expires_at).toEqual(['The expires at field must be a date after now.']);

      const soon = new Date(Date.now() + 60_000).toISOString();
      const created = await t.request({ method: 'POST', url: '/api/v1/user/tokens', token: session, body: { name: 'soon', expires_at: soon } });
      expect(created.status).toBe(201);
      expect(created.body.data.expires_at).toBe(soon);
      await t.ctx.db.kysely.updateTable('access_tokens').set({ expires_at: '2020-01-01T00:00:00.000Z' }).where('id', '=', created.body.data.uuid).execute();
      expect((await t.request({ url: '/api/v1/user', token: created.body.data.token })).status).toBe(401);
    });

    it('rejects wrong types and unknown fields without creating a token', async () => {
      const { token } = await t.signUp();
      const before = await countRows(t, 'access_tokens');

      const wrongType = await t.request({ method: 'POST', url: '/api/v1/user/tokens', token, body: { name: 42 } });
      const unknownField = await t.request({ method: 'POST', url: '/api/v1/user/tokens', token, body: { name: 'x', scopes: ['*'] } });

      expect(wrongType.status).toBe(422);
      expect(wrongType.body.errors).toEqual({ name: ['The name field must be a string.'] });
      expect(unknownField.status).toBe(422);
      expect(unknownField.body.errors).toEqual({ scopes: ['The scopes field is prohibited.'] });
      expect(await countRows(t, 'access_tokens')).toBe(before);
    });
  });
});

describe.each(DIALECTS)('closed registration on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, {
      ATHENA_REGISTRATION: 'closed',
      ATHENA_ADMIN_EMAIL: 'root@example.test',
      ATHENA_ADMIN_PASSWORD: 'bootstrap-password',
    });
  });
  afterAll(() => t.close());

  it('refuses sign-up with 403 and creates nothing', async () => {
    const users = await countRows(t, 'users');
    const response = await t.request({
      method: 'POST',
      url: '/api/v1/auth/sign-up',
      body: { name: 'Eve', email: 'eve@example.test', password: TEST_PASSWORD },
    });

    expect(response.status).toBe(403);
    expect(response.body).toEqual({ message: 'This action is unauthorized.' });
    expect(await countRows(t, 'users')).toBe(users);
  });

  it('lets the bootstrap owner sign in and create users; others may not', async () => {
    const signIn = await t.request({
      method: 'POST',
      url: '/api/v1/auth/sign-in',
      body: { email: 'root@example.test', password: 'bootstrap-password' },
    });
    expect(signIn.status).toBe(200);
    const admin = signIn.body.data.token;
    expect(signIn.body.data.user.primary_workspace.is_owner).toBe(true);

    const created = await t.request({
      method: 'POST',
      url: '/api/v1/users',
      token: admin,
      body: { name: 'Second User', email: 'second@example.test', password: TEST_PASSWORD },
    });
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({ email: 'second@example.test', first_name: 'Second' });
    // is_owner is computed for the caller, who is not a member of the new user's workspace.
    expect(created.body.data.primary_workspace.is_owner).toBe(false);

    const second = await t.request({ method: 'POST', url: '/api/v1/auth/sign-in', body: { email: 'second@example.test', password: TEST_PASSWORD } });
    const refused = await t.request({
      method: 'POST',
      url: '/api/v1/users',
      token: second.body.data.token,
      body: { name: 'Third', email: 'third@example.test', password: TEST_PASSWORD },
    });
    expect(refused.status).toBe(403);
  });
});
