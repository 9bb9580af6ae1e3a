import type { AppContext } from '../context.js';

/**
 * How /ready asks the queue (scale mode) whether Redis answers. Kept apart from queue.ts so the
 * health route does not load BullMQ in embedded mode.
 */
const probes = new WeakMap<AppContext, () => Promise<void>>();

export function registerQueueProbe(ctx: AppContext, probe: () => Promise<void>): void {
  probes.set(ctx, probe);
}

export function unregisterQueueProbe(ctx: AppContext): void {
  probes.delete(ctx);
}

/** Resolves when this process's queue connection answers; rejects when it does not or there is none. */
export async function probeQueue(ctx: AppContext): Promise<void> {
  const probe = probes.get(ctx);
  if (!probe) throw new Error('the queue is not connected');
  await probe();
}
