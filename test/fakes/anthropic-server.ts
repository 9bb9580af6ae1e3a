import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { sendJson, startFakeServer, type FakeServer } from './http-fake.js';
import { ModelScript, splitWords, type ScriptSource, type ScriptedReply } from './model-script.js';

export interface FakeAnthropic extends FakeServer {
  script(source: ScriptSource): void;
  /** Bodies of the `POST /v1/messages` requests received, parsed. */
  messageBodies(): Array<Record<string, any>>;
}

/**
 * An Anthropic-compatible server: `GET /v1/models` and `POST /v1/messages` (plain, and streamed
 * as Anthropic's named SSE events with text and tool_use blocks) with `x-api-key` and
 * `anthropic-version`, errors in Anthropic's `{type: "error", error: {...}}` shape.
 */
export async function startFakeAnthropic(options: { apiKey: string; organizationId?: string; script?: ScriptSource }): Promise<FakeAnthropic> {
  const script = new ModelScript(() => ({ text: 'Hello from the fake.' }));
  if (options.script) script.set(options.script);
  const server = await startFakeServer(async (request, response) => {
    if (!request.headers['anthropic-version']) {
      sendJson(response, 400, {
        type: 'error',
        error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' },
      });
      return;
    }
    if (request.headers['x-api-key'] !== options.apiKey) {
      sendJson(response, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
      return;
    }
    const headers: Record<string, string> = options.organizationId ? { 'anthropic-organization-id': options.organizationId } : {};
    if (request.method === 'GET' && request.path === '/v1/models') {
      sendJson(
        response,
        200,
        {
          data: [
            { type: 'model', id: 'claude-sonnet-4-20250514', display_name: 'Claude Sonnet 4', created_at: '2025-05-22T00:00:00Z' },
            { type: 'model', id: 'claude-3-5-haiku-20241022', display_name: 'Claude Haiku 3.5', created_at: '2024-10-22T00:00:00Z' },
          ],
          has_more: false,
          first_id: 'claude-sonnet-4-20250514',
          last_id: 'claude-3-5-haiku-20241022',
        },
        headers,
      );
      return;
    }
    if (request.method === 'POST' && request.path === '/v1/messages') {
      const body = JSON.parse(request.body || '{}') as { model?: string; stream?: boolean };
      await answerMessages(response, body, script.next(request));
      return;
    }
    sendJson(response, 404, { type: 'error', error: { type: 'not_found_error', message: 'Not found' } });
  });
  return {
    ...server,
    script: (source) => script.set(source),
    messageBodies: () =>
      server.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages').map((r) => JSON.parse(r.body) as Record<string, any>),
  };
}

let sequence = 0;

async function answerMessages(response: ServerResponse, body: { model?: string; stream?: boolean }, reply: ScriptedReply): Promise<void> {
  if ('hang' in reply) return;
  if ('error' in reply) {
    const type = reply.error.type ?? (reply.error.status === 429 ? 'rate_limit_error' : reply.error.status === 529 ? 'overloaded_error' : 'api_error');
    sendJson(response, reply.error.status, { type: 'error', error: { type, message: reply.error.message } }, reply.error.retryAfter ? { 'retry-after': reply.error.retryAfter } : {});
    return;
  }
  if (reply.delayMs) await sleep(reply.delayMs);
  const id = `msg_${++sequence}`;
  const usage = reply.usage ?? { input: 12, output: 6 };
  const toolCalls = 'toolCalls' in reply ? reply.toolCalls.map((c, i) => ({ id: c.id ?? `toolu_${sequence}_${i}`, name: c.name, input: c.input })) : [];
  const text = reply.text ?? '';
  const stopReason = toolCalls.length > 0 ? 'tool_use' : 'end_turn';
  const content = [
    ...(text ? [{ type: 'text', text }] : []),
    ...toolCalls.map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: c.input })),
  ];

  if (!body.stream) {
    sendJson(response, 200, {
      id,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage: { input_tokens: usage.input, output_tokens: usage.output },
    });
    return;
  }

  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const event = (name: string, data: unknown) => response.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  event('message_start', {
    type: 'message_start',
    message: { id, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.input, output_tokens: 1 } },
  });
  let index = 0;
  if (text) {
    event('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
    const pieces = 'chunks' in reply && reply.chunks ? reply.chunks : splitWords(text);
    const stallAfter = 'stallAfterChunks' in reply ? reply.stallAfterChunks : undefined;
    for (const [i, piece] of pieces.entries()) {
      if (stallAfter !== undefined && i >= stallAfter) return;
      if ('chunkDelayMs' in reply && reply.chunkDelayMs) await sleep(reply.chunkDelayMs);
      if (response.destroyed) return;
      event('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
    }
    event('content_block_stop', { type: 'content_block_stop', index });
    index += 1;
  }
  for (const call of toolCalls) {
    event('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} } });
    const json = JSON.stringify(call.input);
    const half = Math.ceil(json.length / 2);
    event('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(0, half) } });
    event('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(half) } });
    event('content_block_stop', { type: 'content_block_stop', index });
    index += 1;
  }
  event('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output } });
  event('message_stop', { type: 'message_stop' });
  response.end();
}
