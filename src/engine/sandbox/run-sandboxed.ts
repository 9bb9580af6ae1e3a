import type {
  QuickJSContext,
  QuickJSHandle,
  QuickJSRuntime,
  QuickJSWASMModule,
  SuccessOrFail,
} from 'quickjs-emscripten';
import { DESCRIBE_SOURCE, HELPER_FILE, SERIALIZE_SOURCE, USER_CODE_FILE } from './bootstrap.js';
import { LogBuffer, MAX_LOG_BYTES } from './log-buffer.js';
import { acquireQuickJSModule, instanceMemoryExhausted, releaseQuickJSModule } from './quickjs-module.js';
import { SandboxError } from './sandbox-error.js';

export interface SandboxOptions {
  /** Wall-clock limit for the code (compiling, running, its promise jobs, converting the result). */
  timeoutMs: number;
  /** Limit on the memory of this call (input, context and everything the code allocates); limits under about 18 MB act as 18 MB. */
  memoryBytes: number;
  /** Limit on QuickJS's stack (default 256 KiB, at most 4 MiB). */
  stackBytes?: number;
  /** Extra globals the code sees by name (`execution`, `vars`, `nodes`); values are copied as JSON. */
  context?: Record<string, unknown>;
  /** Stops the code (checked while it runs and between its promise jobs). */
  signal?: AbortSignal;
}

export interface SandboxRun {
  /** What the code returned (a settled promise's value), as JSON data; `undefined` becomes `null`. */
  output: unknown;
  /** The `console` lines the code printed, at most 100 lines and 10 KiB. */
  logs: string[];
}

/**
 * QuickJS counts only its own (WebAssembly shadow) stack, while the same recursion also uses
 * V8's native stack, which overflows first above a few hundred KiB. 4 MiB keeps clear of the
 * module's 5 MiB shadow stack, past which QuickJS would write over its own heap.
 */
const DEFAULT_STACK_BYTES = 256 * 1024;
const MAX_STACK_BYTES = 4 * 1024 * 1024;
/** Promise jobs run per batch before the host checks the signal and lets its event loop turn. */
const JOB_BATCH = 1_000;
const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'];
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const RESERVED_NAMES = new Set(['input', 'console', 'globalThis', '__proto__']);
const STACK_LINE = new RegExp(`\\(?${USER_CODE_FILE.replace('.', '\\.')}:(\\d+)`);

/** Runs `code` (the body of an async function of `input`) in a fresh QuickJS sandbox; resolves to its output. */
export async function runSandboxed(code: string, input: unknown, options: SandboxOptions): Promise<unknown> {
  return (await runSandboxedWithLogs(code, input, options)).output;
}

/** Like {@link runSandboxed}, also returning what the code printed with `console`. */
export async function runSandboxedWithLogs(code: string, input: unknown, options: SandboxOptions): Promise<SandboxRun> {
  checkOptions(options);
  const logs = new LogBuffer();
  if (options.signal?.aborted) throw abortedError(logs);
  const data = encodeData(input, options.context ?? {});
  // The VM's copy takes more room than the text; refusing here also keeps a huge input from
  // exhausting the instance's memory while it is being copied in.
  if (Buffer.byteLength(data) > options.memoryBytes / 2) {
    throw new SandboxError('memory', `The input and context do not fit in the code's memory limit of ${formatBytes(options.memoryBytes)}`);
  }
  // Awaiting here also means the code starts on a short host stack (V8's stack backs QuickJS's recursion).
  const module = await acquireQuickJSModule(options.memoryBytes);
  let call: SandboxCall | undefined;
  let healthy = true;
  try {
    if (options.signal?.aborted) throw abortedError(logs);
    call = new SandboxCall(module, options, logs);
    const output = await call.run(code, data, ['input', ...Object.keys(options.context ?? {})]);
    return { output, logs: logs.toArray() };
  } catch (error) {
    if (error instanceof SandboxError) throw error;
    // Creating the runtime failed: the instance is not trusted again.
    healthy = false;
    throw new SandboxError('error', `The sandbox failed: ${error instanceof Error ? error.message : String(error)}`, logs.toArray());
  } finally {
    if (call) healthy = call.dispose() && healthy;
    releaseQuickJSModule(module, options.memoryBytes, healthy);
  }
}

