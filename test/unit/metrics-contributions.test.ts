import { describe, expect, it } from 'vitest';
import {
  agentRunContribution,
  conversationContribution,
  difference,
  executionContribution,
  feedbackContribution,
  messageContribution,
  negate,
  type RollupDelta,
} from '../../src/modules/metrics/contributions.js';
import { DURATION_CLASS_FLOORS } from '../../src/modules/metrics/rebuild.js';
import { mergeDeltas } from '../../src/modules/metrics/rollups.js';
import { bucketOf, durationClassOf } from '../../src/modules/metrics/series.js';

const WS = '01980000-0000-7000-8000-0000000000a1';
const WF = '01980000-0000-7000-8000-0000000000b1';
const AGENT = '01980000-0000-7000-8000-0000000000c1';
const OTHER_AGENT = '01980000-0000-7000-8000-0000000000c2';

/** Epoch minutes of an ISO instant. */
const minutes = (iso: string) => Date.parse(iso) / 60_000;

/** Deltas as `dim owner bucket → counters`, for readable expectations. */
function byKey(deltas: RollupDelta[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [, rows] of mergeDeltas(deltas)) {
    for (const row of rows) out[`${row.series} ${row.dim || "''"} ${row.ownerId} ${row.bucket}`] = row.counters as Record<string, number>;
  }
  return out;
}

describe('bucketOf', () => {
  it('floors to the quarter hour in epoch minutes, whatever the input form', () => {
    expect(bucketOf('2026-03-29T01:14:59.999Z')).toBe(minutes('2026-03-29T01:00:00.000Z'));
    expect(bucketOf('2026-03-29T01:15:00.000Z')).toBe(minutes('2026-03-29T01:15:00.000Z'));
    expect(bucketOf(new Date('2026-12-31T23:59:59.999Z'))).toBe(minutes('2026-12-31T23:45:00.000Z'));
    expect(bucketOf(Date.parse('1969-12-31T23:50:00.000Z'))).toBe(-15);
  });
});

describe('execution contributions', () => {
  const ended = {
    workspace_id: WS,
    workflow_id: WF,
    status: 'failed',
    trigger: 'webhook',
    created_at: '2026-05-01T10:07:00.000Z',
    started_at: '2026-05-01T10:07:00.250Z',
    finished_at: '2026-05-01T10:07:01.750Z',
  };

  it('counts an ended execution once under the workspace and its workflow, in its creation bucket', () => {
    const bucket = minutes('2026-05-01T10:00:00.000Z');
    const counters = { executions: 1, failed: 1, trigger_webhook: 1, duration_ms_sum: 1500, [`d${String(durationClassOf(1500)).padStart(2, '0')}`]: 1 };
    expect(byKey(executionContribution(ended))).toEqual({
      [`executions '' 0 ${bucket}`]: counters,
      [`executions workflow:${WF} 0 ${bucket}`]: counters,
    });
    expect(durationClassOf(1500)).toBe(22);
  });

  it('measures a never-started execution (cancelled while queued) from its creation', () => {
    const [delta] = executionContribution({ ...ended, status: 'canceled', started_at: null, finished_at: '2026-05-01T10:07:00.004Z' });
    expect(delta!.counters).toMatchObject({ canceled: 1, duration_ms_sum: 4, d05: 1 });
  });

  it('counts nothing for an execution that has not ended', () => {
    for (const status of ['queued', 'running', 'waiting']) expect(executionContribution({ ...ended, status, finished_at: null })).toEqual([]);
  });
});

