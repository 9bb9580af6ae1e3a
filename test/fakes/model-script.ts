import type { FakeRequest } from './http-fake.js';

/**
 * What a fake model server answers to one model call. Tests queue replies; each call takes the
 * next one (the last one repeats when the queue runs out).
 */
export type ScriptedReply =
  | {
      /** Streamed in these pieces, or split into words when `chunks` is not given. */
      text: string;
      chunks?: string[];
      usage?: { input: number; output: number };
      /** Wait before the first byte of the answer. */
      delayMs?: number;
      /** Wait between streamed chunks. */
      chunkDelayMs?: number;
      /** Stream this many chunks, then stall without ending (client-disconnect tests). */
      stallAfterChunks?: number;
    }
  | {
      toolCalls: Array<{ name: string; input: unknown; id?: string }>;
      /** Text the model says before calling the tools. */
      text?: string;
      usage?: { input: number; output: number };
      delayMs?: number;
    }
  | { error: { status: number; message: string; type?: string; retryAfter?: string } }
  /** Accept the request and never answer (timeout tests). */
  | { hang: true };

export type ScriptSource = ScriptedReply[] | ((request: FakeRequest, callIndex: number) => ScriptedReply);

/** A queue of scripted replies shared by the fakes. */
export class ModelScript {
  private queue: ScriptedReply[] = [];
  private fn: ((request: FakeRequest, callIndex: number) => ScriptedReply) | undefined;
  calls = 0;

  constructor(private readonly fallback: (request: FakeRequest) => ScriptedReply) {}

  /** Replaces what the next calls answer. */
  set(source: ScriptSource): void {
    this.calls = 0;
    if (typeof source === 'function') {
      this.fn = source;
      this.queue = [];
    } else {
      this.fn = undefined;
      this.queue = [...source];
    }
  }

  next(request: FakeRequest): ScriptedReply {
    const index = this.calls++;
    if (this.fn) return this.fn(request, index);
    if (this.queue.length > 1) return this.queue.shift()!;
    if (this.queue.length === 1) return this.queue[0]!;
    return this.fallback(request);
  }
}

export function splitWords(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [text];
}
