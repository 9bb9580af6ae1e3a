import { sendJson, startFakeServer, type FakeServer } from './http-fake.js';

/** An Ollama server: `GET /api/tags` lists the local models, `POST /api/chat` answers. No authentication. */
export async function startFakeOllama(models: string[] = ['llama3.2:latest', 'qwen2.5-coder:7b']): Promise<FakeServer> {
  return startFakeServer((request, response) => {
    if (request.method === 'GET' && request.path === '/api/tags') {
      sendJson(response, 200, {
        models: models.map((name) => ({
          name,
          model: name,
          modified_at: '2025-06-01T10:00:00Z',
          size: 2_019_393_189,
          digest: 'a80c4f17acd5',
          details: { format: 'gguf', family: 'llama', parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
        })),
      });
      return;
    }
    if (request.method === 'POST' && request.path === '/api/chat') {
      const body = JSON.parse(request.body || '{}') as { model?: string };
      sendJson(response, 200, { model: body.model, message: { role: 'assistant', content: 'Hello from Ollama.' }, done: true });
      return;
    }
    sendJson(response, 404, { error: 'not found' });
  });
}
