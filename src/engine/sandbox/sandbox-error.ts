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
