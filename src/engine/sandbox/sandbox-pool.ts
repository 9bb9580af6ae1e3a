import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ThreadCall, ThreadRun } from './run-in-thread.js';
import { abortedError, SandboxError, timeoutError } from './sandbox-error.js';
import type { CallRequest, SandboxWorkerData, WorkerReply } from './sandbox-protocol.js';

/**
 * The worker threads sandboxed code runs in, so that the main thread's event loop never waits
 * for it. Workers start on demand up to the pool's size and are unref'ed (an idle pool does not
 * keep the process alive); calls beyond the size wait in order. A worker that has not answered
 * by its call's deadline plus a grace, or soon after an abort, is terminated (that stops even a
 * loop inside one long built-in call) and replaced.
 */

export interface SandboxPoolOptions {
  /** How many workers may run at once (default: the cores less one, between 1 and 4). */
  size?: number;
  /** How long a call may wait for a free worker before it fails (default 30 s). */
  queueTimeoutMs?: number;
}

export interface SandboxPoolStats {
  size: number;
  /** Live workers, starting ones included. */
  workers: number;
  busy: number;
  queued: number;
  /** Workers started since the process began (a replaced worker counts again). */
  started: number;
}

/** How long past its deadline a call's worker has to answer before it is terminated. */
const DEADLINE_GRACE_MS = 100;
/** How long after an abort the worker has to answer before it is terminated. */
const ABORT_GRACE_MS = 100;
const DEFAULT_QUEUE_TIMEOUT_MS = 30_000;
/**
 * The worker's native stack, as on Node's main thread (984 KiB): QuickJS's recursion also runs on
 * it, and a deep recursion should overflow it promptly (reported as a stack overflow) rather than
 * go on to QuickJS's own, slower limit. Workers default to 4 MiB.
 */
const WORKER_STACK_MB = 1;
/** Longer timers overflow in Node and fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type CallBody = Omit<ThreadCall, 'deadline'>;

interface Job {
  id: number;
  body: CallBody;
  signal: AbortSignal | undefined;
  onAbort: () => void;
  resolve: (run: ThreadRun) => void;
  reject: (error: SandboxError) => void;
  /** The queue wait, then the deadline, then the abort grace: one at a time. */
  timer: NodeJS.Timeout | undefined;
  worker: PoolWorker | undefined;
  settled: boolean;
}

interface PoolWorker {
  thread: Worker;
  abortFlag: Int32Array;
  ready: boolean;
  job: Job | undefined;
  dead: boolean;
}

class SandboxPool {
  private size = defaultPoolSize();
  private queueTimeoutMs = DEFAULT_QUEUE_TIMEOUT_MS;
  private readonly workers = new Set<PoolWorker>();
  private readonly queue: Job[] = [];
  private started = 0;
  private nextId = 1;
  private entry: WorkerEntry | undefined;

  configure(options: SandboxPoolOptions): void {
    if (options.size !== undefined) {
      if (!Number.isSafeInteger(options.size) || options.size < 1) throw new TypeError('The sandbox pool size must be a positive integer');
      this.size = options.size;
    }
    if (options.queueTimeoutMs !== undefined) {
      if (!Number.isFinite(options.queueTimeoutMs) || options.queueTimeoutMs <= 0) {
        throw new TypeError('The sandbox queue timeout must be a positive number');
      }
      this.queueTimeoutMs = Math.min(options.queueTimeoutMs, MAX_TIMER_MS);
    }
    // Idle workers past a smaller size stop now; busy ones when their call ends.
    for (const worker of this.workers) {
      if (this.workers.size <= this.size) break;
      if (!worker.job) this.remove(worker);
    }
    this.pump();
  }

  stats(): SandboxPoolStats {
    let busy = 0;
    for (const worker of this.workers) if (worker.job) busy += 1;
    return { size: this.size, workers: this.workers.size, busy, queued: this.queue.length, started: this.started };
  }

