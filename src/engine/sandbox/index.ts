/**
 * The `code` node's sandbox: JavaScript run by QuickJS compiled to WebAssembly in a pool of worker
 * threads, with a time, memory and stack limit per call and no access to the host. See README.md
 * for the guarantees.
 */
export { runSandboxed, runSandboxedWithLogs, type SandboxOptions, type SandboxRun } from './run-sandboxed.js';
export { configureSandboxPool, sandboxPoolStats, type SandboxPoolOptions, type SandboxPoolStats } from './sandbox-pool.js';
export { SandboxError, type SandboxErrorKind } from './sandbox-error.js';
export { MAX_LOG_BYTES, MAX_LOG_LINES } from './log-buffer.js';
