import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { lastUserText, type ChatBody } from '../../test/fakes/openai-server.js';
import { FAKE_MODEL_KEY, replyChunks, type FakeModelScript } from './fake-model.js';

/**
 * The bench's model server, run as its own process so that what it costs is not charged to the
 * process that times the streams: OpenAI's Chat Completions wire format (`data:` chunks, usage,
 * `[DONE]`), `POST /v1/chat/completions` streamed or not, `GET /health`, and `GET /stats` (chat
 * calls answered). Its replies are `replyChunks` of the last user message.
 */
const script: FakeModelScript = {
  chunks: Number(process.env.FAKE_CHUNKS ?? 4),
  chunkDelayMs: Number(process.env.FAKE_CHUNK_DELAY_MS ?? 10),
};
let calls = 0;
let sequence = 0;

function json(response: http.ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function chat(body: ChatBody, response: http.ServerResponse): Promise<void> {
  calls += 1;
  const id = `chatcmpl-${++sequence}`;
  const model = body.model ?? 'unknown';
  const pieces = replyChunks(lastUserText(body), script.chunks);
  const usage = { prompt_tokens: 20, completion_tokens: pieces.length, total_tokens: 20 + pieces.length };
  if (!body.stream) {
    json(response, 200, {
      id,
      object: 'chat.completion',
      created: 1_700_000_000,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: pieces.join('') }, finish_reason: 'stop' }],
      usage,
    });
    return;
  }
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  response.write(chunk({ role: 'assistant', content: '' }) + chunk({ content: pieces[0] }));
  for (const piece of pieces.slice(1)) {
    if (script.chunkDelayMs > 0) await sleep(script.chunkDelayMs);
    if (response.destroyed) return;
    response.write(chunk({ content: piece }));
  }
  let tail = chunk({}, 'stop');
  if (body.stream_options?.include_usage) {
    tail += `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [], usage })}\n\n`;
  }
  response.end(`${tail}data: [DONE]\n\n`);
}

const server = http.createServer({ noDelay: true }, (request, response) => {
  const parts: Buffer[] = [];
  request.on('data', (part: Buffer) => parts.push(part));
  request.on('end', () => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method === 'GET' && path === '/health') return json(response, 200, { status: 'ok' });
    if (request.method === 'GET' && path === '/stats') return json(response, 200, { calls });
    if (request.headers.authorization !== `Bearer ${FAKE_MODEL_KEY}`) {
      return json(response, 401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' } });
    }
    if (request.method === 'POST' && path === '/v1/chat/completions') {
      chat(JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as ChatBody, response).catch((error: unknown) => {
        response.destroy(error as Error);
      });
      return;
    }
    json(response, 404, { error: { message: `Unknown route ${request.method} ${path}`, type: 'invalid_request_error' } });
  });
});

// Athena's model client and the bench keep their connections between calls.
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 3002), '127.0.0.1');