  run(body: CallBody, signal: AbortSignal | undefined): Promise<ThreadRun> {
    return new Promise<ThreadRun>((resolve, reject) => {
      const job: Job = {
        id: this.nextId++,
        body,
        signal,
        onAbort: () => this.abort(job),
        resolve,
        reject,
        timer: undefined,
        worker: undefined,
        settled: false,
      };
      if (signal?.aborted) return reject(abortedError());
      signal?.addEventListener('abort', job.onAbort, { once: true });
      job.timer = setTimeout(() => this.expire(job), this.queueTimeoutMs);
      this.queue.push(job);
      this.pump();
    });
  }

  /** Hands queued calls to idle workers, and starts workers for the calls still waiting. */
  private pump(): void {
    while (this.queue.length > 0) {
      const worker = this.idleWorker();
      if (!worker) break;
      this.dispatch(this.queue.shift()!, worker);
    }
    let starting = 0;
    for (const worker of this.workers) if (!worker.ready) starting += 1;
    while (this.queue.length > starting && this.workers.size < this.size) {
      if (!this.spawn()) return;
      starting += 1;
    }
  }

  private idleWorker(): PoolWorker | undefined {
    for (const worker of this.workers) if (worker.ready && !worker.job) return worker;
    return undefined;
  }

  private dispatch(job: Job, worker: PoolWorker): void {
    clearTimeout(job.timer);
    job.worker = worker;
    worker.job = job;
    Atomics.store(worker.abortFlag, 0, 0);
    // The time limit starts now, not when the call was queued; the worker stops the code at the
    // deadline itself, and the terminate below is the backstop for when it cannot.
    const deadline = Date.now() + job.body.timeoutMs;
    worker.thread.postMessage({ ...job.body, id: job.id, deadline } satisfies CallRequest);
    job.timer = setTimeout(
      () => this.kill(worker, timeoutError(job.body.timeoutMs)),
      Math.min(job.body.timeoutMs + DEADLINE_GRACE_MS, MAX_TIMER_MS),
    );
  }

  private abort(job: Job): void {
    if (job.settled) return;
    const worker = job.worker;
    if (!worker) {
      this.queue.splice(this.queue.indexOf(job), 1);
      this.settle(job, abortedError());
      return;
    }
    // The worker stops the code at its next interrupt check and answers with the logs so far.
    Atomics.store(worker.abortFlag, 0, 1);
    clearTimeout(job.timer);
    job.timer = setTimeout(() => this.kill(worker, abortedError()), ABORT_GRACE_MS);
  }

  private expire(job: Job): void {
    if (job.settled || job.worker) return;
    this.queue.splice(this.queue.indexOf(job), 1);
    const waited = this.queueTimeoutMs % 1000 === 0 ? `${this.queueTimeoutMs / 1000} s` : `${this.queueTimeoutMs} ms`;
    const busy = this.size === 1 ? 'the sandbox worker was busy' : `all ${this.size} sandbox workers were busy`;
    this.settle(job, new SandboxError('timeout', `Code did not start within ${waited}: ${busy}`));
  }

  private onReply(worker: PoolWorker, reply: WorkerReply): void {
    if (worker.dead) return;
    if (reply.type === 'ready') {
      worker.ready = true;
      this.pump();
      return;
    }
    const job = worker.job;
    if (!job || job.id !== reply.id) return;
    worker.job = undefined;
    if (reply.type === 'done') this.settle(job, { json: reply.json, logs: reply.logs });
    else this.settle(job, new SandboxError(reply.kind, reply.message, reply.logs, reply.line));
    if (this.workers.size > this.size) this.remove(worker);
    this.pump();
  }

  /** Terminates a worker that did not answer in time and starts its replacement. */
  private kill(worker: PoolWorker, error: SandboxError): void {
    const job = worker.job;
    this.remove(worker);
    if (job) this.settle(job, error);
    // Started now rather than on the next call, so that call does not wait for it.
    if (this.workers.size < this.size) this.spawn();
    this.pump();
  }

  /** A worker that crashed, exited or could not start. */
  private onFailure(worker: PoolWorker, reason: string): void {
    if (worker.dead) return;
    const { job, ready } = worker;
    this.remove(worker);
    if (job) this.settle(job, new SandboxError('error', `The sandbox failed: ${reason}`));
    if (ready) this.pump();
    else this.startFailed(reason);
  }

