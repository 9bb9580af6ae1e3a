import type { ThreadCall } from './run-in-thread.js';
import type { SandboxErrorKind } from './sandbox-error.js';

/**
 * The messages between the pool (main thread) and a sandbox worker. Everything crossing is plain
 * data (structured clone): the input goes as one JSON text and the result comes back as one, so
 * the copy is a string copy and the result is parsed where it is used.
 */

/** Given to each worker at its start. */
export interface SandboxWorkerData {
  /**
   * One Int32: the pool sets it to 1 to stop the running call. QuickJS's interrupt handler reads
   * it, so an abort reaches even a synchronous loop without a message (which the loop would block).
   */
  abortFlag: SharedArrayBuffer;
}

/** One call; a worker runs one at a time. */
export interface CallRequest extends ThreadCall {
  id: number;
}

export type WorkerReply =
  /** The worker loaded and compiled QuickJS: calls can be posted. */
  | { type: 'ready' }
  | { type: 'done'; id: number; json: string; logs: string[] }
  | { type: 'failed'; id: number; kind: SandboxErrorKind; message: string; logs: string[]; line: number | null };
