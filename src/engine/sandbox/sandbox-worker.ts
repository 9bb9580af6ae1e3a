import { parentPort, workerData } from 'node:worker_threads';
import { prepareQuickJS } from './quickjs-module.js';
import { runInThread } from './run-in-thread.js';
import { SandboxError } from './sandbox-error.js';
import type { CallRequest, SandboxWorkerData, WorkerReply } from './sandbox-protocol.js';

/**
 * A sandbox worker thread (started by sandbox-pool.ts): runs one call at a time with
 * runInThread and answers each with a WorkerReply. The pool terminates the thread when a call
 * overruns its deadline, so nothing here has to survive that.
 */
if (!parentPort) throw new Error('sandbox-worker runs only as a worker thread');
const port = parentPort;
const abortFlag = new Int32Array((workerData as SandboxWorkerData).abortFlag);
const isAborted = (): boolean => Atomics.load(abortFlag, 0) !== 0;

async function answer(request: CallRequest): Promise<void> {
  let reply: WorkerReply;
  try {
    const run = await runInThread(request, isAborted);
    reply = { type: 'done', id: request.id, json: run.json, logs: run.logs };
  } catch (caught) {
    const error =
      caught instanceof SandboxError
        ? caught
        : new SandboxError('error', `The sandbox failed: ${caught instanceof Error ? caught.message : String(caught)}`);
    reply = { type: 'failed', id: request.id, kind: error.kind, message: error.message, logs: error.logs, line: error.line };
  }
  port.postMessage(reply);
}

// Compiling first keeps the module's compilation out of the first call's time limit.
await prepareQuickJS();
port.on('message', (request: CallRequest) => void answer(request));
port.postMessage({ type: 'ready' } satisfies WorkerReply);