type Phase = 'setup' | 'compile' | 'run' | 'result';

interface ErrorInfo {
  /** False for a thrown non-error value (`throw 'boom'`). */
  error: boolean;
  name: string;
  message: string;
  line: number | null;
}

/** Handles to the context's own built-ins, taken before the user's code could replace them. */
interface Builtins {
  stringify: QuickJSHandle;
  parse: QuickJSHandle;
  string: QuickJSHandle;
}

/** One call: its runtime and context, the handles it holds, why it was stopped. */
class SandboxCall {
  private readonly runtime: QuickJSRuntime;
  private readonly context: QuickJSContext;
  private readonly handles: QuickJSHandle[] = [];
  private readonly deadline: number;
  private stopped: 'timeout' | 'aborted' | undefined;
  private faulted = false;
  private builtins: Builtins | undefined;

  constructor(
    private readonly module: QuickJSWASMModule,
    private readonly options: SandboxOptions,
    private readonly logs: LogBuffer,
  ) {
    this.deadline = Date.now() + options.timeoutMs;
    this.runtime = module.newRuntime();
    this.runtime.setMaxStackSize(Math.min(options.stackBytes ?? DEFAULT_STACK_BYTES, MAX_STACK_BYTES));
    this.runtime.setInterruptHandler(() => this.shouldStop());
    // The instance's capped memory is the real limit (see quickjs-module.ts); this one refuses
    // a single allocation larger than the limit before the instance has to run out.
    this.runtime.setMemoryLimit(options.memoryBytes);
    this.context = this.runtime.newContext();
  }

  async run(code: string, data: string, names: string[]): Promise<unknown> {
    try {
      this.setUp(data, names);
      const fn = this.hold(this.check(this.context.evalCode(wrapUserCode(code), USER_CODE_FILE, { type: 'global' }), 'compile'));
      const input = this.hold(this.context.getProp(this.context.global, 'input'));
      const promise = this.hold(this.check(this.context.callFunction(fn, this.context.undefined, input), 'run'));
      await this.drainJobs();
      const state = this.context.getPromiseState(promise);
      if (state.type === 'pending') {
        throw new SandboxError(
          'result',
          'The code returned a promise that never settles (the sandbox has no timers or I/O to settle it)',
          this.logs.toArray(),
        );
      }
      if (state.type === 'rejected') throw this.failure(this.hold(state.error), 'run');
      return this.toHostValue(this.hold(state.value));
    } catch (error) {
      if (error instanceof SandboxError) throw error;
      throw this.fault(error);
    }
  }

  /** Frees the runtime; false when the instance must not be used again. */
  dispose(): boolean {
    // After a fault QuickJS's own bookkeeping may be inconsistent (freeing could abort): the
    // instance is dropped whole instead.
    if (this.faulted) return false;
    try {
      for (const handle of this.handles.reverse()) if (handle.alive) handle.dispose();
      this.context.dispose();
      this.runtime.dispose();
      return true;
    } catch {
      return false;
    }
  }

  private shouldStop(): boolean {
    if (this.stopped) return true;
    if (this.options.signal?.aborted) this.stopped = 'aborted';
    else if (Date.now() >= this.deadline) this.stopped = 'timeout';
    return this.stopped !== undefined;
  }

  /** Installs `console` and the globals through the context's built-ins (no compiling). */
  private setUp(data: string, names: string[]): void {
    const ctx = this.context;
    const json = this.hold(ctx.getProp(ctx.global, 'JSON'));
    this.builtins = {
      stringify: this.hold(ctx.getProp(json, 'stringify')),
      parse: this.hold(ctx.getProp(json, 'parse')),
      string: this.hold(ctx.getProp(ctx.global, 'String')),
    };

    const log = this.hold(ctx.newFunction('log', (...args) => this.log(args)));
    const console = this.hold(ctx.newObject());
    for (const method of CONSOLE_METHODS) ctx.setProp(console, method, log);
    ctx.setProp(ctx.global, 'console', console);

    const text = this.hold(ctx.newString(data));
    const values = this.hold(this.check(ctx.callFunction(this.builtins.parse, ctx.undefined, text), 'setup'));
    for (const name of names) {
      ctx.setProp(ctx.global, name, this.hold(ctx.getProp(values, name)));
    }
  }

