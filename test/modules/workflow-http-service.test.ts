import http, { type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/context.js';
import { NodeError } from '../../src/engine/node-type.js';
import type { HttpRequestSpec } from '../../src/engine/ports.js';
import { createHttpService, HTTP_NODE_MAX_RESPONSE_BYTES } from '../../src/modules/workflows/node-services/http.js';
import { sendJson, startFakeServer, type FakeRequest, type FakeServer } from '../fakes/http-fake.js';
import { startFakeOAuth2, type FakeOAuth2Server } from '../fakes/oauth2-server.js';
import { DIALECTS } from '../helpers/databases.js';
import { connectOAuth2, oauth2ProviderBody } from '../helpers/oauth2.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const API_TOKEN = 'node-token-CANARY-5127';
const QUERY_TOKEN = 'query-key-CANARY-9043';
const PUBLIC_TOKEN = 'shared-token-CANARY-3388';
const CLIENT_SECRET = 'client-secret-CANARY-6620';

const spec = (overrides: Partial<HttpRequestSpec> & { url: string }): HttpRequestSpec => ({
  method: 'GET',
  headers: {},
  query: {},
  body: null,
  account_uuid: null,
  timeout_ms: 2000,
  response_format: 'auto',
  ...overrides,
});

const signal = () => new AbortController().signal;

/** What a call rejected with (the test fails if it resolved). */
async function failureOf(call: Promise<unknown>): Promise<Error> {
  const outcome = await call.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  return outcome.error as Error;
}

/** A port nothing listens on (a server bound and closed). */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.each(DIALECTS)('the HTTP request node service on %s', (dialect) => {
  let t: TestApp;
  let api: FakeServer;
  let other: FakeServer;
  let oauth: FakeOAuth2Server;
  let oauthAccount: string;
  let owner: SignedUp;
  let member: SignedUp;
  let stranger: SignedUp;
  let workspace: string;
  let privateAccount: string;
  let publicAccount: string;
  let queryAccount: string;
  let strangerAccount: string;
  /** The same app with other ATHENA_OUTBOUND_ALLOW lists. */
  let closedCtx: AppContext;
  let localhostCtx: AppContext;

  const service = (ctx: AppContext = t.ctx, userId: number | null = owner.user.id, workspaceId = workspace) => createHttpService(ctx, { workspaceId, userId });
  const createProvider = async (user: SignedUp, body: Record<string, unknown>) => {
    const response = await t.request({ method: 'POST', url: '/api/v1/providers', token: user.token, body: { type: 'tool', ...body } });
    if (response.status !== 201) throw new Error(`provider: ${response.status} ${response.text}`);
    return response.body.data.uuid as string;
  };
  const createAccount = async (user: SignedUp, body: Record<string, unknown>) => {
    const response = await t.request({ method: 'POST', url: '/api/v1/accounts', token: user.token, body: { provider_display_name: 'Account', ...body } });
    if (response.status !== 201) throw new Error(`account: ${response.status} ${response.text}`);
    return response.body.data.uuid as string;
  };
  const otherPort = () => new URL(other.url).port;

  beforeAll(async () => {
    other = await startFakeServer((request, response) => sendJson(response, 200, { reached: 'other', path: request.path }));
    api = await startFakeServer((request, response) => {
      answer(request, response);
    });
    function answer(request: FakeRequest, response: ServerResponse): unknown {
      switch (request.path) {
        case '/text':
          response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
          return response.end('plain words');
        case '/json-as-text':
          response.writeHead(200, { 'content-type': 'text/plain' });
          return response.end('{"a":1}');
        case '/bad-json':
          response.writeHead(200, { 'content-type': 'application/json' });
          return response.end('{not json');
        case '/problem':
          response.writeHead(422, { 'content-type': 'application/problem+json' });
          return response.end(JSON.stringify({ title: 'Unprocessable' }));
        case '/missing':
          return sendJson(response, 404, { message: 'no such thing' });
        case '/empty':
          response.writeHead(204);
          return response.end();
        case '/hang':
          return; // never answers
        case '/slow-body':
          response.writeHead(200, { 'content-type': 'text/plain' });
          response.write('first part…');
          return; // the rest never comes
        case '/big':
          response.writeHead(200, { 'content-type': 'text/plain' });
          return response.end(Buffer.alloc(HTTP_NODE_MAX_RESPONSE_BYTES + 1, 'x'));
        case '/at-limit':
          response.writeHead(200, { 'content-type': 'text/plain' });
          return response.end(Buffer.alloc(HTTP_NODE_MAX_RESPONSE_BYTES, 'y'));
        case '/redirect-same':
          response.writeHead(302, { location: '/echo?hop=1' });
          return response.end();
        case '/redirect-loopback':
          response.writeHead(302, { location: `http://127.0.0.1:${otherPort()}/internal` });
          return response.end();
        case '/redirect-metadata':
          response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
          return response.end();
        default:
          // Echoes what it received, secrets included, as a careless API might.
          return sendJson(
            response,
            200,
            {
              method: request.method,
              path: request.path,
              query: Object.fromEntries(request.query),
              authorization: request.headers.authorization ?? null,
              content_type: request.headers['content-type'] ?? null,
              custom: request.headers['x-custom'] ?? null,
              body: request.body,
            },
            { 'x-echo-authorization': String(request.headers.authorization ?? '') },
          );
      }
    }
    oauth = await startFakeOAuth2({ clientId: 'athena-client', clientSecret: CLIENT_SECRET });
    t = await createTestApp(dialect, { ATHENA_OUTBOUND_ALLOW: '127.0.0.1', ATHENA_OUTBOUND_TIMEOUT: '5' });
    closedCtx = { ...t.ctx, config: { ...t.ctx.config, outboundAllow: [] } };
    localhostCtx = { ...t.ctx, config: { ...t.ctx.config, outboundAllow: ['localhost'] } };
    owner = await t.signUp();
    member = await t.signUp();
    stranger = await t.signUp();
    workspace = owner.user.primary_workspace.uuid;
    const invited = await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspace}/members`, token: owner.token, body: { email: member.email, role: 'member' } });
    expect(invited.status).toBe(201);

    const bearer = await createProvider(owner, {
      name: 'Node API',
      authentication_strategy: 'token',
      authentication_config: { token: { type: 'bearer', key: 'Authorization' } },
    });
    privateAccount = await createAccount(owner, { provider_uuid: bearer, token: API_TOKEN, base_url: `${api.url}/v2/` });
    publicAccount = await createAccount(owner, { provider_uuid: bearer, token: PUBLIC_TOKEN, scope: 'public' });
    const byQuery = await createProvider(owner, {
      name: 'Query API',
      authentication_strategy: 'token',
      authentication_config: { token: { type: 'query', key: 'api_key' } },
    });
    queryAccount = await createAccount(owner, { provider_uuid: byQuery, token: QUERY_TOKEN });
    const strangers = await createProvider(stranger, { name: 'Stranger API', authentication_strategy: 'token' });
    strangerAccount = await createAccount(stranger, { provider_uuid: strangers, token: 'stranger-token', scope: 'public' });
    const oauthProvider = await t.request({ method: 'POST', url: '/api/v1/providers', token: owner.token, body: oauth2ProviderBody(oauth, CLIENT_SECRET) });
    const { callback } = await connectOAuth2(t, owner.token, oauthProvider.body.data.uuid);
    expect(callback.status).toBe(201);
    oauthAccount = callback.body.data.uuid;
  });
  afterAll(async () => {
    await t.close();
    await api.close();
    await other.close();
    await oauth.close();
  });

  describe('requests and responses', () => {
    it('sends the method, headers, merged query and a JSON-encoded body', async () => {
      const response = await service()(
        spec({
          method: 'post',
          url: `${api.url}/items?page=1&sort=name`,
          headers: { 'X-Custom': 'yes' },
          query: { page: '2', q: 'a b&c' },
          body: { name: 'Widget', tags: ['x'] },
        }),
        signal(),
      );

      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('application/json');
      expect(response.body).toEqual({
        method: 'POST',
        path: '/items',
        query: { page: '2', sort: 'name', q: 'a b&c' },
        authorization: null,
        content_type: 'application/json',
        custom: 'yes',
        body: '{"name":"Widget","tags":["x"]}',
      });
    });

    it('sends a string body as it is, keeping the content type it was given', async () => {
      const response = await service()(
        spec({ method: 'PUT', url: `${api.url}/raw`, headers: { 'content-type': 'application/xml' }, body: '<a>1</a>' }),
        signal(),
      );
      expect(response.body).toMatchObject({ method: 'PUT', content_type: 'application/xml', body: '<a>1</a>' });
    });

    it('refuses a body on a GET', async () => {
      const error = await failureOf(service()(spec({ url: `${api.url}/items`, body: { a: 1 } }), signal()));
      expect(error).toBeInstanceOf(NodeError);
      expect(error.message).toBe('A GET request cannot have a body.');
    });

    it('parses by response_format: auto reads JSON types, json insists, text never parses', async () => {
      const run = service();
      expect((await run(spec({ url: `${api.url}/text` }), signal())).body).toBe('plain words');
      expect((await run(spec({ url: `${api.url}/json-as-text` }), signal())).body).toBe('{"a":1}');
      expect((await run(spec({ url: `${api.url}/json-as-text`, response_format: 'json' }), signal())).body).toEqual({ a: 1 });
      expect((await run(spec({ url: `${api.url}/items`, response_format: 'text' }), signal())).body).toMatch(/^\{"method":"GET"/);
      expect((await run(spec({ url: `${api.url}/bad-json` }), signal())).body).toBe('{not json');
      expect((await run(spec({ url: `${api.url}/empty` }), signal())).body).toBe('');
      expect((await run(spec({ url: `${api.url}/empty`, response_format: 'json' }), signal())).body).toBeNull();

      const bad = await failureOf(run(spec({ url: `${api.url}/bad-json`, response_format: 'json' }), signal()));
      expect(bad).toBeInstanceOf(NodeError);
      expect(bad.message).toBe(`The response from ${new URL(api.url).host} is not valid JSON (response_format is json).`);
    });

    it('returns a non-2xx answer with its status instead of failing', async () => {
      const run = service();
      expect(await run(spec({ url: `${api.url}/missing` }), signal())).toMatchObject({ status: 404, body: { message: 'no such thing' } });
      expect(await run(spec({ url: `${api.url}/problem` }), signal())).toMatchObject({ status: 422, body: { title: 'Unprocessable' } });
    });

    it('follows a redirect within the allowed targets', async () => {
      const response = await service()(spec({ url: `${api.url}/redirect-same` }), signal());
      expect(response.body).toMatchObject({ path: '/echo', query: { hop: '1' } });
    });

    it('fails at timeout_ms, waiting for the headers or for the rest of the body', async () => {
      const run = service();
      const host = new URL(api.url).host;
      for (const path of ['/hang', '/slow-body']) {
        const started = Date.now();
        const error = await failureOf(run(spec({ url: `${api.url}${path}`, timeout_ms: 300 }), signal()));
        expect(error).toBeInstanceOf(NodeError);
        expect(error.message).toBe(`${host} did not answer within 0.3 seconds.`);
        expect((error as NodeError).details).toEqual({ reason: 'timeout' });
        expect(Date.now() - started).toBeLessThan(2000);
      }
    });

    it('caps timeout_ms at ATHENA_OUTBOUND_TIMEOUT', async () => {
      const capped = { ...t.ctx, config: { ...t.ctx.config, outboundTimeoutMs: 400 } };
      const started = Date.now();
      const error = await failureOf(service(capped)(spec({ url: `${api.url}/hang`, timeout_ms: 60_000 }), signal()));
      expect(error.message).toBe(`${new URL(api.url).host} did not answer within 0.4 seconds.`);
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('stops when the execution is cancelled, with the cancel’s reason rather than a node failure', async () => {
      const controller = new AbortController();
      const reason = new Error('execution cancelled');
      setTimeout(() => controller.abort(reason), 100);
      const error = await failureOf(service()(spec({ url: `${api.url}/hang`, timeout_ms: 4000 }), controller.signal));
      expect(error).toBe(reason);
    });

    it('reads a response of exactly the size limit and fails a larger one', async () => {
      const run = service();
      const atLimit = await run(spec({ url: `${api.url}/at-limit` }), signal());
      expect((atLimit.body as string).length).toBe(HTTP_NODE_MAX_RESPONSE_BYTES);

      const error = await failureOf(run(spec({ url: `${api.url}/big` }), signal()));
      expect(error).toBeInstanceOf(NodeError);
      expect(error.message).toBe(`The response from ${new URL(api.url).host} is larger than 10 MB, the limit of an HTTP request.`);
    });

    it('names a refused connection and a malformed URL', async () => {
      const port = await closedPort();
      const refused = await failureOf(service()(spec({ url: `http://127.0.0.1:${port}/` }), signal()));
      expect(refused).toBeInstanceOf(NodeError);
      expect(refused.message).toBe(`127.0.0.1:${port} could not be reached (ECONNREFUSED).`);

      const malformed = await failureOf(service()(spec({ url: 'not a url' }), signal()));
      expect(malformed).toBeInstanceOf(NodeError);
      expect(malformed.message).toBe('The URL "not a url" is not a valid absolute URL.');
      const ftp = await failureOf(service()(spec({ url: 'ftp://example.com/file' }), signal()));
      expect(ftp.message).toBe('Only http and https URLs can be requested, not ftp:.');
    });
  });

  describe('accounts', () => {
    it('signs the request with the account’s token and masks it where the server echoes it', async () => {
      const before = api.requests.length;
      const response = await service()(spec({ url: `${api.url}/whoami`, account_uuid: privateAccount, headers: { authorization: 'Bearer forged' } }), signal());

      expect(api.requests.length).toBe(before + 1);
      expect(api.requests.at(-1)!.headers.authorization).toBe(`Bearer ${API_TOKEN}`);
      expect(response.body).toMatchObject({ path: '/whoami', authorization: 'Bearer ********' });
      expect(response.headers['x-echo-authorization']).toBe('Bearer ********');
      expect(JSON.stringify(response)).not.toContain(API_TOKEN);
    });

    it('reads a URL that starts with {base_url} against the account’s base URL', async () => {
      const response = await service()(spec({ url: '{base_url}/users/7', account_uuid: privateAccount }), signal());
      expect(response.body).toMatchObject({ path: '/v2/users/7' });
      expect(api.requests.at(-1)!.headers.authorization).toBe(`Bearer ${API_TOKEN}`);

      const unsigned = await failureOf(service()(spec({ url: '{base_url}/users/7' }), signal()));
      expect(unsigned).toBeInstanceOf(NodeError);
      expect(unsigned.message).toBe('The URL starts with {base_url}, which needs an account with a base URL (account_uuid).');
    });

    it('puts a query-type token in the URL', async () => {
      const response = await service()(spec({ url: `${api.url}/search`, query: { q: 'x' }, account_uuid: queryAccount }), signal());
      expect(api.requests.at(-1)!.query.get('api_key')).toBe(QUERY_TOKEN);
      expect(response.body).toMatchObject({ query: { q: 'x', api_key: '********' } });
    });

    it('keeps the token out of every failure', async () => {
      const run = service();
      const port = await closedPort();
      const failures = await Promise.all([
        failureOf(run(spec({ url: `${api.url}/hang`, timeout_ms: 200, account_uuid: privateAccount }), signal())),
        failureOf(run(spec({ url: `${api.url}/redirect-metadata`, account_uuid: privateAccount }), signal())),
        failureOf(run(spec({ url: `http://127.0.0.1:${port}/`, account_uuid: queryAccount }), signal())),
        failureOf(run(spec({ url: `${api.url}/bad-json`, response_format: 'json', account_uuid: queryAccount }), signal())),
      ]);
      for (const error of failures) {
        expect(error).toBeInstanceOf(NodeError);
        expect(`${error.message} ${JSON.stringify((error as NodeError).details)} ${error.stack}`).not.toMatch(/CANARY/);
      }
    });

    it('signs with an OAuth2 access token, refreshing it once when the server answers 401', async () => {
      const run = service();
      const first = await run(spec({ url: `${oauth.url}/userinfo`, account_uuid: oauthAccount }), signal());
      expect(first).toMatchObject({ status: 200, body: { sub: 'oauth-user-42' } });

      oauth.invalidateAccessToken(oauth.issuedAccessTokens.at(-1)!);
      const refreshes = oauth.refreshCount();
      const second = await run(spec({ url: `${oauth.url}/userinfo`, account_uuid: oauthAccount }), signal());
      expect(second).toMatchObject({ status: 200, body: { sub: 'oauth-user-42' } });
      expect(oauth.refreshCount()).toBe(refreshes + 1);
      expect(oauth.requests.at(-1)!.headers.authorization).toBe(`Bearer ${oauth.issuedAccessTokens.at(-1)}`);
    });

    it('fails with the provider’s reason, and no token, when the refresh is refused', async () => {
      oauth.invalidateAccessToken(oauth.issuedAccessTokens.at(-1)!);
      oauth.failRefresh = true;
      try {
        const error = await failureOf(service()(spec({ url: `${oauth.url}/userinfo`, account_uuid: oauthAccount }), signal()));
        expect(error).toBeInstanceOf(NodeError);
        expect(error.message).toBe('The provider refused to refresh the token: The refresh token is invalid or expired.');
        for (const secret of [...oauth.issuedAccessTokens, ...oauth.issuedRefreshTokens, CLIENT_SECRET]) expect(error.message).not.toContain(secret);
      } finally {
        oauth.failRefresh = false;
      }
    });

    it('lets a member use a public account but not another user’s private one', async () => {
      const asMember = service(t.ctx, member.user.id);
      await asMember(spec({ url: `${api.url}/shared`, account_uuid: publicAccount }), signal());
      expect(api.requests.at(-1)!.headers.authorization).toBe(`Bearer ${PUBLIC_TOKEN}`);

      const before = api.requests.length;
      const error = await failureOf(asMember(spec({ url: `${api.url}/private`, account_uuid: privateAccount }), signal()));
      expect(error).toBeInstanceOf(NodeError);
      expect(error.message).toBe(`Account ${privateAccount} not found.`);
      expect(api.requests.length).toBe(before);
    });

    it('without a user, signs with public accounts only', async () => {
      const asNobody = service(t.ctx, null);
      await asNobody(spec({ url: `${api.url}/shared`, account_uuid: publicAccount }), signal());
      expect(api.requests.at(-1)!.headers.authorization).toBe(`Bearer ${PUBLIC_TOKEN}`);
      const error = await failureOf(asNobody(spec({ url: `${api.url}/private`, account_uuid: privateAccount }), signal()));
      expect(error.message).toBe(`Account ${privateAccount} not found.`);
    });

    it('does not find another workspace’s account or a malformed uuid', async () => {
      for (const uuid of [strangerAccount, 'not-a-uuid', '00000000-0000-7000-8000-000000000000']) {
        const error = await failureOf(service()(spec({ url: `${api.url}/x`, account_uuid: uuid }), signal()));
        expect(error).toBeInstanceOf(NodeError);
        expect(error.message).toBe(`Account ${uuid} not found.`);
      }
    });
  });

  describe('the outbound guard (SSRF)', () => {
    it.each([
      ['loopback', () => `${api.url}/echo`, '127.0.0.1'],
      ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
      ['a private address', () => 'http://10.0.0.1/admin', '10.0.0.1'],
      ['IPv6 loopback', () => 'http://[::1]:8080/', '::1'],
      ['an IPv4-mapped IPv6 loopback', () => 'http://[::ffff:127.0.0.1]/', '::ffff:7f00:1'],
    ])('refuses %s without ATHENA_OUTBOUND_ALLOW, before connecting', async (_name, url, address) => {
      const before = api.requests.length;
      const error = await failureOf(service(closedCtx)(spec({ url: url() }), signal()));
      expect(error).toBeInstanceOf(NodeError);
      expect(error.message).toMatch(new RegExp(`^Outbound calls to \\S+ \\(${address.replace(/[.[\]]/g, '\\$&')}\\) are not allowed: it is a private, loopback or link-local address\\.$`));
      expect((error as NodeError).details).toEqual({ reason: 'blocked' });
      expect(api.requests.length).toBe(before);
    });

    it('refuses a name that resolves to loopback (localhost), checked at the DNS lookup', async () => {
      const before = api.requests.length;
      const error = await failureOf(service(closedCtx)(spec({ url: `${api.url.replace('127.0.0.1', 'localhost')}/echo` }), signal()));
      expect(error).toBeInstanceOf(NodeError);
      expect(error.message).toMatch(/^Outbound calls to localhost \((127\.0\.0\.1|::1)\) are not allowed/);
      expect(api.requests.length).toBe(before);
    });

    it('refuses a redirect from an allowed server to another loopback port or to the metadata address', async () => {
      const run = service(localhostCtx);
      const allowed = api.url.replace('127.0.0.1', 'localhost');
      // The allowed name itself works.
      expect((await run(spec({ url: `${allowed}/echo` }), signal())).status).toBe(200);

      const otherBefore = other.requests.length;
      const toLoopback = await failureOf(run(spec({ url: `${allowed}/redirect-loopback` }), signal()));
      expect(toLoopback).toBeInstanceOf(NodeError);
      expect(toLoopback.message).toBe('Outbound calls to 127.0.0.1 (127.0.0.1) are not allowed: it is a private, loopback or link-local address.');
      expect(other.requests.length).toBe(otherBefore);

      const toMetadata = await failureOf(run(spec({ url: `${allowed}/redirect-metadata` }), signal()));
      expect(toMetadata).toBeInstanceOf(NodeError);
      expect(toMetadata.message).toBe('Outbound calls to 169.254.169.254 (169.254.169.254) are not allowed: it is a private, loopback or link-local address.');
    });

    it('reaches a loopback target that ATHENA_OUTBOUND_ALLOW opens', async () => {
      expect((await service()(spec({ url: `${api.url}/echo` }), signal())).status).toBe(200);
    });
  });
});