describe('agent run contributions', () => {
  const run = {
    workspace_id: WS,
    agent_id: AGENT,
    kind: 'thread',
    status: 'completed',
    created_at: '2026-05-01T10:29:59.000Z',
    input_tokens: 120,
    output_tokens: '30',
    cost: 0.000036,
    latency_ms: 812,
  };

  it('maps run statuses to outcomes; incomplete is a run with no outcome', () => {
    expect(agentRunContribution(run)[0]!.counters).toEqual({ runs: 1, succeeded: 1, input_tokens: 120, output_tokens: 30, cost: 0.000036, latency_ms_sum: 812 });
    expect(agentRunContribution({ ...run, status: 'cancelled' })[0]!.counters).toMatchObject({ runs: 1, canceled: 1 });
    expect(agentRunContribution({ ...run, status: 'failed', latency_ms: null })[0]!.counters).toMatchObject({ runs: 1, failed: 1, latency_ms_sum: 0 });
    const incomplete = agentRunContribution({ ...run, status: 'incomplete' })[0]!.counters;
    expect(incomplete).toMatchObject({ runs: 1 });
    expect(incomplete).not.toHaveProperty('succeeded');
    expect(agentRunContribution(run).map((d) => [d.dim, d.bucket])).toEqual([
      ['', minutes('2026-05-01T10:15:00.000Z')],
      [`agent:${AGENT}`, minutes('2026-05-01T10:15:00.000Z')],
    ]);
  });

  it('counts only ended agent and thread runs of an agent', () => {
    expect(agentRunContribution({ ...run, status: 'running' })).toEqual([]);
    expect(agentRunContribution({ ...run, agent_id: null })).toEqual([]);
    expect(agentRunContribution({ ...run, kind: 'generate' })).toEqual([]);
    expect(agentRunContribution({ ...run, kind: 'prompt' })).toEqual([]);
  });

  it('moves a reaped run to its real outcome when its process finishes it after all', () => {
    const reaped = agentRunContribution({ ...run, status: 'failed', input_tokens: 0, output_tokens: 0, cost: 0, latency_ms: null });
    const finished = agentRunContribution(run);
    const moved = byKey(difference(finished, reaped));
    expect(Object.values(moved)).toEqual([
      { runs: 0, succeeded: 1, failed: -1, input_tokens: 120, output_tokens: 30, cost: 0.000036, latency_ms_sum: 812 },
      { runs: 0, succeeded: 1, failed: -1, input_tokens: 120, output_tokens: 30, cost: 0.000036, latency_ms_sum: 812 },
    ]);
  });
});

describe('feedback contributions', () => {
  const message = { workspace_id: WS, agent_id: AGENT, feedback: 'up', feedback_at: '2026-05-02T08:00:00.000Z' };

  it('counts feedback on an agent’s message in the bucket it was given in', () => {
    expect(byKey(feedbackContribution(message))).toEqual({
      [`agent_runs '' 0 ${minutes('2026-05-02T08:00:00.000Z')}`]: { feedback_up: 1 },
      [`agent_runs agent:${AGENT} 0 ${minutes('2026-05-02T08:00:00.000Z')}`]: { feedback_up: 1 },
    });
    expect(feedbackContribution({ ...message, agent_id: null })).toEqual([]);
    expect(feedbackContribution({ ...message, feedback: null, feedback_at: null })).toEqual([]);
  });

  it('takes a changed rating from its old bucket and adds the new one at its own', () => {
    const changed = difference(feedbackContribution({ ...message, feedback: 'down', feedback_at: '2026-05-03T08:20:00.000Z' }), feedbackContribution(message));
    expect(byKey(changed)).toEqual({
      [`agent_runs '' 0 ${minutes('2026-05-02T08:00:00.000Z')}`]: { feedback_up: -1 },
      [`agent_runs agent:${AGENT} 0 ${minutes('2026-05-02T08:00:00.000Z')}`]: { feedback_up: -1 },
      [`agent_runs '' 0 ${minutes('2026-05-03T08:15:00.000Z')}`]: { feedback_down: 1 },
      [`agent_runs agent:${AGENT} 0 ${minutes('2026-05-03T08:15:00.000Z')}`]: { feedback_down: 1 },
    });
  });
});

