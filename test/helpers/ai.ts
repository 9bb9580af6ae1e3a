import http from 'node:http';
import type { TestApp } from './test-app.js';

/** Official catalog ids (migration 0002 gives them fixed values). */
export const PROVIDERS = {
  openai: '01980000-0000-7000-8000-000000000001',
  anthropic: '01980000-0000-7000-8000-000000000002',
  openaiCompatible: '01980000-0000-7000-8000-000000000009',
  http: '01980000-0000-7000-8000-00000000000a',
  mcp: '01980000-0000-7000-8000-00000000000b',
} as const;

/** gpt-4o-mini: $0.15 in / $0.60 out per million tokens, tools, vision and JSON. */
export const GPT_4O_MINI = '01980000-0000-7000-8001-000000000005';
/** Claude Haiku 3.5: $0.80 in / $4 out per million tokens, tools and vision. */
export const CLAUDE_HAIKU = '01980000-0000-7000-8001-00000000000b';
/** DeepSeek-R1: no tool calling, no vision. */
export const DEEPSEEK_R1 = '01980000-0000-7000-8001-000000000016';

/** A connected account of an official model provider whose base URL is a fake on loopback. */
export async function connectModelAccount(
  t: TestApp,
  token: string,
  options: { provider: string; baseUrl: string; apiKey: string; name?: string; scope?: 'private' | 'public'; headers?: Record<string, string> },
): Promise<string> {
  const response = await t.request({
    method: 'POST',
    url: '/api/v1/accounts',
    token,
    headers: options.headers,
    body: {
      provider_uuid: options.provider,
      provider_display_name: options.name ?? 'Fake model server',
      provider_authentication_strategy: 'token',
      token: options.apiKey,
      base_url: options.baseUrl,
      scope: options.scope ?? 'private',
    },
  });
  if (response.status !== 201) throw new Error(`account creation failed: ${response.status} ${response.text}`);
  return response.body.data.uuid;
}

export async function createAgent(t: TestApp, token: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<any> {
  const response = await t.request({ method: 'POST', url: '/api/v1/agents', token, body: { name: 'Helper', instructions: 'You help.', ...body }, headers });
  if (response.status !== 201) throw new Error(`agent creation failed: ${response.status} ${response.text}`);
  return response.body.data;
}

export interface SseEvent {
  id: number;
  event: string;
  data: any;
}

/** Parses a Server-Sent Events body into its events (comments and `retry:` skipped). */
export function parseSse(body: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of body.split('\n\n')) {
    let id = 0;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('id: ')) id = Number(line.slice(4));
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) events.push({ id, event, data: JSON.parse(data.join('\n')) });
  }
  return events;
}

/**
 * A streamed request over a real socket, read event by event, that can be dropped midway (as a
 * client that loses its connection).
 */
export function openStream(
  url: string,
  options: { method?: string; token: string; body?: unknown; headers?: Record<string, string> },
): { events: SseEvent[]; status: Promise<number>; next(predicate: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>; ended: Promise<void>; drop(): void } {
  const events: SseEvent[] = [];
  const waiters: Array<{ predicate: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }> = [];
  let buffer = '';
  let resolveStatus!: (status: number) => void;
  let resolveEnded!: () => void;
  const status = new Promise<number>((resolve) => (resolveStatus = resolve));
  const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const request = http.request(url, {
    method: options.method ?? 'POST',
    headers: {
      authorization: `Bearer ${options.token}`,
      accept: 'text/event-stream',
      ...(payload ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
      ...options.headers,
    },
  });
  request.on('response', (response) => {
    resolveStatus(response.statusCode ?? 0);
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      buffer += chunk;
      let index: number;
      while ((index = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, index + 2);
        buffer = buffer.slice(index + 2);
        for (const event of parseSse(block)) {
          events.push(event);
          for (const waiter of [...waiters]) {
            if (waiter.predicate(event)) {
              waiters.splice(waiters.indexOf(waiter), 1);
              waiter.resolve(event);
            }
          }
        }
      }
    });
    response.on('end', resolveEnded);
    response.on('close', resolveEnded);
  });
  request.on('error', () => resolveEnded());
  if (payload) request.write(payload);
  request.end();
  return {
    events,
    status,
    ended,
    next(predicate, timeoutMs = 10_000) {
      const found = events.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise<SseEvent>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms; got ${events.map((e) => e.event).join(', ')}`)), timeoutMs);
        waiters.push({ predicate, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
    drop() {
      request.destroy();
    },
  };
}

/** Waits until `check` holds (polling), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
