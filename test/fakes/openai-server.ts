import { setTimeout as sleep } from 'node:timers/promises';
import { sendJson, startFakeServer, type FakeServer } from './http-fake.js';

export interface FakeOpenAiOptions {
  apiKey: string;
  models?: Array<{ id: string; owned_by?: string }>;
  /** Sent as the `openai-organization` response header, as OpenAI does. */
  organization?: string;
  /** Answer nothing for this long (to test timeouts). */
  delayMs?: number;
  /** Echo the whole rejected key in the error message (worst case of a real server). */
  echoKey?: boolean;
}

/**
 * An OpenAI-compatible server (vLLM, LM Studio, llama.cpp server speak the same): `GET /v1/models`
 * and `POST /v1/chat/completions` with `Authorization: Bearer <key>`, errors in OpenAI's shape.
 */
export async function startFakeOpenAi(options: FakeOpenAiOptions): Promise<FakeServer> {
  return startFakeServer(async (request, response) => {
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
      const body = JSON.parse(request.body || '{}') as { model?: string; messages?: Array<{ content?: string }> };
      const last = body.messages?.at(-1)?.content ?? '';
      sendJson(
        response,
        200,
        {
          id: 'chatcmpl-fake',
          object: 'chat.completion',
          created: 1_700_000_000,
          model: body.model ?? 'unknown',
          choices: [{ index: 0, message: { role: 'assistant', content: `echo: ${last}` }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
        },
        headers,
      );
      return;
    }
    sendJson(response, 404, { error: { message: `Unknown route ${request.method} ${request.path}`, type: 'invalid_request_error' } });
  });
}
