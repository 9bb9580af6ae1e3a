import type { EmbeddingModel } from 'ai';
import { LRUCache } from 'lru-cache';
import { EmbeddingsUnsupportedError, embeddingModelOf } from '../../ai/model-factory.js';
import { retryingFetch } from '../../ai/retrying-fetch.js';
import { isApiCallError, loadAi } from '../../ai/sdk.js';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { accessTokenOf } from '../accounts/accounts.oauth2.js';
import { credentialsOf } from '../accounts/accounts.service.js';
import type { AccountRow } from '../accounts/accounts.table.js';
import { findProviderById } from '../providers/providers.repository.js';
import { modelApiOf, providerMetadata } from '../providers/providers.service.js';
import * as repo from './memories.repository.js';

/** Turns texts into vectors with the workspace's embedding model. */
export interface Embedder {
  /** The model id stored beside each vector: only vectors of the same model are compared. */
  modelId: string;
  embed(texts: string[]): Promise<number[][]>;
}

/**
 * What an embedding call is for. Storing retries 429/5xx within the model retry budget (the
 * memory is worth the wait); a retrieval query gets one try of at most 10 seconds, since a run
 * waits on it and full text still answers without it.
 */
export type EmbeddingPurpose = 'store' | 'query';
const QUERY_TIMEOUT_MS = 10_000;

/** The AI SDK embedding model of an account (any language-model provider with an embeddings API). */
export async function embeddingModelForAccount(
  ctx: AppContext,
  account: AccountRow,
  modelId: string,
  purpose: EmbeddingPurpose = 'store',
): Promise<Exclude<EmbeddingModel, string>> {
  const provider = await findProviderById(ctx.db.kysely, account.provider_id);
  const api = provider ? modelApiOf(provider) : undefined;
  if (!provider || !api) throw new EmbeddingsUnsupportedError(provider?.slug ?? 'unknown');
  const baseUrl = (account.base_url ?? providerMetadata(provider).default_base_url ?? '').replace(/\/+$/, '');
  const apiKey =
    account.provider_authentication_strategy === 'oauth2' ? await accessTokenOf(ctx, account, provider) : (await credentialsOf(ctx, account)).token;
  const { maxRetries, retryBudgetMs } = ctx.config.model;
  return await embeddingModelOf({
    api,
    providerSlug: provider.slug,
    baseUrl,
    apiKey,
    modelId,
    fetch: purpose === 'store' ? retryingFetch({ maxRetries, budgetMs: retryBudgetMs }) : undefined,
  });
}

/** An embedder over a model, each call bounded by the model timeout (10 s for queries). */
export function embedderOver(ctx: AppContext, model: Exclude<EmbeddingModel, string>, modelId: string, purpose: EmbeddingPurpose = 'store'): Embedder {
  const timeoutMs = purpose === 'store' ? ctx.config.model.timeoutMs : Math.min(ctx.config.model.timeoutMs, QUERY_TIMEOUT_MS);
  return {
    modelId,
    async embed(texts) {
      if (texts.length === 0) return [];
      const { embedMany } = await loadAi();
      const { embeddings } = await embedMany({
        model,
        values: texts,
        maxRetries: 0,
        maxParallelCalls: 2,
        abortSignal: AbortSignal.timeout(timeoutMs),
      });
      return embeddings;
    },
  };
}

/**
 * The workspace's embedder, or undefined when it has none (or its account is gone or broken:
 * memories are then kept and found by full text alone, with a warning in the log).
 */
