import type { EventEmitter } from 'node:events';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config.js';
import type { AppContext } from '../context.js';
import type { ExecutionDispatcher, ExecutionEvent, ExecutionRunner } from '../modules/executions/runner.js';
import { registerQueueProbe, unregisterQueueProbe } from './queue-health.js';
import { checkJobHandlers, EXECUTIONS_QUEUE, isJobName, parseJobPayload, type JobHandlers, type JobName, type JobPayloads } from './registry.js';

// Every wait on Redis is bounded. A command that is not answered fails after COMMAND_TIMEOUT_MS
// (the database stays the queue, so a failed dispatch or event costs latency, not work); the
// worker's blocking wait for jobs lasts DRAIN_DELAY_S, and its connection's command timeout is
// above the longest block BullMQ asks for (10 s), so only a dead connection trips it.
const CONNECT_TIMEOUT_MS = 5_000;
const COMMAND_TIMEOUT_MS = 5_000;
const WORKER_COMMAND_TIMEOUT_MS = 15_000;
const DRAIN_DELAY_S = 5;
const STARTUP_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5_000;
const PROBE_TIMEOUT_MS = 1_000;
// A killed worker's job is back in the queue within LOCK_DURATION_MS + STALLED_INTERVAL_MS. The
// execution itself resumes when its database lease runs out (ATHENA_WORKFLOW_LEASE_MS): the
// lease, not the job, says who runs it.
const LOCK_DURATION_MS = 10_000;
const STALLED_INTERVAL_MS = 5_000;
// Failed jobs (only a job whose worker died repeatedly ends there) are kept a while to look at.
const KEEP_FAILED = { count: 1_000, age: 7 * 24 * 3600 };

/** Reconnects soon after Redis comes back (100 ms doubling, at most 2 s apart), forever. */
function retryStrategy(times: number): number {
  return Math.min(100 * 2 ** Math.min(times, 5), 2_000);
}

/**
 * Keys and the events channel are per install: one database schema is one install, so two
 * installs sharing a Redis (and test runs side by side) never see each other's jobs.
 */
export function queuePrefix(config: Pick<Config, 'databaseSchema'>): string {
  return config.databaseSchema ? `athena:${config.databaseSchema}` : 'athena';
}

