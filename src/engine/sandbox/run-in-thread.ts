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
import { abortedError, formatBytes, SandboxError, timeoutError } from './sandbox-error.js';

/** One call as the worker receives it: the input and context already encoded as one JSON text. */
export interface ThreadCall {
  /** The body of an async function of `input`. */
  code: string;
  /** JSON text of an object holding `input` and each context global by name. */
  data: string;
  /** The globals to set from `data` (`input` first). */
  names: string[];
  /** Shown in the timeout message. */
  timeoutMs: number;
  /** When the code must stop (`Date.now()` time); set by the caller so queueing in a thread does not extend it. */
  deadline: number;
  memoryBytes: number;
  stackBytes?: number;
}

export interface ThreadRun {
  /** The JSON text of what the code returned (see parseResult in run-sandboxed.ts). */
  json: string;
  logs: string[];
}

/**
 * QuickJS counts only its own (WebAssembly shadow) stack, while the same recursion also uses
 * V8's native stack, which overflows first above a few hundred KiB. 4 MiB keeps clear of the
 * module's 5 MiB shadow stack, past which QuickJS would write over its own heap.
 */
const DEFAULT_STACK_BYTES = 256 * 1024;
const MAX_STACK_BYTES = 4 * 1024 * 1024;
/** Promise jobs run per batch before the thread checks the abort flag and lets its event loop turn. */
const JOB_BATCH = 1_000;
const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'];
const STACK_LINE = new RegExp(`\\(?${USER_CODE_FILE.replace('.', '\\.')}:(\\d+)`);

/**
 * Runs one call in this thread, blocking it while the code runs synchronously (the pool runs
 * this in a worker). `isAborted` is consulted by QuickJS's interrupt handler, so it must be cheap.
 */
export async function runInThread(call: ThreadCall, isAborted: () => boolean = () => false): Promise<ThreadRun> {
  const logs = new LogBuffer();
  if (isAborted()) throw abortedError(logs.toArray());
  // Awaiting here also means the code starts on a short stack (V8's stack backs QuickJS's recursion).
  const module = await acquireQuickJSModule(call.memoryBytes);
  let sandbox: SandboxCall | undefined;
  let healthy = true;
  try {
    if (isAborted()) throw abortedError(logs.toArray());
    sandbox = new SandboxCall(module, call, isAborted, logs);
    const json = await sandbox.run(call.code, call.data, call.names);
    return { json, logs: logs.toArray() };
  } catch (error) {
    if (error instanceof SandboxError) throw error;
    // Creating the runtime failed: the instance is not trusted again.
    healthy = false;
    throw new SandboxError('error', `The sandbox failed: ${error instanceof Error ? error.message : String(error)}`, logs.toArray());
  } finally {
    if (sandbox) healthy = sandbox.dispose() && healthy;
    releaseQuickJSModule(module, call.memoryBytes, healthy);
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
    private readonly options: ThreadCall,
    private readonly isAborted: () => boolean,
    private readonly logs: LogBuffer,
  ) {
    this.deadline = options.deadline;
    this.runtime = module.newRuntime();
    this.runtime.setMaxStackSize(Math.min(options.stackBytes ?? DEFAULT_STACK_BYTES, MAX_STACK_BYTES));
    this.runtime.setInterruptHandler(() => this.shouldStop());
    // The instance's capped memory is the real limit (see quickjs-module.ts); this one refuses
    // a single allocation larger than the limit before the instance has to run out.
    this.runtime.setMemoryLimit(options.memoryBytes);
    this.context = this.runtime.newContext();
  }

  /** Runs the code; resolves to the JSON text of its result. */
  async run(code: string, data: string, names: string[]): Promise<string> {
    try {
      this.setUp(data, names);
      const fn = this.hold(this.check(this.context.evalCode(wrapUserCode(code), USER_CODE_FILE, { type: 'global' }), 'compile'));
      const input = this.hold(this.context.getProp(this.context.global, 'input'));
      const promise = this.hold(this.check(this.context.callFunction(fn, this.context.undefined, input), 'run'));
      await this.drainJobs();
      // A stop that lands inside a promise job can end the job chain without an error reaching
      // the host (QuickJS turns it into a rejection nothing observes), leaving the promise pending
      // or settled without the cut-off work: the stop is what happened.
      if (this.stopped) throw this.stoppedError();
      const state = this.context.getPromiseState(promise);
      if (state.type === 'pending') {
        throw new SandboxError(
          'result',
          'The code returned a promise that never settles (the sandbox has no timers or I/O to settle it)',
          this.logs.toArray(),
        );
      }
      if (state.type === 'rejected') throw this.failure(this.hold(state.error), 'run');
      return this.toJson(this.hold(state.value));
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
    if (this.isAborted()) this.stopped = 'aborted';
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

  private toJson(value: QuickJSHandle): string {
    const ctx = this.context;
    const serialize = this.helper(SERIALIZE_SOURCE, 'result');
    const text = this.hold(this.check(ctx.callFunction(serialize, ctx.undefined, value), 'result'));
    if (ctx.typeof(text) !== 'string') {
      throw new SandboxError('result', 'The result could not be converted to JSON data', this.logs.toArray());
    }
    return ctx.getString(text);
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
    if (this.stopped === 'aborted') return abortedError(this.logs.toArray());
    return timeoutError(this.options.timeoutMs, this.logs.toArray());
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
