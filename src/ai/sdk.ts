import type { APICallError } from 'ai';

type Ai = typeof import('ai');

let ai: Ai | undefined;
let loading: Promise<Ai> | undefined;

/**
 * The AI SDK, loaded on the first model call: it takes about 110 ms and 24 MB to load (its
 * providers as much again), which a server that is starting, or never calls a model, should not
 * pay.
 */
export function loadAi(): Promise<Ai> {
  if (ai) return Promise.resolve(ai);
  loading ??= import('ai').then((module) => (ai = module));
  return loading;
}

/** The SDK's own marker check (`APICallError.isInstance`), without loading the SDK. */
export function isApiCallError(error: unknown): error is APICallError {
  const marker = Symbol.for('vercel.ai.error.AI_APICallError');
  return error !== null && typeof error === 'object' && (error as Record<symbol, unknown>)[marker] === true;
}

/** The same check for the error a JSON answer that does not parse ends in. */
export function isNoObjectGeneratedError(error: unknown): error is import('ai').NoObjectGeneratedError {
  const marker = Symbol.for('vercel.ai.error.AI_NoObjectGeneratedError');
  return error !== null && typeof error === 'object' && (error as Record<symbol, unknown>)[marker] === true;
}
