/**
 * The jobs Athena puts on its Redis queues (scale mode), each with its payload type. A worker
 * starts only when every job here has a handler, so a job added without one fails at start, not
 * when the first such job is picked up and dropped.
 */

/** The queue every workflow execution goes through (BullMQ names may not contain ':'). */
export const EXECUTIONS_QUEUE = 'athena-executions';

export interface JobPayloads {
  /** Run (or resume) one execution whose row is queued, due or orphaned; the database row is the truth. */
  execute: { executionId: string };
}

export type JobName = keyof JobPayloads;

export const JOB_NAMES: readonly JobName[] = ['execute'];

export type JobHandlers = { [Name in JobName]: (payload: JobPayloads[Name]) => Promise<void> };

/** Throws unless `handlers` has exactly one function per job name (the start-up check). */
export function checkJobHandlers(handlers: Record<string, unknown>): asserts handlers is JobHandlers {
  const missing = JOB_NAMES.filter((name) => typeof handlers[name] !== 'function');
  const unknown = Object.keys(handlers).filter((name) => !(JOB_NAMES as readonly string[]).includes(name));
  if (missing.length > 0) throw new Error(`No handler for the job${missing.length === 1 ? '' : 's'} ${missing.join(', ')}.`);
  if (unknown.length > 0) throw new Error(`Handlers for unknown jobs: ${unknown.join(', ')}.`);
}

/** The payload of a job read from Redis, checked before any handler sees it; undefined when malformed. */
export function parseJobPayload<Name extends JobName>(name: Name, data: unknown): JobPayloads[Name] | undefined {
  switch (name) {
    case 'execute': {
      const id = (data as { executionId?: unknown } | null)?.executionId;
      return typeof id === 'string' && id.length > 0 && id.length <= 64 ? ({ executionId: id } as JobPayloads[Name]) : undefined;
    }
    default:
      return undefined;
  }
}

export function isJobName(name: string): name is JobName {
  return (JOB_NAMES as readonly string[]).includes(name);
}
