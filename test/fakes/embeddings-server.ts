import { createHash } from 'node:crypto';
import { sendJson, startFakeServer, type FakeServer } from './http-fake.js';

/**
 * Words that mean the same thing share a dimension, so texts with no word in common can still
 * be close: the "meaning" a real embedding model would find, made deterministic.
 */
const CONCEPTS: string[][] = [
  ['coffee', 'espresso', 'latte', 'cappuccino', 'beverage', 'drink', 'drinks', 'tea', 'caffeine'],
  ['car', 'cars', 'automobile', 'vehicle', 'sedan', 'drive', 'drives', 'driving'],
  ['dog', 'dogs', 'puppy', 'canine', 'pet', 'pets', 'cat', 'cats', 'kitten'],
  ['invoice', 'invoices', 'billing', 'payment', 'payments', 'pay', 'paid'],
  ['vacation', 'holiday', 'holidays', 'trip', 'travel', 'travelling'],
];
const CONCEPT_WEIGHT = 4;

export interface FakeEmbeddingsOptions {
  apiKey: string;
  /** Model ids the server knows; others answer 404 as OpenAI does. */
  models?: string[];
  dimensions?: number;
}

export interface FakeEmbeddingsServer extends FakeServer {
  /** Answer every embeddings request with this status (null: answer normally). */
  failWith(status: number | null): void;
  /** The vector the server gives a text. */
  vectorOf(text: string): number[];
}

/** A deterministic vector: concept dimensions first, then hashed words with a small weight. */
export function fakeEmbedding(text: string, dimensions = 32): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  const words = text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  for (const word of words) {
    const concept = CONCEPTS.findIndex((group) => group.includes(word));
    if (concept >= 0) vector[concept] = vector[concept]! + CONCEPT_WEIGHT;
    const hash = createHash('sha256').update(word).digest();
    const slot = CONCEPTS.length + (hash.readUInt32BE(0) % (dimensions - CONCEPTS.length));
    vector[slot] = vector[slot]! + 1;
  }
  // Texts without any word still get a direction, so every vector can be normalised.
  if (words.length === 0) vector[dimensions - 1] = 1;
  return vector;
}

/** An OpenAI-compatible `POST /v1/embeddings` on loopback, with `Authorization: Bearer <key>`. */
export async function startFakeEmbeddings(options: FakeEmbeddingsOptions): Promise<FakeEmbeddingsServer> {
  const models = options.models ?? ['fake-embed-small'];
  const dimensions = options.dimensions ?? 32;
  let failure: number | null = null;
  const server = await startFakeServer((request, response) => {
    if (request.headers.authorization !== `Bearer ${options.apiKey}`) {
      sendJson(response, 401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' } });
      return;
    }
    if (request.method !== 'POST' || request.path !== '/v1/embeddings') {
      sendJson(response, 404, { error: { message: `Unknown route ${request.method} ${request.path}`, type: 'invalid_request_error' } });
      return;
    }
    if (failure !== null) {
      sendJson(response, failure, { error: { message: `Failing on purpose (key ${options.apiKey})`, type: 'server_error' } });
      return;
    }
    const body = JSON.parse(request.body || '{}') as { model?: string; input?: string | string[] };
    if (!body.model || !models.includes(body.model)) {
      sendJson(response, 404, { error: { message: `The model ${body.model} does not exist`, type: 'invalid_request_error', code: 'model_not_found' } });
      return;
    }
    const inputs = Array.isArray(body.input) ? body.input : [body.input ?? ''];
    sendJson(response, 200, {
      object: 'list',
      data: inputs.map((input, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(input, dimensions) })),
      model: body.model,
      usage: { prompt_tokens: inputs.length * 4, total_tokens: inputs.length * 4 },
    });
  });
  return {
    ...server,
    failWith(status) {
      failure = status;
    },
    vectorOf: (text) => fakeEmbedding(text, dimensions),
  };
}