export async function embedderOf(ctx: AppContext, db: Executor, workspaceId: string, purpose: EmbeddingPurpose = 'store'): Promise<Embedder | undefined> {
  const settings = await repo.findAiSettings(db, workspaceId);
  if (!settings?.embedding_account_id || !settings.embedding_model) return undefined;
  const account = await repo.findWorkspaceAccount(db, workspaceId, settings.embedding_account_id);
  if (!account) return undefined;
  try {
    return embedderOver(ctx, await embeddingModelForAccount(ctx, account, settings.embedding_model, purpose), settings.embedding_model, purpose);
  } catch (error) {
    ctx.log.warn({ workspace: workspaceId, model: settings.embedding_model, reason: embeddingFailureOf(error) }, 'embedding model unavailable');
    return undefined;
  }
}

/** Why an embedding call failed, without anything the provider echoed (it may hold credentials). */
export function embeddingFailureOf(error: unknown): string {
  if (isApiCallError(error)) {
    return error.statusCode ? `the provider answered ${error.statusCode}` : 'the provider could not be reached';
  }
  if (error instanceof EmbeddingsUnsupportedError) return error.message;
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return 'the provider did not answer in time';
  return 'the provider could not be reached';
}

/** Unit vectors by memory id and version, so ranking is a dot product and rows are parsed once. */
const vectors = new LRUCache<string, { updatedAt: string; vector: Float32Array }>({
  maxSize: 64 * 1024 * 1024,
  sizeCalculation: (entry) => entry.vector.byteLength + 64,
});

/** A vector as stored: little-endian float32, 4 bytes a dimension. */
export function encodeVector(values: ArrayLike<number>): Buffer {
  const buffer = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) buffer.writeFloatLE(values[i]!, i * 4);
  return buffer;
}

export function decodeVector(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vector = new Float32Array(Math.floor(bytes.byteLength / 4));
  for (let i = 0; i < vector.length; i++) vector[i] = view.getFloat32(i * 4, true);
  return vector;
}

/** The vector scaled to length 1, so cosine similarity is a dot product. */
export function unitVector(values: ArrayLike<number>): Float32Array {
  const vector = Float32Array.from(values);
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i]! * vector[i]!;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return vector;
}

function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return -1;
  // Four running sums: fewer dependent additions, measurably faster over thousands of vectors.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const end = a.length - (a.length % 4);
  for (let i = 0; i < end; i += 4) {
    s0 += a[i]! * b[i]!;
    s1 += a[i + 1]! * b[i + 1]!;
    s2 += a[i + 2]! * b[i + 2]!;
    s3 += a[i + 3]! * b[i + 3]!;
  }
  for (let i = end; i < a.length; i++) s0 += a[i]! * b[i]!;
  return s0 + s1 + s2 + s3;
}

/** The stored unit vectors of these memories, from the cache or (once) from the database. */
export async function vectorsOf(
  db: Executor,
  workspaceId: string,
  memories: Array<{ id: string; updated_at: string }>,
): Promise<Map<string, Float32Array>> {
  const found = new Map<string, Float32Array>();
  const missing: string[] = [];
  for (const memory of memories) {
    const cached = vectors.get(memory.id);
    if (cached && cached.updatedAt === memory.updated_at) found.set(memory.id, cached.vector);
    else missing.push(memory.id);
  }
  for (let i = 0; i < missing.length; i += 500) {
    for (const row of await repo.embeddingsByIds(db, workspaceId, missing.slice(i, i + 500))) {
      if (!row.embedding) continue;
      const vector = unitVector(decodeVector(row.embedding));
      vectors.set(row.id, { updatedAt: row.updated_at, vector });
      found.set(row.id, vector);
    }
  }
  return found;
}

/** Candidates ordered by cosine similarity to the query, best first (those without a vector left out). */
export function rankBySimilarity<T extends { id: string }>(query: Float32Array, candidates: T[], stored: Map<string, Float32Array>): T[] {
  const scored: Array<{ candidate: T; similarity: number }> = [];
  for (const candidate of candidates) {
    const vector = stored.get(candidate.id);
    if (vector) scored.push({ candidate, similarity: dot(query, vector) });
  }
  return scored.sort((a, b) => b.similarity - a.similarity).map((s) => s.candidate);
}
