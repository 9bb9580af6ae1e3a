import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundBlockedError, OutboundGuard, OutboundNetworkError, OutboundTimeoutError } from '../../src/lib/outbound/outbound-client.js';
import { createGuardedFetch } from '../../src/lib/outbound/guarded-fetch.js';
import { sendJson, startFakeServer, type FakeRequest, type FakeServer } from '../fakes/http-fake.js';

describe('guarded fetch', () => {
  let server: FakeServer;
  let other: FakeServer;
  const open = createGuardedFetch({ guard: new OutboundGuard(['127.0.0.1', 'localhost']), timeoutMs: 1000 });
  const closed = createGuardedFetch({ guard: new OutboundGuard([]), timeoutMs: 1000 });

  beforeAll(async () => {
    other = await startFakeServer((request, response) => sendJson(response, 200, { authorization: request.headers.authorization ?? null, path: request.path }));
    server = await startFakeServer(async (request, response) => {
      await answer(request.path, request, response);
    });
    async function answer(path: string, request: FakeRequest, response: ServerResponse): Promise<unknown> {
      switch (path) {
        case '/json':
          return sendJson(response, 200, { method: request.method, body: request.body, type: request.headers['content-type'] ?? null, x: request.headers['x-test'] ?? null });
        case '/stream':
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          response.write('data: first\n\n');
          // The second event waits until the client has read the first.
          await new Promise((resolve) => setTimeout(resolve, 150));
          response.end('data: second\n\n');
          return;
        case '/redirect-same':
          response.writeHead(302, { location: '/json' });
          return response.end();
        case '/redirect-post':
          response.writeHead(307, { location: '/json' });
          return response.end();
        case '/redirect-other':
          response.writeHead(302, { location: `${other.url.replace('127.0.0.1', 'localhost')}/landing` });
          return response.end();
        case '/redirect-metadata':
          response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
          return response.end();
        case '/hang':
          return; // never answers
        case '/big':
          response.writeHead(200, { 'content-type': 'text/plain' });
          return response.end('x'.repeat(64 * 1024));
        case '/no-content':
          response.writeHead(204);
          return response.end();
        default:
          return sendJson(response, 404, { message: 'nope' });
      }
    }
  });
  afterAll(async () => {
    await server.close();
    await other.close();
  });

  it('refuses a loopback literal without ATHENA_OUTBOUND_ALLOW, before connecting', async () => {
    const before = server.requests.length;
    await expect(closed(`${server.url}/json`)).rejects.toBeInstanceOf(OutboundBlockedError);
    expect(server.requests.length).toBe(before);
  });

  it('refuses a name that resolves to loopback, checked inside the DNS lookup', async () => {
    const before = server.requests.length;
    await expect(closed(`${server.url.replace('127.0.0.1', 'localhost')}/json`)).rejects.toBeInstanceOf(OutboundBlockedError);
    expect(server.requests.length).toBe(before);
  });

  it.each(['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/', 'http://[::1]/', 'http://[::ffff:127.0.0.1]/'])(
    'refuses %s',
    async (url) => {
      await expect(closed(url)).rejects.toBeInstanceOf(OutboundBlockedError);
    },
  );

  it('sends method, headers and body like fetch and answers a Response', async () => {
    const response = await open(`${server.url}/json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test': 'yes' },
      body: JSON.stringify({ a: 1 }),
    });

    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(200);
    expect(response.ok).toBe(true);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.url).toBe(`${server.url}/json`);
    expect(await response.json()).toEqual({ method: 'POST', body: '{"a":1}', type: 'application/json', x: 'yes' });
  });

  it('streams the body as it arrives (Server-Sent Events)', async () => {
    const response = await open(`${server.url}/stream`);
    const reader = response.body!.getReader();
    const started = Date.now();
    const first = await reader.read();

    expect(new TextDecoder().decode(first.value)).toBe('data: first\n\n');
    expect(Date.now() - started).toBeLessThan(140);
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
    expect(rest).toBe('data: second\n\n');
  });

  it('follows redirects within the guard, keeping a 307’s method and body', async () => {
    const same = await open(`${server.url}/redirect-same`);
    expect(same.redirected).toBe(true);
    expect(await same.json()).toMatchObject({ method: 'GET' });

    const post = await open(`${server.url}/redirect-post`, { method: 'POST', body: 'kept', headers: { 'content-type': 'text/plain' } });
    expect(await post.json()).toMatchObject({ method: 'POST', body: 'kept' });
  });

  it('drops credentials on a redirect to another origin', async () => {
    const response = await open(`${server.url}/redirect-other`, { headers: { authorization: 'Bearer secret-1' } });
    expect(await response.json()).toEqual({ authorization: null, path: '/landing' });
  });

  it('checks every redirect hop: a redirect to the metadata address is refused', async () => {
    await expect(open(`${server.url}/redirect-metadata`)).rejects.toBeInstanceOf(OutboundBlockedError);
  });

  it("answers the redirect itself with redirect: 'manual'", async () => {
    const response = await open(`${server.url}/redirect-same`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/json');
  });

  it('gives up when the headers do not arrive in time', async () => {
    const quick = createGuardedFetch({ guard: new OutboundGuard(['127.0.0.1']), timeoutMs: 200 });
    const started = Date.now();
    await expect(quick(`${server.url}/hang`)).rejects.toBeInstanceOf(OutboundTimeoutError);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('stops when the caller aborts', async () => {
    const controller = new AbortController();
    const pending = open(`${server.url}/hang`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('errors a body larger than the limit', async () => {
    const small = createGuardedFetch({ guard: new OutboundGuard(['127.0.0.1']), timeoutMs: 1000, maxResponseBytes: 1024 });
    const response = await small(`${server.url}/big`);
    await expect(response.text()).rejects.toBeInstanceOf(OutboundNetworkError);
  });

  it('answers a 204 with an empty body', async () => {
    const response = await open(`${server.url}/no-content`, { method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
  });
});
