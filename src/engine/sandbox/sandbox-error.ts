/**
 * Why a sandboxed call failed:
 * - `timeout`: it ran past its time limit;
 * - `memory`: it needed more than its memory limit;
 * - `error`: the code threw (or did not compile, or nested too deeply);
 * - `aborted`: the caller's signal was aborted (a cancelled execution, a shutdown);
 * - `result`: it returned something that is not JSON data, or a promise that never settles.
 */
export type SandboxErrorKind = 'timeout' | 'memory' | 'error' | 'aborted' | 'result';

/** A failure of the user's code in the sandbox; the message is meant for the user as is. */
export class SandboxError extends Error {
  constructor(
    readonly kind: SandboxErrorKind,
    message: string,
    /** What the code printed with `console.log` before it failed (capped like a success's logs). */
    readonly logs: string[] = [],
    /** The line of the user's code the error points at, when known. */
    readonly line: number | null = null,
  ) {
    super(message);
    this.name = 'SandboxError';
  }
}

/** The error of a call stopped by its caller's signal. */
export function abortedError(logs: string[] = []): SandboxError {
  return new SandboxError('aborted', 'Code was stopped: the execution was cancelled', logs);
}

/** The error of a call that ran past its time limit. */
export function timeoutError(timeoutMs: number, logs: string[] = []): SandboxError {
  return new SandboxError('timeout', `Code ran longer than ${timeoutMs} ms`, logs);
}

/** A memory limit as the messages show it (`32 MB`, `512 KB`). */
export function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  if (mib >= 1) return `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MB`;
  const kib = bytes / 1024;
  return kib >= 1 ? `${Number.isInteger(kib) ? kib : kib.toFixed(1)} KB` : `${bytes} bytes`;
}
