import { afterEach, describe, expect, it } from 'vitest';
import {
  runSandboxed,
  runSandboxedWithLogs,
  SandboxError,
  type SandboxErrorKind,
  type SandboxOptions,
} from '../../src/engine/sandbox/index.js';

const MB = 1024 * 1024;
const limits: SandboxOptions = { timeoutMs: 2_000, memoryBytes: 32 * MB };

const run = (code: string, input: unknown = null, options: Partial<SandboxOptions> = {}) =>
  runSandboxed(code, input, { ...limits, ...options });

/** The SandboxError the call fails with (fails the test if it succeeds or throws something else). */
async function failure(code: string, input: unknown = null, options: Partial<SandboxOptions> = {}): Promise<SandboxError> {
  const outcome = await runSandboxedWithLogs(code, input, { ...limits, ...options }).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.result)}`);
  expect(outcome.error).toBeInstanceOf(SandboxError);
  return outcome.error as SandboxError;
}

async function expectFailure(code: string, kind: SandboxErrorKind, message: RegExp | string, options: Partial<SandboxOptions> = {}) {
  const error = await failure(code, null, options);
  expect({ kind: error.kind, message: error.message }).toEqual({
    kind,
    message: typeof message === 'string' ? message : expect.stringMatching(message),
  });
  return error;
}

// Whatever a test did to the sandbox, the host must be unharmed and the next call must work.
afterEach(async () => {
  expect(Object.prototype).not.toHaveProperty('polluted');
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(await run('return { doubled: input.n * 2 }', { n: 21 })).toEqual({ doubled: 42 });
});

describe('results', () => {
  it('returns JSON data of every kind', async () => {
    expect(await run('return input.a + 1', { a: 1 })).toBe(2);
    expect(await run('return "text " + input', 'x')).toBe('text x');
    expect(await run('return null')).toBeNull();
    expect(await run('return [1, "two", true, null, { three: 3 }]')).toEqual([1, 'two', true, null, { three: 3 }]);
    expect(await run('return { list: input.map((n) => n * 2), nested: { deep: { ok: true } } }', [1, 2])).toEqual({
      list: [2, 4],
      nested: { deep: { ok: true } },
    });
  });

  it('converts like JSON: undefined is null, dates are strings, undefined fields are left out', async () => {
    expect(await run('return undefined')).toBeNull();
    expect(await run('const x = input.a + 1', { a: 1 })).toBeNull();
    expect(await run('return new Date(0)')).toBe('1970-01-01T00:00:00.000Z');
    expect(await run('return { a: undefined, b: [undefined], c: NaN }')).toEqual({ b: [null], c: null });
  });

  it('gives the code a copy of the input, not the host object', async () => {
    const input = { list: [1, 2], when: new Date(0) };
    expect(await run('input.list.push(3); input.added = true; return input', input)).toEqual({
      list: [1, 2, 3],
      when: '1970-01-01T00:00:00.000Z',
      added: true,
    });
    expect(input).toEqual({ list: [1, 2], when: new Date(0) });
  });

  it('exposes the context names as globals', async () => {
    const context = { execution: { uuid: 'e-1' }, vars: { region: 'eu' }, nodes: { fetch: { output: { n: 3 } } } };
    expect(await run('return [execution.uuid, vars.region, nodes.fetch.output.n, globalThis.input.x]', { x: 1 }, { context })).toEqual([
      'e-1',
      'eu',
      3,
      1,
    ]);
  });

  it('refuses an input that is not JSON data and context names that cannot be globals', async () => {
    await expect(run('return 1', { n: 1n })).rejects.toMatchObject({ kind: 'error', message: expect.stringMatching(/^The input or context is not JSON data/) });
    await expect(run('return 1', null, { context: { 'not-a-name': 1 } })).rejects.toThrow(TypeError);
    await expect(run('return 1', null, { context: { input: 1 } })).rejects.toThrow(TypeError);
  });

  it('refuses results that are not JSON data', async () => {
    await expectFailure('return () => 1', 'result', 'The result is not JSON data: it holds a function');
    await expectFailure('return { a: { b: Symbol("s") } }', 'result', 'The result is not JSON data: it holds a symbol at key "b"');
    await expectFailure('return [10n]', 'result', 'The result is not JSON data: it holds a bigint at key "0"');
    await expectFailure('const a = { b: {} }; a.b.a = a; return a', 'result', /^The result is not JSON data: .*circular/);
  });

  it('serializes with the original JSON even when the code replaced it', async () => {
    expect(await run('JSON.stringify = () => "{\\"hijacked\\": true}"; return { a: 1 }')).toEqual({ a: 1 });
  });
});

describe('async code', () => {
  it('awaits at the top and runs promise jobs until the result settles', async () => {
    expect(await run('const a = await Promise.resolve(input); const b = await new Promise((r) => r(a + 1)); return b * 2', 1)).toBe(4);
    expect(await run('async function sum(list) { let t = 0; for (const n of list) t += await n; return t } return sum(input)', [1, 2, 3])).toBe(6);
    expect(await run('return Promise.all([1, 2].map(async (n) => n * 10))')).toEqual([10, 20]);
  });

  it('reports a rejection like a throw', async () => {
    await expectFailure('await null;\nthrow new TypeError("late")', 'error', 'TypeError: late (line 2)');
    await expectFailure('return Promise.reject(42)', 'error', 'Uncaught 42');
  });

  it('fails a promise that can never settle instead of waiting for it', async () => {
    await expectFailure('return new Promise(() => {})', 'result', /never settles/);
  });
});

describe('errors', () => {
  it('reports thrown errors with their name, message and line', async () => {
    const error = await expectFailure('const x = 1;\nconst y = 2;\nx();', 'error', 'TypeError: not a function (line 3)');
    expect(error.line).toBe(3);
    await expectFailure('\n\nmissing.call()', 'error', "ReferenceError: 'missing' is not defined (line 3)");
    await expectFailure('throw new RangeError("out of range")', 'error', 'RangeError: out of range (line 1)');
  });

  it('reports thrown values that are not errors', async () => {
    await expectFailure('throw "boom"', 'error', 'Uncaught boom');
    await expectFailure('throw { code: 7 }', 'error', 'Uncaught {"code":7}');
  });

  it('reports syntax errors with their line', async () => {
    await expectFailure('const a = 1;\nconst = ;', 'error', /^SyntaxError: .* \(line 2\)$/);
    await expectFailure('return {', 'error', /^SyntaxError: /);
  });

  it('survives errors whose properties misbehave', async () => {
    await expectFailure('throw { get message() { throw new Error("no") }, name: "Odd" }', 'error', 'Odd');
    await expectFailure(
      'const e = new Error("x"); Object.defineProperty(e, "message", { get() { while (true) {} } }); throw e',
      'timeout',
      'Code ran longer than 300 ms',
      { timeoutMs: 300 },
    );
  });
});

describe('console', () => {
  it('captures console output as lines', async () => {
    const result = await runSandboxedWithLogs(
      'console.log("hello", 1, { a: [1] }, undefined, null, true); console.error(new Error("bad")); console.warn(() => 1); return 1',
      null,
      limits,
    );
    expect(result).toEqual({ output: 1, logs: ['hello 1 {"a":[1]} undefined null true', 'Error: bad', '[Function]'] });
  });

  it('caps the lines and their size, and keeps them with a failure', async () => {
    const many = await runSandboxedWithLogs('for (let i = 0; i < 500; i++) console.log("line", i); return 1', null, limits);
    expect(many.logs).toHaveLength(100);
    expect(many.logs[0]).toBe('line 0');
    expect(many.logs[99]).toBe('[logs truncated]');

    const big = await runSandboxedWithLogs('console.log("x".repeat(1e6)); console.log("after"); return 1', null, limits);
    expect(Buffer.byteLength(big.logs.join(''))).toBeLessThanOrEqual(10 * 1024);
    expect(big.logs.at(-1)).toBe('[logs truncated]');

    const error = await failure('console.log("before"); throw new Error("x")');
    expect(error.logs).toEqual(['before']);
  });
});

describe('escape attempts', () => {
  it('has no process, require, modules or host timers', async () => {
    await expectFailure('return process.env', 'error', "ReferenceError: 'process' is not defined (line 1)");
    await expectFailure('return require("fs")', 'error', "ReferenceError: 'require' is not defined (line 1)");
    await expectFailure('return await import("fs")', 'error', /could not load module 'fs'/);
    await expectFailure('import fs from "fs";\nreturn fs', 'error', /^SyntaxError: /);
    expect(
      await run(
        'return [typeof process, typeof require, typeof module, typeof Buffer, typeof global, typeof fetch, typeof setTimeout, typeof setImmediate, typeof queueMicrotask, typeof WebAssembly, typeof std, typeof os]',
      ),
    ).toEqual(Array(12).fill('undefined'));
  });

  it('gives constructor chains only the sandbox globals', async () => {
    const probes = [
      'return this.constructor.constructor("return typeof process")()',
      'return Function("return typeof this.process")()',
      'return (async () => {}).constructor("return typeof process")()',
      'return (function* () {}).constructor("return typeof require")().next().value',
      'return console.log.constructor("return typeof process")()',
      'return input.constructor.constructor("return typeof process")()',
      'return eval("typeof process")',
      'return [typeof Error.captureStackTrace, typeof Error.prepareStackTrace].join()',
    ];
    for (const code of probes) expect(await run(code, {})).toMatch(/^undefined(,undefined)?$/);
  });

  it('shows only QuickJS built-ins on globalThis', async () => {
    const names = (await run('return Object.getOwnPropertyNames(globalThis)')) as string[];
    expect(names).toEqual(expect.arrayContaining(['Object', 'JSON', 'Promise', 'console', 'input']));
    for (const host of ['process', 'require', 'module', 'exports', 'Buffer', 'global', 'fetch', 'setTimeout', 'WebAssembly', 'navigator']) {
      expect(names).not.toContain(host);
    }
    expect(await run('return Function("return this")() === globalThis')).toBe(true);
  });

  it('keeps each call apart from the next', async () => {
    expect(await run('globalThis.leak = 1; Object.prototype.polluted = true; Array.prototype.push = null; return 1')).toBe(1);
    expect(await run('return [typeof leak, ({}).polluted, typeof [].push]')).toEqual(['undefined', null, 'function']);
  });

  it('does not let `__proto__` keys of the result reach host prototypes', async () => {
    const output = (await run(
      'return JSON.parse(\'{"a": 1, "__proto__": {"polluted": true}, "nested": {"__proto__": {"polluted": true}}, "list": [{"\\\\u005f_proto__": {"polluted": true}}]}\')',
    )) as Record<string, unknown>;
    expect(output).toEqual({ a: 1, nested: {}, list: [{}] });
    expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
    expect(Object.keys(output)).not.toContain('__proto__');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // A result shaped like a constructor chain is only data.
    expect(await run('return { constructor: { prototype: { polluted: true } } }')).toEqual({ constructor: { prototype: { polluted: true } } });
  });
});

describe('limits', () => {
  it('times out an infinite loop, even one inside try/catch', async () => {
    await expectFailure('while (true) {}', 'timeout', 'Code ran longer than 200 ms', { timeoutMs: 200 });
    await expectFailure('for (;;) { try { while (true) {} } catch { } }', 'timeout', 'Code ran longer than 200 ms', { timeoutMs: 200 });
    await expectFailure('async function spin() { while (true) await null } return spin()', 'timeout', 'Code ran longer than 200 ms', { timeoutMs: 200 });
    await expectFailure('return /(a+)+$/.test("a".repeat(40) + "b")', 'timeout', 'Code ran longer than 200 ms', { timeoutMs: 200 });
  });

  it('stops memory bombs at the memory limit', async () => {
    const bombs = [
      'let a = []; while (true) a.push(new Array(1e6).fill(1))',
      'const a = []; while (true) a.push({ n: a.length, s: "x" + a.length })',
      'const a = []; while (true) a.push(new Uint8Array(1 << 20))',
      'return "x".repeat(2 ** 28).length',
      'let s = "x"; while (true) { s = s + s; s = s.split("").join(""); }',
    ];
    for (const code of bombs) {
      await expectFailure(code, 'memory', 'Code used more than 32 MB of memory', { timeoutMs: 10_000 });
    }
  });

  it('fails string doubling safely', async () => {
    // QuickJS concatenates lazily, so doubling reaches the maximum string length before the memory limit.
    const error = await failure('let s = "x"; while (true) s += s');
    expect(['error', 'memory']).toContain(error.kind);
  });

  it('lets the code catch running out of memory and go on', async () => {
    expect(await run('try { const a = []; while (true) a.push(new Array(1e5).fill(1)) } catch (e) { return String(e) }', null, { timeoutMs: 10_000 })).toBe(
      'InternalError: out of memory',
    );
  });

  it('refuses an input larger than the memory limit before running', async () => {
    const error = await failure('return input.length', 'x'.repeat(20 * MB));
    expect({ kind: error.kind, message: error.message }).toEqual({
      kind: 'memory',
      message: "The input and context do not fit in the code's memory limit of 32 MB",
    });
    expect(await run('return input.length', 'x'.repeat(4 * MB))).toBe(4 * MB);
  });

  it('stops deep recursion with a stack overflow', async () => {
    await expectFailure('function down(n) { return down(n + 1) + 1 }\nreturn down(0)', 'error', 'InternalError: stack overflow (line 1)');
    await expectFailure('const o = { get x() { return this.x } }; return o.x', 'error', /^InternalError: stack overflow/);
  });

  it('survives nesting that overflows the host stack inside QuickJS', async () => {
    // That the faulted instance is dropped is checked in sandbox-in-thread.test.ts.
    await expectFailure('return eval("(".repeat(1e5) + "1" + ")".repeat(1e5))', 'error', /^InternalError: stack overflow/);
    await expectFailure('let a = []; for (let i = 0; i < 1e5; i++) a = [a]; return a', 'error', /^InternalError: stack overflow/);
    expect(await run('return input', 'fine')).toBe('fine');
  });
});

describe('abort', () => {
  it('does not start when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expectFailure('return 1', 'aborted', 'Code was stopped: the execution was cancelled', { signal: controller.signal });
  });

  it('stops code that keeps running promise jobs', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    await expectFailure('async function spin() { while (true) await null } return spin()', 'aborted', /cancelled/, {
      signal: controller.signal,
      timeoutMs: 10_000,
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('stops a synchronous loop soon after the abort, keeping what it printed', async () => {
    const controller = new AbortController();
    let abortedAt = 0;
    setTimeout(() => {
      abortedAt = Date.now();
      controller.abort();
    }, 100);
    const error = await expectFailure('console.log("spinning"); while (true) {}', 'aborted', 'Code was stopped: the execution was cancelled', {
      signal: controller.signal,
      timeoutMs: 20_000,
    });
    expect(Date.now() - abortedAt).toBeLessThan(2_000);
    expect(error.logs).toEqual(['spinning']);
  });
});

describe('cost', () => {
  it('measures the cost of a trivial call (reported, not asserted)', async () => {
    for (let i = 0; i < 200; i++) await run('return input', i);
    const samples: number[] = [];
    for (let i = 0; i < 1_000; i++) {
      const started = performance.now();
      await run('return input', { i });
      samples.push(performance.now() - started);
    }
    samples.sort((a, b) => a - b);
    const mean = samples.reduce((sum, t) => sum + t, 0) / samples.length;
    const at = (q: number) => samples[Math.floor(q * (samples.length - 1))]!.toFixed(3);
    console.log(`sandbox call through the pool "return input": mean ${mean.toFixed(3)} ms, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`);
    expect(samples).toHaveLength(1_000);
  });
});
