import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LiveRunRegistry, type RunEvent } from '../../src/ai/live-runs.js';

describe('live runs', () => {
  it('replays the events after Last-Event-ID, then delivers new ones', () => {
    const run = new LiveRunRegistry().create('r1', { retainMs: 10 });
    run.emit('run.started', {});
    run.emit('message.delta', { delta: 'a' });
    const seen: RunEvent[] = [];
    run.subscribe(1, (e) => seen.push(e));
    run.emit('message.delta', { delta: 'b' });
    expect(seen.map((e) => [e.id, e.event])).toEqual([
      [2, 'message.delta'],
      [3, 'message.delta'],
    ]);
  });

  it('aborts a run whose last client has been gone for the abandon window, not before', async () => {
    const run = new LiveRunRegistry().create('r2', { retainMs: 10, abandonAfterMs: 40 });
    const detach = run.attach();
    detach();
    await sleep(10);
    const reattach = run.attach(); // a resume within the window keeps it going
    await sleep(60);
    expect(run.signal.aborted).toBe(false);
    reattach();
    await sleep(80);
    expect(run.signal.aborted).toBe(true);
    expect(run.signal.reason).toBe('abandoned');
  });

  it('never abandons a run started without an abandon window', async () => {
    const run = new LiveRunRegistry().create('r3', { retainMs: 10 });
    run.attach()();
    await sleep(20);
    expect(run.signal.aborted).toBe(false);
  });

  it('forgets a finished run after its retention, and shutdown aborts the active ones', async () => {
    const registry = new LiveRunRegistry();
    const done = registry.create('r4', { retainMs: 10 });
    const active = registry.create('r5', { retainMs: 10 });
    done.finish();
    await sleep(30);
    expect(registry.get('r4')).toBeUndefined();
    const stopping = registry.shutdown(1_000);
    expect(active.signal.reason).toBe('shutdown');
    active.finish();
    await stopping;
    expect(registry.active()).toEqual([]);
  });
});
