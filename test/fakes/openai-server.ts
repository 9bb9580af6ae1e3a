import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { sendJson, startFakeServer, type FakeRequest, type FakeServer } from './http-fake.js';
import { ModelScript, splitWords, type ScriptSource, type ScriptedReply } from './model-script.js';

export interface FakeOpenAiOptions {
  apiKey: string;
  models?: Array<{ id: string; owned_by?: string }>;
  /** Sent as the `openai-organization` response header, as OpenAI does. */
  organization?: string;
  /** Answer nothing for this long (to test timeouts). */
  delayMs?: number;
  /** Echo the whole rejected key in the error message (worst case of a real server). */
  echoKey?: boolean;
  /** Replies to `POST /v1/chat/completions`; by default the last user message is echoed. */
  script?: ScriptSource;
}

export interface FakeOpenAi extends FakeServer {
  /** Replaces what the next chat completions answer. */
  script(source: ScriptSource): void;
  /** Bodies of the chat completion requests received, parsed. */
  chatBodies(): Array<Record<string, any>>;
  /** Chat completions answered so far (since the last `script`). */
  readonly calls: number;
  /** Streamed answers the client hung up on before their end. */
  readonly abandoned: number;
}

/** The parts of a chat completion request the fakes read. */
export interface ChatBody {
  model?: string;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  messages?: Array<{ role: string; content?: unknown }>;
}

/** The text of the last user message of a chat completion request. */
export function lastUserText(body: ChatBody): string {
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user');
  const content = last?.content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p: { text?: string }) => p.text ?? '').join('');
  return '';
}

/**
 * An OpenAI-compatible server (vLLM, LM Studio, llama.cpp server speak the same): `GET /v1/models`
 * and `POST /v1/chat/completions` (plain and streamed with `data:` chunks, tool calls included),
 * `POST /v1/embeddings` is not served. `Authorization: Bearer <key>`; errors in OpenAI's shape.
 */
export async function startFakeOpenAi(options: FakeOpenAiOptions): Promise<FakeOpenAi> {
  const script = new ModelScript((request) => ({ text: `echo: ${lastUserText(JSON.parse(request.body || '{}') as ChatBody)}` }));
  let abandoned = 0;
  if (options.script) script.set(options.script);
  const server = await startFakeServer(async (request, response) => {
    if (options.delayMs) await sleep(options.delayMs);
    const authorization = request.headers.authorization ?? '';
    const key = authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
    if (key !== options.apiKey) {
      const shown = options.echoKey ? key : `${key.slice(0, 3)}***${key.slice(-4)}`;
      sendJson(response, 401, {
        error: {
          message: key ? `Incorrect API key provided: ${shown}.` : 'You didn\'t provide an API key.',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
      return;
    }
    const headers: Record<string, string> = options.organization ? { 'openai-organization': options.organization } : {};
    if (request.method === 'GET' && request.path === '/v1/models') {
      const models = options.models ?? [
        { id: 'llama-3.1-8b-instruct', owned_by: 'vllm' },
        { id: 'qwen2.5-coder-7b', owned_by: 'vllm' },
      ];
      sendJson(
        response,
        200,
        { object: 'list', data: models.map((m) => ({ id: m.id, object: 'model', created: 1_700_000_000, owned_by: m.owned_by ?? 'system' })) },
        headers,
      );
      return;
    }
    if (request.method === 'POST' && request.path === '/v1/chat/completions') {
      const body = JSON.parse(request.body || '{}') as ChatBody;
      response.on('close', () => {
        if (!response.writableFinished) abandoned += 1;
      });
      await answerChat(response, body, script.next(request), headers);
      return;
    }
    sendJson(response, 404, { error: { message: `Unknown route ${request.method} ${request.path}`, type: 'invalid_request_error' } });
  });
  return {
    ...server,
    script: (source) => script.set(source),
    chatBodies: () =>
      server.requests.filter((r) => r.method === 'POST' && r.path === '/v1/chat/completions').map((r) => JSON.parse(r.body) as Record<string, any>),
    get calls() {
      return script.calls;
    },
    get abandoned() {
      return abandoned;
    },
  };
}

let sequence = 0;

async function answerChat(response: ServerResponse, body: ChatBody, reply: ScriptedReply, headers: Record<string, string>): Promise<void> {
  if ('hang' in reply) return; // never answers; the client's timeout has to end it
  if ('error' in reply) {
    const extra: Record<string, string> = reply.error.retryAfter ? { 'retry-after': reply.error.retryAfter } : {};
    sendJson(response, reply.error.status, { error: { message: reply.error.message, type: reply.error.type ?? 'server_error', code: null } }, {
      ...headers,
      ...extra,
    });
    return;
  }
  if (reply.delayMs) await sleep(reply.delayMs);
  const id = `chatcmpl-${++sequence}`;
  const model = body.model ?? 'unknown';
  const usage = reply.usage ?? { input: 10, output: 5 };
  const usageBody = { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output };
  const toolCalls = 'toolCalls' in reply ? reply.toolCalls.map((c, i) => ({ id: c.id ?? `call_${sequence}_${i}`, name: c.name, input: c.input })) : [];
  const text = reply.text ?? '';
  const finishReason = toolCalls.length > 0 ? 'tool_calls' : 'stop';

  if (!body.stream) {
    sendJson(
      response,
      200,
      {
        id,
        object: 'chat.completion',
        created: 1_700_000_000,
        model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: text || null,
              ...(toolCalls.length > 0
                ? { tool_calls: toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.input) } })) }
                : {}),
            },
            finish_reason: finishReason,
          },
        ],
        usage: usageBody,
      },
      headers,
    );
    return;
  }

  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  response.write(chunk({ role: 'assistant', content: '' }));
  const pieces = 'chunks' in reply && reply.chunks ? reply.chunks : text ? splitWords(text) : [];
  const chunkDelay = 'chunkDelayMs' in reply ? (reply.chunkDelayMs ?? 0) : 0;
  const stallAfter = 'stallAfterChunks' in reply ? reply.stallAfterChunks : undefined;
  for (const [index, piece] of pieces.entries()) {
    if (stallAfter !== undefined && index >= stallAfter) return; // keeps the connection open, sends nothing more
    if (chunkDelay) await sleep(chunkDelay);
    if (response.destroyed) return;
    response.write(chunk({ content: piece }));
  }
  for (const [index, call] of toolCalls.entries()) {
    const args = JSON.stringify(call.input);
    const half = Math.ceil(args.length / 2);
    response.write(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: args.slice(0, half) } }] }));
    response.write(chunk({ tool_calls: [{ index, function: { arguments: args.slice(half) } }] }));
  }
  response.write(chunk({}, finishReason));
  if (body.stream_options?.include_usage) {
    response.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [], usage: usageBody })}\n\n`);
  }
  response.write('data: [DONE]\n\n');
  response.end();
}

export type { FakeRequest };