function connectionOptions(kind: 'commands' | 'subscriber' | 'worker'): RedisOptions {
  const base: RedisOptions = { connectTimeout: CONNECT_TIMEOUT_MS, retryStrategy, connectionName: `athena-${kind}` };
  switch (kind) {
    // Fails fast while Redis is away: a dispatch or an event that cannot go now is not queued
    // in memory (the database poll and the waiters' row checks cover for it).
    case 'commands':
      return { ...base, commandTimeout: COMMAND_TIMEOUT_MS, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
    // Subscribes at start and again after each reconnect. Without the INFO ready check and the
    // CLIENT SETINFO handshake: on a reconnect they can interleave with the resubscription, be
    // refused in subscriber mode, and leave the connection up but subscribed to nothing
    // (ioredis issue 2037).
    case 'subscriber':
      return {
        ...base,
        commandTimeout: COMMAND_TIMEOUT_MS,
        enableOfflineQueue: true,
        maxRetriesPerRequest: null,
        enableReadyCheck: false,
        disableClientInfo: true,
      };
    // BullMQ requires maxRetriesPerRequest null on a worker: its commands wait out a reconnect.
    case 'worker':
      return { ...base, commandTimeout: WORKER_COMMAND_TIMEOUT_MS, blockingTimeout: WORKER_COMMAND_TIMEOUT_MS, maxRetriesPerRequest: null };
  }
}

type ExecutionWorker = Worker<JobPayloads[JobName], void, JobName>;

type Message = { origin: string; id: string; kind: 'event'; event: ExecutionEvent } | { origin: string; id: string; kind: 'cancel' };

function parseMessage(text: string): Message | undefined {
  try {
    const message = JSON.parse(text) as Partial<Message> & { event?: Partial<ExecutionEvent> };
    if (typeof message.origin !== 'string' || typeof message.id !== 'string') return undefined;
    if (message.kind === 'cancel') return message as Message;
    const type = message.event?.type;
    if (message.kind === 'event' && (type === 'settled' || type === 'responded')) return message as Message;
  } catch {
    // Not ours (someone else publishing on the channel): ignored.
  }
  return undefined;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function waitUntilReady(client: Redis, ms: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return withTimeout(
    new Promise<void>((resolve) => client.once('ready', () => resolve())),
    ms,
    'connecting to Redis',
  );
}

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function isConnectionError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return (code !== undefined && CONNECTION_ERROR_CODES.has(code)) || /Connection is closed|Stream isn't writeable|Command timed out/.test(message ?? '');
}

/**
 * Logs a connection going away once and coming back once, not every failed reconnect attempt
 * (ioredis and BullMQ emit an error for each). Other errors are logged as they come (after a
 * restart that emptied Redis, for instance, a worker finishing a job that is gone).
 */
function watchConnection(ctx: AppContext, name: string, emitter: EventEmitter): void {
  let down = false;
  emitter.on('error', (error: unknown) => {
    if (!isConnectionError(error)) {
      ctx.log.warn({ err: error, connection: name }, 'the Redis queue reported an error');
      return;
    }
    if (down) return;
    down = true;
    ctx.log.warn({ err: error, connection: name }, 'Redis connection lost; reconnecting');
  });
  emitter.on('ready', () => {
    if (!down) return;
    down = false;
    ctx.log.info({ connection: name }, 'Redis connection back');
  });
}

/**
 * Scale mode: executions go through the BullMQ queue `athena-executions` to any worker process,
 * and execution events (answers, ends, cancels) between processes go over Redis pub/sub. The
 * database stays the queue of record: a job only says "look at this execution now"; the
 * worker claims the row, and rows whose job was lost (Redis restarted empty, a dispatch failed
 * while Redis was away) are claimed by the workers' database poll.
 */
export async function createQueueDispatcher(ctx: AppContext, runner: ExecutionRunner): Promise<ExecutionDispatcher> {
  const url = ctx.config.redisUrl;
  if (!url) throw new Error('REDIS_URL is not set.');
  const prefix = queuePrefix(ctx.config);
  const channel = `${prefix}:executions`;
  const origin = runner.owner;

  const commands = new Redis(url, connectionOptions('commands'));
  const subscriber = new Redis(url, connectionOptions('subscriber'));
  watchConnection(ctx, 'commands', commands);
  watchConnection(ctx, 'subscriber', subscriber);
  let queue: Queue | undefined;
  let worker: ExecutionWorker | undefined;

  const shutdown = async (): Promise<void> => {
    unregisterQueueProbe(ctx);
    ctx.metrics.useQueueDepth(undefined);
    if (worker) {
      const current = worker;
      // Runs after the runner stopped and handed its executions back, so active jobs are
      // ending; a worker cut off from Redis would wait forever to report them, hence the force.
      await withTimeout(current.close(), CLOSE_TIMEOUT_MS, 'closing the queue worker').catch(() =>
        withTimeout(current.close(true), CLOSE_TIMEOUT_MS, 'closing the queue worker').catch(() => undefined),
      );
    }
    if (queue) await withTimeout(queue.close(), CLOSE_TIMEOUT_MS, 'closing the queue').catch(() => undefined);
    for (const client of [subscriber, commands]) {
      await withTimeout(client.quit(), CLOSE_TIMEOUT_MS, 'closing a Redis connection').catch(() => client.disconnect());
    }
  };

  try {
    try {
      await waitUntilReady(commands, STARTUP_TIMEOUT_MS);
      await withTimeout(subscriber.subscribe(channel), STARTUP_TIMEOUT_MS, 'subscribing to execution events');
    } catch {
      throw new Error(`Redis at REDIS_URL did not answer within ${STARTUP_TIMEOUT_MS / 1000} s.`);
    }
    // ioredis resubscribes after a reconnect too; subscribing again to a channel is a no-op,
    // and this one does not depend on the client remembering its subscriptions.
    subscriber.on('ready', () => {
      subscriber.subscribe(channel).catch((error: unknown) => ctx.log.warn({ err: error }, 'subscribing to execution events failed'));
    });
    subscriber.on('message', (from: string, text: string) => {
      if (from !== channel) return;
      const message = parseMessage(text);
      // This process's own events were delivered locally before they were published.
      if (!message || message.origin === origin) return;
      if (message.kind === 'cancel') runner.abortLocal(message.id);
      else runner.emit(message.id, message.event);
    });

    // A job is removed when it completes: its id is the execution's, and the same execution is
    // dispatched again later (a resume, a hand-back), which a kept completed job would swallow.
    queue = new Queue<JobPayloads[JobName], void, JobName>(EXECUTIONS_QUEUE, {
      connection: commands,
      prefix,
      defaultJobOptions: { attempts: 1, removeOnComplete: true, removeOnFail: KEEP_FAILED },
    });
    // The commands connection's watcher reports outages; the queue repeats them.
    queue.on('error', () => undefined);

    if (runner.runsWork) worker = await startWorker(ctx, runner, prefix);
  } catch (error) {
    await shutdown();
    throw error;
  }

  const publish = (message: Message): void => {
    commands.publish(channel, JSON.stringify(message)).catch((error: unknown) => {
      // Waiters also re-read the execution's row, so a lost event only delays them.
      ctx.log.debug({ err: error, execution: message.id }, 'an execution event could not be published');
    });
  };

  registerQueueProbe(ctx, async () => {
    await withTimeout(commands.ping(), PROBE_TIMEOUT_MS, 'pinging Redis');
  });

  let closing: Promise<void> | undefined;
  const activeQueue = queue;
  ctx.metrics.useQueueDepth(async () => {
    const counts = await activeQueue.getJobCounts('waiting', 'delayed');
    return (counts.waiting ?? 0) + (counts.delayed ?? 0);
  });
  return {
    async dispatch(executionId) {
      try {
        // The execution id is the job id: dispatching one twice while its job waits is one job.
        await withTimeout(activeQueue.add('execute', { executionId }, { jobId: executionId }), COMMAND_TIMEOUT_MS, 'queueing an execution');
      } catch (error) {
        ctx.log.warn({ err: error, execution: executionId }, 'the queue did not take an execution; a worker will claim it from the database');
      }
    },
    publish(executionId, event) {
      publish({ origin, id: executionId, kind: 'event', event });
    },
    cancel(executionId) {
      publish({ origin, id: executionId, kind: 'cancel' });
    },
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}

async function startWorker(ctx: AppContext, runner: ExecutionRunner, prefix: string): Promise<ExecutionWorker> {
  const handlers: Record<string, unknown> = {
    execute: async ({ executionId }: JobPayloads['execute']) => {
      // Full (the database poll filled the slots) or shutting down: the row stays queued, and
      // the poll of this or another worker claims it when there is room.
      if (!runner.tryReserve()) return;
      runner.release();
      try {
        // False: another runner has it (its poll got there first, or it still holds the lease).
        await runner.claimAndRun(executionId);
      } catch (error) {
        // Claiming failed (the database did not answer): the row is still queued for the poll.
        ctx.log.error({ err: error, execution: executionId }, 'claiming a queued execution failed');
      }
    },
  } satisfies JobHandlers;
  checkJobHandlers(handlers);

  const worker = new Worker<JobPayloads[JobName], void, JobName>(
    EXECUTIONS_QUEUE,
    async (job: Job<JobPayloads[JobName], void, JobName>) => {
      if (!isJobName(job.name)) throw new UnrecoverableError(`unknown job "${job.name}"`);
      const payload = parseJobPayload(job.name, job.data);
      if (!payload) throw new UnrecoverableError(`malformed payload for the job "${job.name}"`);
      await handlers[job.name](payload);
    },
    {
      connection: { ...connectionOptions('worker'), url: ctx.config.redisUrl },
      prefix,
      name: runner.owner,
      concurrency: ctx.config.workflows.concurrency,
      lockDuration: LOCK_DURATION_MS,
      stalledInterval: STALLED_INTERVAL_MS,
      maxStalledCount: 2,
      drainDelay: DRAIN_DELAY_S,
      autorun: false,
    },
  );
  watchConnection(ctx, 'worker', worker);
  worker.on('stalled', (jobId) => ctx.log.info({ execution: jobId }, 'a queued execution was left by a worker that stopped; it is queued again'));
  worker.on('failed', (job, error) => ctx.log.warn({ err: error, execution: job?.id }, 'a queue job failed'));
  try {
    await withTimeout(worker.waitUntilReady(), STARTUP_TIMEOUT_MS, 'connecting the queue worker');
  } catch (error) {
    await worker.close(true).catch(() => undefined);
    throw new Error(`Redis at REDIS_URL did not answer within ${STARTUP_TIMEOUT_MS / 1000} s.`, { cause: error });
  }
  // Runs until closed; errors in its loop are emitted (and logged above), never thrown here.
  void worker.run().catch((error: unknown) => ctx.log.error({ err: error }, 'the queue worker stopped'));
  return worker;
}
