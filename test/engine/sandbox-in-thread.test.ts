import { describe, expect, it } from 'vitest';
import { quickJSInstancesCreated } from '../../src/engine/sandbox/quickjs-module.js';
import { runInThread, type ThreadCall } from '../../src/engine/sandbox/run-in-thread.js';
import { SandboxError } from '../../src/engine/sandbox/sandbox-error.js';

// What a worker runs, called here in the test's own thread: the parts of a call that the pool
// cannot observe from outside (which QuickJS instance ran it, how it reads the abort flag).

const MB = 1024 * 1024;

function call(code: string, input: unknown = null, timeoutMs = 2_000): ThreadCall {
  return { code, data: JSON.stringify({ input }), names: ['input'], timeoutMs, deadline: Date.now() + timeoutMs, memoryBytes: 32 * MB };
}

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

describe('runInThread', () => {
  it('returns the JSON text of the result and the logs', async () => {
    expect(await runInThread(call('console.log("hi", input); return { a: input + 1 }', 1))).toEqual({ json: '{"a":2}', logs: ['hi 1'] });
  });

  it('drops an instance whose state a host stack overflow left mid-operation', async () => {
    const before = quickJSInstancesCreated();
    const error = await failure(runInThread(call('return eval("(".repeat(1e5) + "1" + ")".repeat(1e5))')));
    expect(error.message).toMatch(/^InternalError: stack overflow/);
    expect(await runInThread(call('return input', 'fine'))).toEqual({ json: '"fine"', logs: [] });
    // The faulted instance was not reused: the next call needed a new one.
    expect(quickJSInstancesCreated()).toBeGreaterThan(before);
  });

  it('reuses a healthy instance for the next call', async () => {
    await runInThread(call('return 1'));
    const before = quickJSInstancesCreated();
    await runInThread(call('return 2'));
    expect(quickJSInstancesCreated()).toBe(before);
  });

  it('consults the abort check while a synchronous loop runs', async () => {
    let checks = 0;
    const error = await failure(runInThread(call('console.log("before"); while (true) {}', null, 60_000), () => ++checks > 3));
    expect({ kind: error.kind, message: error.message, logs: error.logs }).toEqual({
      kind: 'aborted',
      message: 'Code was stopped: the execution was cancelled',
      logs: ['before'],
    });
  });

  it('reports a stop that lands inside a promise job as the stop', async () => {
    // Stopping after a varying number of checks lands the stop at varying points of the loop,
    // some inside the job that resumes the function (there the chain ends without an error).
    const kinds = new Set<string>();
    for (let after = 0; after < 60; after++) {
      let checks = 0;
      const stopped = runInThread(call('async function spin() { while (true) await null } return spin()', null, 60_000), () => ++checks > after);
      kinds.add((await failure(stopped)).kind);
    }
    expect([...kinds]).toEqual(['aborted']);
  });

  it('stops at the deadline it is given, reporting the time limit', async () => {
    const timed = { ...call('while (true) {}', null, 1_000), deadline: Date.now() + 100 };
    const started = Date.now();
    const error = await failure(runInThread(timed));
    expect({ kind: error.kind, message: error.message }).toEqual({ kind: 'timeout', message: 'Code ran longer than 1000 ms' });
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('measures the cost of a trivial call in one thread (reported, not asserted)', async () => {
    for (let i = 0; i < 200; i++) await runInThread(call('return input', i));
    const samples: number[] = [];
    for (let i = 0; i < 1_000; i++) {
      const started = performance.now();
      await runInThread(call('return input', { i }));
      samples.push(performance.now() - started);
    }
    samples.sort((a, b) => a - b);
    const mean = samples.reduce((sum, t) => sum + t, 0) / samples.length;
    const at = (q: number) => samples[Math.floor(q * (samples.length - 1))]!.toFixed(3);
    console.log(`sandbox call in one thread "return input": mean ${mean.toFixed(3)} ms, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`);
    expect(samples).toHaveLength(1_000);
  });
});
