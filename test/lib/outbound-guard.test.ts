import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { OutboundBlockedError, OutboundClient, OutboundGuard, OutboundTimeoutError } from '../../src/lib/outbound/outbound-client.js';

describe('outbound guard: addresses', () => {
  const guard = new OutboundGuard([]);

  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '10.0.0.1',
    '172.16.5.4',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd12:3456::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    'not-an-ip',
  ])('refuses %s', (address) => {
    expect(guard.isBlockedAddress(address)).toBe(true);
    expect(() => guard.assertAllowed('example.test', address)).toThrow(OutboundBlockedError);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('lets %s through', (address) => {
    expect(guard.isBlockedAddress(address)).toBe(false);
  });

  it('opens hosts, addresses and CIDR ranges named in the allow list', () => {
    const open = new OutboundGuard(['10.1.0.0/16', '192.168.1.10', 'ollama.internal', '*.corp.example', 'fd00::/8']);
    expect(open.isBlockedAddress('10.1.2.3')).toBe(false);
    expect(open.isBlockedAddress('10.2.0.1')).toBe(true);
    expect(open.isBlockedAddress('192.168.1.10')).toBe(false);
    expect(open.isBlockedAddress('192.168.1.11')).toBe(true);
    expect(open.isBlockedAddress('fd00::5')).toBe(false);
    expect(() => open.assertAllowed('ollama.internal', '10.9.9.9')).not.toThrow();
    expect(() => open.assertAllowed('models.corp.example', '10.9.9.9')).not.toThrow();
    expect(() => open.assertAllowed('corp.example.evil.test', '10.9.9.9')).toThrow(OutboundBlockedError);
  });
});

describe('outbound guard: configuration', () => {
  it('parses ATHENA_OUTBOUND_ALLOW and the timeout', () => {
    const config = loadConfig({ ATHENA_OUTBOUND_ALLOW: '127.0.0.1, 10.0.0.0/8,ollama.lan,*.corp.example', ATHENA_OUTBOUND_TIMEOUT: '3' });
    expect(config.outboundAllow).toEqual(['127.0.0.1', '10.0.0.0/8', 'ollama.lan', '*.corp.example']);
    expect(config.outboundTimeoutMs).toBe(3000);
  });

  it.each(['10.0.0.0/33', 'http://x', 'a b', '10.0.0.1/8/1'])('refuses %s, naming the variable only', (value) => {
    let error: unknown;
    try {
      loadConfig({ ATHENA_OUTBOUND_ALLOW: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('ATHENA_OUTBOUND_ALLOW');
    expect((error as Error).message).not.toContain(value);
  });
});

/** A server on a loopback address; `handler` answers every request. */
async function listen(host: string, handler: http.RequestListener): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits += 1;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    hits: () => hits,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('outbound client', () => {
  let internal: Awaited<ReturnType<typeof listen>>;
  let redirector: Awaited<ReturnType<typeof listen>>;
  let silent: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    // 127.0.0.2 is loopback too on Linux: it stands for an internal service.
    internal = await listen('127.0.0.2', (_req, res) => res.end('internal secrets'));
    redirector = await listen('127.0.0.1', (req, res) => {
      res.writeHead(302, { location: req.url === '/same' ? '/landing' : `${internal.url}/admin` });
      res.end();
    });
    silent = await listen('127.0.0.1', () => undefined);
  });
  afterAll(async () => {
    await internal.close();
    await redirector.close();
    await silent.close();
  });

  it('refuses loopback addresses and names that resolve to them, before connecting', async () => {
    const client = new OutboundClient({ allow: [], timeoutMs: 2000 });
    await expect(client.request({ url: `${internal.url}/` })).rejects.toBeInstanceOf(OutboundBlockedError);
    const port = new URL(internal.url).port;
    await expect(client.request({ url: `http://localhost:${port}/` })).rejects.toBeInstanceOf(OutboundBlockedError);
    await expect(client.request({ url: `http://[::ffff:127.0.0.2]:${port}/` })).rejects.toBeInstanceOf(OutboundBlockedError);
    expect(internal.hits()).toBe(0);
  });

  it('checks every redirect: an allowed host cannot bounce the call to an internal one', async () => {
    const client = new OutboundClient({ allow: ['127.0.0.1'], timeoutMs: 2000 });
    const error = await client.request({ url: `${redirector.url}/start` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboundBlockedError);
    expect((error as OutboundBlockedError).address).toBe('127.0.0.2');
    expect(internal.hits()).toBe(0);
  });

  it('follows redirects where they are allowed, and calls anything unguarded (model base URLs)', async () => {
    const allowed = new OutboundClient({ allow: ['127.0.0.0/8'], timeoutMs: 2000 });
    const followed = await allowed.request({ url: `${redirector.url}/start` });
    expect(followed.status).toBe(200);
    expect(followed.text).toBe('internal secrets');

    const unguarded = new OutboundClient({ allow: [], timeoutMs: 2000 });
    const response = await unguarded.request({ url: `${internal.url}/`, guard: false });
    expect(response.status).toBe(200);
  });

  it('gives up after the time limit', async () => {
    const client = new OutboundClient({ allow: ['127.0.0.1'], timeoutMs: 200 });
    const started = Date.now();
    await expect(client.request({ url: `${silent.url}/` })).rejects.toBeInstanceOf(OutboundTimeoutError);
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