  /**
   * A worker could not start. Starting another would most likely fail the same way, so the
   * waiting calls fail unless a started worker can take them; the next call tries again.
   */
  private startFailed(reason: string): void {
    for (const worker of this.workers) if (worker.ready) return;
    for (const job of this.queue.splice(0)) this.settle(job, new SandboxError('error', `The sandbox could not start: ${reason}`));
  }

  private spawn(): boolean {
    const abortFlag = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
    let thread: Worker;
    try {
      this.entry ??= workerEntry();
      thread = new Worker(this.entry.url, {
        workerData: { abortFlag: abortFlag.buffer as SharedArrayBuffer } satisfies SandboxWorkerData,
        execArgv: this.entry.execArgv,
        resourceLimits: { stackSizeMb: WORKER_STACK_MB },
      });
    } catch (error) {
      this.startFailed(error instanceof Error ? error.message : String(error));
      return false;
    }
    const worker: PoolWorker = { thread, abortFlag, ready: false, job: undefined, dead: false };
    this.workers.add(worker);
    this.started += 1;
    thread.on('message', (reply: WorkerReply) => this.onReply(worker, reply));
    thread.on('error', (error: Error) => this.onFailure(worker, error.message));
    thread.on('messageerror', (error: Error) => this.onFailure(worker, error.message));
    thread.on('exit', (code: number) => this.onFailure(worker, `the worker stopped (exit code ${code})`));
    // A running call keeps the process alive through its timer, a worker never does. (After the
    // listeners: adding a 'message' listener refs the worker's port again.)
    thread.unref();
    return true;
  }

  private remove(worker: PoolWorker): void {
    worker.dead = true;
    worker.job = undefined;
    this.workers.delete(worker);
    worker.thread.terminate().catch(() => {
      // Already gone: nothing is left to stop.
    });
  }

  private settle(job: Job, outcome: ThreadRun | SandboxError): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    job.signal?.removeEventListener('abort', job.onAbort);
    if (outcome instanceof SandboxError) job.reject(outcome);
    else job.resolve(outcome);
  }
}

interface WorkerEntry {
  url: URL;
  execArgv: string[];
}

/**
 * The worker's module, next to this one: `.js` once compiled. From source (`tsx`, Vitest) it is
 * the `.ts` file, loaded through tsx's hooks: Node 20 does not apply an inherited `--import tsx`
 * to a worker's entry module, so a small module registers the hooks in the worker first.
 */
function workerEntry(): WorkerEntry {
  // An inherited --inspect would make each worker try to open the same debugger port.
  const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--inspect'));
  if (!import.meta.url.endsWith('.ts')) return { url: new URL('./sandbox-worker.js', import.meta.url), execArgv };
  const target = new URL('./sandbox-worker.ts', import.meta.url).href;
  const source = `const { register } = await import(${JSON.stringify(tsxApiUrl())});\nregister();\nawait import(${JSON.stringify(target)});\n`;
  return { url: new URL(`data:text/javascript,${encodeURIComponent(source)}`), execArgv };
}

/** tsx's ESM API module (its CommonJS build cannot register the hooks), read from its exports map. */
function tsxApiUrl(): string {
  const manifestPath = createRequire(import.meta.url).resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: Record<string, { import?: { default?: unknown } }> };
  const file = manifest.exports?.['./esm/api']?.import?.default;
  if (typeof file !== 'string') throw new Error('the installed tsx has no ESM API to load the TypeScript worker with');
  return pathToFileURL(join(dirname(manifestPath), file)).href;
}

function defaultPoolSize(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

const pool = new SandboxPool();

/** Runs one call in a worker; rejects with a SandboxError only. */
export function runInPool(body: CallBody, signal?: AbortSignal): Promise<ThreadRun> {
  return pool.run(body, signal);
}

/** Sets the pool's size and queue wait (the process's config calls this once at start). */
export function configureSandboxPool(options: SandboxPoolOptions): void {
  pool.configure(options);
}

/** The pool's current state (for metrics and tests). */
export function sandboxPoolStats(): SandboxPoolStats {
  return pool.stats();
}
