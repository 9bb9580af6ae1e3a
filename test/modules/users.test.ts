import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { countRows, createTestApp, TEST_PASSWORD, type TestApp } from '../helpers/test-app.js';

describe.each(DIALECTS)('the authenticated user on %s', (dialect) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  const update = (token: string, body: Record<string, unknown>) => t.request({ method: 'PUT', url: '/api/v1/user', token, body });

  it('updates the name, splitting it into first and last unless they are given', async () => {
    const { token } = await t.signUp();

    const renamed = await update(token, { name: 'Ada King Lovelace' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.data).toMatchObject({ name: 'Ada King Lovelace', first_name: 'Ada', last_name: 'King Lovelace' });

    const explicit = await update(token, { name: 'Ada Lovelace', first_name: 'Augusta', last_name: null });
    expect(explicit.body.data).toMatchObject({ name: 'Ada Lovelace', first_name: 'Augusta', last_name: null });

    // The next request sees the change: the principal cache forgot the old row.
    const me = await t.request({ url: '/api/v1/user', token });
    expect(me.body.data.first_name).toBe('Augusta');
  });

  it('changes email or password only with the current password', async () => {
    const user = await t.signUp();

    const withoutCurrent = await update(user.token, { email: 'new@example.test' });
    expect(withoutCurrent.status).toBe(422);
    expect(withoutCurrent.body.errors).toEqual({ current_password: ['The password is incorrect.'] });

    const withCurrent = await update(user.token, { email: 'New@Example.test', current_password: TEST_PASSWORD });
    expect(withCurrent.status).toBe(200);
    expect(withCurrent.body.data.email).toBe('new@example.test');
  });

  it('ends the user’s other sessions on a password change, keeping the one that made it', async () => {
    const user = await t.signUp();
    const other = await t.request({ method: 'POST', url: '/api/v1/auth/sign-in', body: { email: user.email, password: user.password } });
    const otherToken = other.body.data.token;

    const changed = await update(user.token, { password: 'a-brand-new-password', current_password: user.password });
    expect(changed.status).toBe(200);

    expect((await t.request({ url: '/api/v1/user', token: user.token })).status).toBe(200);
    expect((await t.request({ url: '/api/v1/user', token: otherToken })).status).toBe(401);
    const signIn = await t.request({ method: 'POST', url: '/api/v1/auth/sign-in', body: { email: user.email, password: 'a-brand-new-password' } });
    expect(signIn.status).toBe(200);
  });

  it('refuses a taken email, wrong types and unknown fields, changing nothing', async () => {
    const first = await t.signUp();
    const second = await t.signUp();

    const taken = await update(second.token, { email: first.email, current_password: second.password });
    expect(taken.status).toBe(422);
    expect(taken.body.errors).toEqual({ email: ['The email has already been taken.'] });

    const wrong = await update(second.token, { name: 7, is_admin: true });
    expect(wrong.status).toBe(422);
    expect(Object.keys(wrong.body.errors).sort()).toEqual(['is_admin', 'name']);

    const row = await t.ctx.db.kysely.selectFrom('users').select(['email', 'name', 'is_admin']).where('id', '=', second.user.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ email: second.email, name: second.user.name });
    expect(Boolean(row.is_admin)).toBe(false);
  });

  it('answers /user/basic for Basic credentials with the same User shape', async () => {
    const user = await t.signUp();
    const created = await t.request({ method: 'POST', url: '/api/v1/user/tokens', token: user.token, body: { name: 'basic' } });
    const basic = Buffer.from(`${user.email}:${created.body.data.token}`).toString('base64');

    const response = await t.request({ url: '/api/v1/user/basic', headers: { authorization: `Basic ${basic}` } });

    expect(response.status).toBe(200);
    expect(response.body.data.id).toBe(user.user.id);
    expect(response.body.data.primary_workspace.user).toEqual({});
  });

  it('lets only instance administrators create users, each with a primary workspace', async () => {
    const regular = await t.signUp();
    const before = await countRows(t, 'users');

    const refused = await t.request({
      method: 'POST',
      url: '/api/v1/users',
      token: regular.token,
      body: { name: 'Someone', email: 'someone@example.test', password: TEST_PASSWORD },
    });

    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ message: 'This action is unauthorized.' });
    expect(await countRows(t, 'users')).toBe(before);
  });
});