  /** `console.log`: formats its arguments on the host; never throws back into QuickJS. */
  private log(args: QuickJSHandle[]): void {
    if (this.logs.full) return;
    try {
      let line = '';
      for (const [index, arg] of args.entries()) {
        if (line.length > MAX_LOG_BYTES) break;
        line += (index === 0 ? '' : ' ') + this.show(arg);
      }
      this.logs.push(line.length > MAX_LOG_BYTES ? line.slice(0, MAX_LOG_BYTES) : line);
    } catch {
      // The library would print a host error to the process's console: drop the line instead.
    }
  }

  private show(value: QuickJSHandle): string {
    const ctx = this.context;
    const type = ctx.typeof(value);
    if (type === 'string') return ctx.getString(value);
    if (type === 'number') return String(ctx.getNumber(value));
    if (type === 'undefined') return 'undefined';
    if (type === 'function') return '[Function]';
    if (type === 'object') {
      // JSON for data; the object's own text where JSON says nothing useful (errors, maps).
      const text = this.callToString(this.builtins!.stringify, value);
      if (text !== undefined && text !== '{}') return text;
      const own = this.callToString(this.builtins!.string, value);
      return own !== undefined && own !== '[object Object]' ? own : (text ?? '[object]');
    }
    return this.callToString(this.builtins!.string, value) ?? `[${type}]`;
  }

  private callToString(fn: QuickJSHandle, value: QuickJSHandle): string | undefined {
    const ctx = this.context;
    const result = ctx.callFunction(fn, ctx.undefined, value);
    if (result.error) {
      result.error.dispose();
      return undefined;
    }
    try {
      return ctx.typeof(result.value) === 'string' ? ctx.getString(result.value) : undefined;
    } finally {
      result.value.dispose();
    }
  }

