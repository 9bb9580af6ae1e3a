import { runInPool } from './sandbox-pool.js';
import { abortedError, formatBytes, SandboxError } from './sandbox-error.js';

export interface SandboxOptions {
  /** Wall-clock limit for the code (compiling, running, its promise jobs, converting the result); waiting for a free worker is not counted. */
  timeoutMs: number;
  /** Limit on the memory of this call (input, context and everything the code allocates); limits under about 18 MB act as 18 MB. */
  memoryBytes: number;
  /** Limit on QuickJS's stack (default 256 KiB, at most 4 MiB). */
  stackBytes?: number;
  /** Extra globals the code sees by name (`execution`, `vars`, `nodes`); values are copied as JSON. */
  context?: Record<string, unknown>;
  /** Stops the code, even a synchronous loop (the worker running it is terminated if it does not stop at once). */
  signal?: AbortSignal;
}

export interface SandboxRun {
  /** What the code returned (a settled promise's value), as JSON data; `undefined` becomes `null`. */
  output: unknown;
  /** The `console` lines the code printed, at most 100 lines and 10 KiB. */
  logs: string[];
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const RESERVED_NAMES = new Set(['input', 'console', 'globalThis', '__proto__']);

/** Runs `code` (the body of an async function of `input`) in a fresh QuickJS sandbox in a worker thread; resolves to its output. */
export async function runSandboxed(code: string, input: unknown, options: SandboxOptions): Promise<unknown> {
  return (await runSandboxedWithLogs(code, input, options)).output;
}

/** Like {@link runSandboxed}, also returning what the code printed with `console`. */
export async function runSandboxedWithLogs(code: string, input: unknown, options: SandboxOptions): Promise<SandboxRun> {
  checkOptions(options);
  if (options.signal?.aborted) throw abortedError();
  const context = options.context ?? {};
  const data = encodeData(input, context);
  // The VM's copy takes more room than the text; refusing here also keeps a huge input from
  // being copied to a worker only to exhaust the instance's memory there.
  if (Buffer.byteLength(data) > options.memoryBytes / 2) {
    throw new SandboxError('memory', `The input and context do not fit in the code's memory limit of ${formatBytes(options.memoryBytes)}`);
  }
  const run = await runInPool(
    {
      code,
      data,
      names: ['input', ...Object.keys(context)],
      timeoutMs: options.timeoutMs,
      memoryBytes: options.memoryBytes,
      ...(options.stackBytes === undefined ? {} : { stackBytes: options.stackBytes }),
    },
    options.signal,
  );
  return { output: parseResult(run.json, run.logs), logs: run.logs };
}

function checkOptions(options: SandboxOptions): void {
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) throw new TypeError('timeoutMs must be a positive number');
  if (!Number.isSafeInteger(options.memoryBytes) || options.memoryBytes <= 0) {
    throw new TypeError('memoryBytes must be a positive integer');
  }
  if (options.stackBytes !== undefined && (!Number.isSafeInteger(options.stackBytes) || options.stackBytes <= 0)) {
    throw new TypeError('stackBytes must be a positive integer');
  }
  for (const name of Object.keys(options.context ?? {})) {
    if (!IDENTIFIER.test(name) || RESERVED_NAMES.has(name)) throw new TypeError(`"${name}" cannot be a sandbox global`);
  }
}

/** `input` and the context as one JSON text: a deep copy that holds no host object. */
function encodeData(input: unknown, context: Record<string, unknown>): string {
  try {
    // Every name stays a key (undefined → null), so each global is set from its own value.
    const values = Object.fromEntries(Object.entries(context).map(([name, value]) => [name, value === undefined ? null : value]));
    return JSON.stringify({ ...values, input: input === undefined ? null : input });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SandboxError('error', `The input or context is not JSON data: ${reason}`);
  }
}

/**
 * Parses the code's JSON result. `__proto__` keys are dropped: JSON.parse makes them harmless own
 * properties, but a later deep merge of node outputs could still treat them as the prototype (the
 * HTTP layer refuses such keys in request bodies for the same reason).
 */
function parseResult(text: string, logs: string[]): unknown {
  try {
    if (!text.includes('__proto__') && !text.includes('\\u')) return JSON.parse(text);
    return JSON.parse(text, (key, value: unknown) => (key === '__proto__' ? undefined : value));
  } catch {
    throw new SandboxError('result', 'The result could not be converted to JSON data', logs);
  }
}