describe('conversation contributions', () => {
  const thread = { workspace_id: WS, user_id: 7, agent_id: AGENT, visibility: 'private', created_at: '2026-05-01T09:00:00.000Z' };
  const reply = {
    workspace_id: WS,
    agent_id: null,
    role: 'assistant',
    created_at: '2026-05-01T09:01:00.000Z',
    input_tokens: 10,
    output_tokens: 5,
    cost: 0.5,
    feedback: null,
    feedback_at: null,
  };
  const bucket = minutes('2026-05-01T09:00:00.000Z');

  it('keys a private thread’s events by its owner, a workspace thread’s by 0, under the workspace, the owner and the agent', () => {
    expect(Object.keys(byKey(messageContribution(thread, reply)))).toEqual([
      `conversations '' 7 ${bucket}`,
      `conversations user:7 7 ${bucket}`,
      `conversations agent:${AGENT} 7 ${bucket}`,
    ]);
    expect(messageContribution({ ...thread, visibility: 'workspace' }, reply).map((d) => d.ownerId)).toEqual([0, 0, 0]);
    expect(messageContribution(thread, reply)[0]!.counters).toEqual({ messages: 1, assistant_messages: 1, input_tokens: 10, output_tokens: 5, cost: 0.5 });
  });

  it('gives a message its own agent before the thread’s, and a thread without agent no agent row', () => {
    expect(messageContribution(thread, { ...reply, agent_id: OTHER_AGENT }).map((d) => d.dim)).toContain(`agent:${OTHER_AGENT}`);
    expect(messageContribution({ ...thread, agent_id: null }, { ...reply, role: 'user' }).map((d) => d.dim)).toEqual(['', 'user:7']);
    expect(messageContribution(thread, { ...reply, role: 'user' })[0]!.counters).toMatchObject({ messages: 1, user_messages: 1 });
  });

  it('carries a message’s feedback, so removing the message removes its rating too', () => {
    const rated = { ...reply, agent_id: AGENT, feedback: 'down', feedback_at: '2026-05-01T09:40:00.000Z' };
    const removed = byKey(negate(messageContribution(thread, rated)));
    expect(removed[`agent_runs agent:${AGENT} 0 ${minutes('2026-05-01T09:30:00.000Z')}`]).toEqual({ feedback_down: -1 });
    expect(removed[`conversations '' 7 ${bucket}`]).toMatchObject({ messages: -1 });
  });

  it('moves everything a thread counts from its owner’s key to the shared one when it is made visible', () => {
    const messages = [reply, { ...reply, role: 'user', input_tokens: null, output_tokens: null, cost: null }];
    const moved = byKey(difference(conversationContribution({ ...thread, visibility: 'workspace' }, messages), conversationContribution(thread, messages)));
    expect(moved[`conversations '' 7 ${bucket}`]).toEqual({ threads: -1, messages: -2, user_messages: -1, assistant_messages: -1, input_tokens: -10, output_tokens: -5, cost: -0.5 });
    expect(moved[`conversations '' 0 ${bucket}`]).toEqual({ threads: 1, messages: 2, user_messages: 1, assistant_messages: 1, input_tokens: 10, output_tokens: 5, cost: 0.5 });
    expect(Object.keys(moved)).toHaveLength(6);
  });
});

describe('mergeDeltas', () => {
  it('sums deltas of one key and drops keys that sum to zero', () => {
    const a = executionContribution({
      workspace_id: WS,
      workflow_id: WF,
      status: 'succeeded',
      trigger: 'manual',
      created_at: '2026-05-01T10:00:00.000Z',
      started_at: '2026-05-01T10:00:00.000Z',
      finished_at: '2026-05-01T10:00:00.003Z',
    });
    const merged = mergeDeltas([...a, ...a, ...a, ...negate(a)]);
    expect(merged.get('executions')!.map((d) => d.counters)).toEqual([
      { executions: 2, succeeded: 2, trigger_manual: 2, duration_ms_sum: 6, d04: 2 },
      { executions: 2, succeeded: 2, trigger_manual: 2, duration_ms_sum: 6, d04: 2 },
    ]);
    expect(mergeDeltas([...a, ...negate(a)]).size).toBe(0);
  });
});

describe('duration classes in SQL and in JavaScript', () => {
  it('agree on every class boundary, so the PostgreSQL rebuild classes whole milliseconds as the writes do', () => {
    for (let k = 1; k < DURATION_CLASS_FLOORS.length; k++) {
      const floor = DURATION_CLASS_FLOORS[k]!;
      // The class of a floor is the highest class starting there (class 2, [√2, 2), holds no whole number).
      expect(durationClassOf(floor)).toBe(DURATION_CLASS_FLOORS.lastIndexOf(floor));
      expect(durationClassOf(floor - 1)).toBeLessThan(k);
    }
    expect(durationClassOf(0)).toBe(0);
    expect(durationClassOf(2 ** 40)).toBe(63);
  });
});