  /** Runs promise jobs until none is left, yielding to the host between batches. */
  private async drainJobs(): Promise<void> {
    while (this.runtime.hasPendingJob()) {
      const result = this.runtime.executePendingJobs(JOB_BATCH);
      if (result.error) throw this.failure(this.hold(result.error), 'run');
      if (!this.runtime.hasPendingJob()) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.shouldStop()) throw this.stoppedError();
    }
  }

  private toHostValue(value: QuickJSHandle): unknown {
    const ctx = this.context;
    const serialize = this.helper(SERIALIZE_SOURCE, 'result');
    const text = this.hold(this.check(ctx.callFunction(serialize, ctx.undefined, value), 'result'));
    if (ctx.typeof(text) !== 'string') {
      throw new SandboxError('result', 'The result could not be converted to JSON data', this.logs.toArray());
    }
    try {
      return parseResult(ctx.getString(text));
    } catch (error) {
      if (error instanceof SyntaxError) {
        throw new SandboxError('result', 'The result could not be converted to JSON data', this.logs.toArray());
      }
      throw error;
    }
  }

  /** Compiles one of bootstrap.ts's helpers and hands it the original `JSON.stringify`. */
  private helper(source: string, phase: Phase): QuickJSHandle {
    const ctx = this.context;
    const factory = this.hold(this.check(ctx.evalCode(source, HELPER_FILE, { type: 'global' }), phase));
    return this.hold(this.check(ctx.callFunction(factory, ctx.undefined, this.builtins!.stringify), phase));
  }

  /** Like {@link helper} for error reporting, which must not report its own errors. */
  private helperOrUndefined(source: string): QuickJSHandle | undefined {
    const ctx = this.context;
    const factory = ctx.evalCode(source, HELPER_FILE, { type: 'global' });
    if (factory.error) {
      factory.error.dispose();
      return undefined;
    }
    const made = ctx.callFunction(this.hold(factory.value), ctx.undefined, this.builtins!.stringify);
    if (made.error) {
      made.error.dispose();
      return undefined;
    }
    return this.hold(made.value);
  }

  private check(result: SuccessOrFail<QuickJSHandle, QuickJSHandle>, phase: Phase): QuickJSHandle {
    if (result.error) throw this.failure(this.hold(result.error), phase);
    return result.value;
  }

  private hold<T extends QuickJSHandle>(handle: T): T {
    this.handles.push(handle);
    return handle;
  }

  private stoppedError(): SandboxError {
    if (this.stopped === 'aborted') return abortedError(this.logs);
    return new SandboxError('timeout', `Code ran longer than ${this.options.timeoutMs} ms`, this.logs.toArray());
  }

  /** The SandboxError for an exception the VM reported. */
  private failure(error: QuickJSHandle, phase: Phase): SandboxError {
    if (this.stopped || this.shouldStop()) return this.stoppedError();
    const info = this.describe(error);
    if (this.stopped) return this.stoppedError();
    const logs = this.logs.toArray();
    const outOfMemory =
      info === undefined || (!info.error && info.message === 'null')
        ? instanceMemoryExhausted(this.module, this.options.memoryBytes)
        : info.error && info.name === 'InternalError' && info.message === 'out of memory';
    if (outOfMemory) {
      const limit = formatBytes(this.options.memoryBytes);
      return phase === 'setup'
        ? new SandboxError('memory', `The input and context do not fit in the code's memory limit of ${limit}`, logs)
        : new SandboxError('memory', `Code used more than ${limit} of memory`, logs);
    }
    if (!info) return new SandboxError(phase === 'result' ? 'result' : 'error', 'The code failed with an error that could not be read', logs);
    if (phase === 'result') return new SandboxError('result', `The result is not JSON data: ${info.message}`, logs);
    const text = info.error ? (info.name && info.message ? `${info.name}: ${info.message}` : info.name || info.message) : `Uncaught ${info.message}`;
    const where = info.line === null ? '' : ` (line ${info.line})`;
    return new SandboxError('error', `${text}${where}`, logs, info.line);
  }

  private describe(error: QuickJSHandle): ErrorInfo | undefined {
    const ctx = this.context;
    try {
      // An out-of-memory error is told apart without compiling anything (there may be no room).
      if (ctx.typeof(error) === 'object') {
        const message = ctx.getProp(error, 'message');
        const isOutOfMemory = ctx.typeof(message) === 'string' && ctx.getString(message) === 'out of memory';
        message.dispose();
        if (isOutOfMemory) return { error: true, name: 'InternalError', message: 'out of memory', line: null };
      }
      if (!this.builtins) return undefined;
      const describe = this.helperOrUndefined(DESCRIBE_SOURCE);
      if (!describe) return undefined;
      const result = ctx.callFunction(describe, ctx.undefined, error);
      if (result.error) {
        result.error.dispose();
        return undefined;
      }
      const text = this.hold(result.value);
      return ctx.typeof(text) === 'string' ? parseErrorInfo(ctx.getString(text)) : undefined;
    } catch {
      return undefined;
    }
  }

  /** A host-side exception from inside the module: the instance is not trusted again. */
  private fault(error: unknown): SandboxError {
    this.faulted = true;
    if (this.stopped) return this.stoppedError();
    const logs = this.logs.toArray();
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      return new SandboxError('error', 'InternalError: stack overflow (the code recurses or nests too deeply)', logs);
    }
    const message = error instanceof Error ? error.message : String(error);
    return new SandboxError('error', `The sandbox failed: ${message}`, logs);
  }
}

/** The function the user's code is the body of; the code starts on line 1 so lines match. */
function wrapUserCode(code: string): string {
  return `(async function (input) {${code}\n})`;
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
function parseResult(text: string): unknown {
  if (!text.includes('__proto__') && !text.includes('\\u')) return JSON.parse(text);
  return JSON.parse(text, (key, value: unknown) => (key === '__proto__' ? undefined : value));
}

function parseErrorInfo(text: string): ErrorInfo | undefined {
  try {
    const value = JSON.parse(text) as { error?: unknown; name?: unknown; message?: unknown; stack?: unknown } | null;
    if (!value || typeof value.message !== 'string') return undefined;
    const line = typeof value.stack === 'string' ? STACK_LINE.exec(value.stack)?.[1] : undefined;
    return {
      error: value.error === true,
      name: typeof value.name === 'string' ? value.name : '',
      message: value.message,
      line: line === undefined ? null : Number(line),
    };
  } catch {
    return undefined;
  }
}

function abortedError(logs: LogBuffer): SandboxError {
  return new SandboxError('aborted', 'Code was stopped: the execution was cancelled', logs.toArray());
}

function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  if (mib >= 1) return `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MB`;
  const kib = bytes / 1024;
  return kib >= 1 ? `${Number.isInteger(kib) ? kib : kib.toFixed(1)} KB` : `${bytes} bytes`;
}
