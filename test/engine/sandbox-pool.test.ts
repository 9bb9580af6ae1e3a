import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  configureSandboxPool,
  runSandboxed,
  runSandboxedWithLogs,
  SandboxError,
  sandboxPoolStats,
  type SandboxOptions,
} from '../../src/engine/sandbox/index.js';

// The worker pool around the sandbox: the host's event loop keeps turning while code runs, aborts
// and deadlines stop even code that never reaches an interrupt check, and the pool recovers.
// Bounds on time are generous: the test machine may be loaded.

const MB = 1024 * 1024;
const limits: SandboxOptions = { timeoutMs: 2_000, memoryBytes: 32 * MB };
const DEFAULT_SIZE = Math.max(1, Math.min(4, availableParallelism() - 1));
/** A loop inside one built-in call: QuickJS checks for interrupts only between bytecodes, so only terminating the worker stops it. */
const UNINTERRUPTIBLE = 'return Array.prototype.indexOf.call({ length: 2 ** 40 }, 1)';

async function failure(promise: Promise<unknown>): Promise<SandboxError> {
  const error = await promise.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SandboxError);
  return error as SandboxError;
}

afterEach(async () => {
  configureSandboxPool({ size: DEFAULT_SIZE, queueTimeoutMs: 30_000 });
  // Whatever a test did, the pool must still run the next call.
  expect(await runSandboxed('return input * 2', 21, limits)).toBe(42);
});

