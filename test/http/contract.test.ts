import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { countRows, createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

/** The contract every route keeps (conventions.md): bodies, limits and error shapes. */
describe.each(DIALECTS)('the API contract on %s', (dialect) => {
  let t: TestApp;
  let user: SignedUp;

  beforeAll(async () => {
    t = await createTestApp(dialect, { ATHENA_BODY_LIMIT: '2kb' });
    user = await t.signUp();
  });
  afterAll(() => t.close());

  const createWorkspace = (options: { payload?: string; body?: unknown; headers?: Record<string, string> }) =>
    t.request({ method: 'POST', url: '/api/v1/workspaces', token: user.token, ...options });

  it('answers malformed JSON with 400 and writes nothing', async () => {
    const before = await countRows(t, 'workspaces');
    const response = await createWorkspace({ payload: '{"name": "Broken",', headers: { 'content-type': 'application/json' } });

    expect(response.status).toBe(400);
    expect(response.body).toEqual({ message: 'The request body is not valid JSON.' });
    expect(await countRows(t, 'workspaces')).toBe(before);
  });

  it('answers a body over ATHENA_BODY_LIMIT with 413 and writes nothing', async () => {
    const before = await countRows(t, 'workspaces');
    const response = await createWorkspace({ body: { name: 'Big', metadata: { industry: 'x'.repeat(4000) } } });

    expect(response.status).toBe(413);
    expect(response.body).toEqual({ message: 'Payload too large.' });
    expect(await countRows(t, 'workspaces')).toBe(before);
  });

  it('answers a body that is not JSON with 415', async () => {
    const response = await createWorkspace({ payload: 'name=Plain', headers: { 'content-type': 'text/plain' } });
    expect(response.status).toBe(415);
    expect(response.body).toEqual({ message: 'Unsupported Media Type.' });
  });

  it('answers a missing body on a route that needs one with 422, naming the required fields', async () => {
    const response = await t.request({ method: 'POST', url: '/api/v1/workspaces', token: user.token });
    expect(response.status).toBe(422);
    expect(response.body.errors).toHaveProperty('name');
  });

  it('answers wrong types with 422 in Laravel’s shape', async () => {
    const response = await createWorkspace({ body: { name: ['not', 'a', 'string'], is_onboarded: 'yes' } });

    expect(response.status).toBe(422);
    expect(response.body.message).toMatch(/^The name field must be a string\. \(and 1 more error\)$/);
    expect(response.body.errors).toEqual({
      name: ['The name field must be a string.'],
      is_onboarded: ['The is onboarded field must be true or false.'],
    });
  });

  it('refuses unknown fields rather than dropping them silently', async () => {
    const response = await createWorkspace({ body: { name: 'Fine', owner_id: 1 } });
    expect(response.status).toBe(422);
    expect(Object.keys(response.body.errors)).toEqual(['owner_id']);
  });

  it('validates query parameters too', async () => {
    const response = await t.request({ url: '/api/v1/workspaces?per_page=100000&sort=password', token: user.token });
    expect(response.status).toBe(422);
    expect(Object.keys(response.body.errors).sort()).toEqual(['per_page', 'sort']);
  });

  it('answers unknown routes with 404 on both surfaces, each in its own shape', async () => {
    const platform = await t.request({ url: '/api/v1/nothing-here', token: user.token });
    expect(platform.status).toBe(404);
    expect(platform.body).toEqual({ message: 'Resource not found.' });

    const thena = await t.request({ url: '/v1/nothing-here', token: user.token });
    expect(thena.status).toBe(404);
    expect(thena.body).toEqual({ statusCode: 404, message: 'Resource not found!', error: 'Not Found' });
  });

  it('answers missing, malformed and unknown credentials with 401 and WWW-Authenticate', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer nonsense' }, { authorization: 'Token abc' }, { 'x-api-key': 'ath_pat_unknown' }];
    for (const headers of attempts) {
      const response = await t.request({ url: '/api/v1/user', headers });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ message: 'Unauthenticated.' });
      expect(response.headers['www-authenticate']).toBe('Bearer');
    }
  });

  it('serializes through the response schema, so stored secrets cannot leak', async () => {
    const response = await t.request({ url: '/api/v1/user', token: user.token });
    expect(response.text).not.toMatch(/password|hash|is_admin/);
  });

  it('validates filters against their allowed values', async () => {
    const response = await t.request({ url: '/api/v1/workspaces?filter[role]=superuser&filter[colour]=red', token: user.token });
    expect(response.status).toBe(422);
    expect(Object.keys(response.body.errors).sort()).toEqual(['filter.colour', 'filter.role']);
  });
});

describe.each(DIALECTS)('rate limits on %s', (dialect) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(dialect, { ATHENA_RATE_LIMIT_PER_TOKEN: '3', ATHENA_RATE_LIMIT_PER_IP: '8', ATHENA_RATE_LIMIT_WINDOW: '60' });
  });
  afterAll(() => t.close());

  it('limits each token, answering 429 with Retry-After and X-RateLimit headers', async () => {
    const { token } = await t.signUp();
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 4; i++) {
      last = await t.request({ url: '/api/v1/user', token, remoteAddress: '10.0.0.1' });
      statuses.push(last.status);
    }

    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(last!.body).toEqual({ message: 'Too Many Attempts.' });
    const retryAfter = Number(last!.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(last!.headers['x-ratelimit-limit']).toBe('3');
    expect(last!.headers['x-ratelimit-remaining']).toBe('0');

    // Another token of the same user has its own budget.
    const fresh = await t.signUp();
    expect((await t.request({ url: '/api/v1/user', token: fresh.token, remoteAddress: '10.0.0.2' })).status).toBe(200);
  });

  it('limits each IP before authentication, so a flood of bad tokens is refused cheaply', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) {
      statuses.push((await t.request({ url: '/api/v1/user', token: `bad-${i}`, remoteAddress: '10.9.9.9' })).status);
    }
    expect(statuses.slice(0, 8).every((s) => s === 401)).toBe(true);
    expect(statuses[8]).toBe(429);

    const thena = await t.request({ url: '/v1/accounts', remoteAddress: '10.9.9.9' });
    expect(thena.status).toBe(429);
    expect(thena.body).toEqual({ statusCode: 429, message: 'Too many requests!', error: 'Too Many Requests' });
  });

  it('does not count health checks and metrics scrapes', async () => {
    for (let i = 0; i < 12; i++) {
      expect((await t.request({ url: '/health', remoteAddress: '10.7.7.7' })).status).toBe(200);
    }
  });
});
