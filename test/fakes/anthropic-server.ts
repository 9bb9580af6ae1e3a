import { sendJson, startFakeServer, type FakeServer } from './http-fake.js';

/**
 * An Anthropic-compatible server: `GET /v1/models` and `POST /v1/messages` with `x-api-key` and
 * `anthropic-version`, errors in Anthropic's `{type: "error", error: {...}}` shape.
 */
export async function startFakeAnthropic(options: { apiKey: string; organizationId?: string }): Promise<FakeServer> {
  return startFakeServer((request, response) => {
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
      const body = JSON.parse(request.body || '{}') as { model?: string };
      sendJson(response, 200, {
        id: 'msg_fake',
        type: 'message',
        role: 'assistant',
        model: body.model,
        content: [{ type: 'text', text: 'Hello from the fake.' }],
        stop_reason: 'end_turn',
        usage: { input_tokens: 5, output_tokens: 4 },
      });
      return;
    }
    sendJson(response, 404, { type: 'error', error: { type: 'not_found_error', message: 'Not found' } });
  });
}