describe('sandbox pool', () => {
  // First in the file: nothing has used the pool yet in this process.
  it('starts its workers only when the first call comes', async () => {
    expect(sandboxPoolStats()).toMatchObject({ size: DEFAULT_SIZE, workers: 0, started: 0 });
    expect(await runSandboxed('return input', 'first', limits)).toBe('first');
    expect(sandboxPoolStats()).toMatchObject({ workers: 1, busy: 0, queued: 0, started: 1 });
  });

  it('keeps the host event loop turning while code loops synchronously', async () => {
    let ticks = 0;
    const interval = setInterval(() => (ticks += 1), 10);
    try {
      const error = await failure(runSandboxedWithLogs('console.log("spinning"); while (true) {}', null, { ...limits, timeoutMs: 1_000 }));
      expect({ kind: error.kind, message: error.message, logs: error.logs }).toEqual({
        kind: 'timeout',
        message: 'Code ran longer than 1000 ms',
        logs: ['spinning'],
      });
    } finally {
      clearInterval(interval);
    }
    // About 100 ticks fit in the second; a blocked loop would have let through none.
    expect(ticks).toBeGreaterThanOrEqual(20);
  });

  it('stops a synchronous loop on abort without replacing the worker', async () => {
    await runSandboxed('return 1', null, limits);
    const { started } = sandboxPoolStats();
    const controller = new AbortController();
    const call = runSandboxedWithLogs('while (true) {}', null, { ...limits, timeoutMs: 30_000, signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const abortedAt = Date.now();
    controller.abort();
    const error = await failure(call);
    expect(error.kind).toBe('aborted');
    expect(Date.now() - abortedAt).toBeLessThan(1_000);
    // The loop saw the abort flag itself: the worker answered and stays.
    expect(sandboxPoolStats().started).toBe(started);
  });

  it('terminates and replaces a worker that cannot stop by its deadline', async () => {
    await runSandboxed('return 1', null, limits);
    const { started } = sandboxPoolStats();
    const began = Date.now();
    const error = await failure(runSandboxedWithLogs(`console.log("lost"); ${UNINTERRUPTIBLE}`, null, { ...limits, timeoutMs: 300 }));
    // Same error as a timeout the worker reports itself; what was printed is lost with the worker.
    expect({ kind: error.kind, message: error.message, logs: error.logs }).toEqual({ kind: 'timeout', message: 'Code ran longer than 300 ms', logs: [] });
    expect(Date.now() - began).toBeLessThan(3_000);
    expect(sandboxPoolStats().started).toBe(started + 1);
    expect(await runSandboxed('return input', 'after', limits)).toBe('after');
  });

  it('terminates a worker that cannot stop when aborted', async () => {
    const controller = new AbortController();
    const call = runSandboxed(UNINTERRUPTIBLE, null, { ...limits, timeoutMs: 30_000, signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const abortedAt = Date.now();
    controller.abort();
    const error = await failure(call);
    expect({ kind: error.kind, message: error.message }).toEqual({ kind: 'aborted', message: 'Code was stopped: the execution was cancelled' });
    expect(Date.now() - abortedAt).toBeLessThan(1_000);
  });

  it('queues calls beyond its size and runs them all', async () => {
    configureSandboxPool({ size: 2 });
    const seen: Array<{ workers: number; busy: number; queued: number }> = [];
    const calls = Array.from({ length: 8 }, (_, n) =>
      runSandboxed('let t = 0; for (let i = 0; i < 2e5; i++) t += i % 7; return [input, t]', n, limits).finally(() => {
        const { workers, busy, queued } = sandboxPoolStats();
        seen.push({ workers, busy, queued });
      }),
    );
    // At most the idle workers took a call at once; the rest wait in the queue.
    const atStart = sandboxPoolStats();
    const results = await Promise.all(calls);
    expect(results.map((result) => (result as number[])[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(results.map((result) => (result as number[])[1])).size).toBe(1);
    expect(atStart.busy).toBeLessThanOrEqual(2);
    expect(atStart.queued).toBe(8 - atStart.busy);
    expect(atStart.queued).toBeGreaterThanOrEqual(6);
    for (const state of seen) {
      expect(state.workers).toBeLessThanOrEqual(2);
      expect(state.busy).toBeLessThanOrEqual(2);
    }
  });

  it('gives up on a call that waited too long for a worker', async () => {
    configureSandboxPool({ size: 1, queueTimeoutMs: 200 });
    // Wait until the single worker is started, so the queue wait below is only the busy worker.
    await runSandboxed('return 1', null, limits);
    const busy = failure(runSandboxed('while (true) {}', null, { ...limits, timeoutMs: 1_500 }));
    const waiting = await failure(runSandboxed('return 1', null, limits));
    expect({ kind: waiting.kind, message: waiting.message }).toEqual({
      kind: 'timeout',
      message: 'Code did not start within 200 ms: the sandbox worker was busy',
    });
    expect((await busy).kind).toBe('timeout');
  });

  it('drops a queued call when its signal is aborted, leaving the others', async () => {
    configureSandboxPool({ size: 1 });
    await runSandboxed('return 1', null, limits);
    const controller = new AbortController();
    const first = runSandboxed('let t = 0; for (let i = 0; i < 1e6; i++) t += 1; return t', null, limits);
    const dropped = failure(runSandboxed('return "never"', null, { ...limits, signal: controller.signal }));
    const last = runSandboxed('return "last"', null, limits);
    expect(sandboxPoolStats()).toMatchObject({ busy: 1, queued: 2 });
    controller.abort();
    expect((await dropped).kind).toBe('aborted');
    expect(sandboxPoolStats()).toMatchObject({ busy: 1, queued: 1 });
    expect(await first).toBe(1e6);
    expect(await last).toBe('last');
  });

  it('survives memory bombs in several workers at once', async () => {
    configureSandboxPool({ size: 2 });
    const bombs = [
      'let a = []; while (true) a.push(new Array(1e6).fill(1))',
      'const a = []; while (true) a.push(new Uint8Array(1 << 20))',
      'const a = []; while (true) a.push({ n: a.length, s: "x" + a.length })',
      'return "x".repeat(2 ** 28).length',
    ];
    const errors = await Promise.all(bombs.map((code) => failure(runSandboxed(code, null, { ...limits, timeoutMs: 10_000 }))));
    for (const error of errors) expect({ kind: error.kind, message: error.message }).toEqual({ kind: 'memory', message: 'Code used more than 32 MB of memory' });
  });

  it('shrinks to a smaller size once its workers are idle', async () => {
    configureSandboxPool({ size: 2 });
    await Promise.all([runSandboxed('return 1', null, limits), runSandboxed('return 2', null, limits)]);
    expect(sandboxPoolStats().workers).toBe(2);
    configureSandboxPool({ size: 1 });
    expect(sandboxPoolStats()).toMatchObject({ size: 1, workers: 1 });
  });

  it('refuses a size or queue wait that is not positive', () => {
    expect(() => configureSandboxPool({ size: 0 })).toThrow(TypeError);
    expect(() => configureSandboxPool({ size: 1.5 })).toThrow(TypeError);
    expect(() => configureSandboxPool({ queueTimeoutMs: 0 })).toThrow(TypeError);
  });

  it('does not keep the process alive once calls are done', async () => {
    // A process that ran a call and then has nothing left to do exits by itself.
    const script = [
      `const { runSandboxed } = await import(${JSON.stringify(new URL('../../src/engine/sandbox/index.ts', import.meta.url).href)});`,
      'console.log(JSON.stringify(await runSandboxed("return input + 1", 1, { timeoutMs: 1000, memoryBytes: 32 * 1024 * 1024 })));',
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      timeout: 25_000,
    });
    expect(stdout.trim()).toBe('2');
  });
});
