import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/db/values.js';
import type { RunStatus } from '../../src/modules/runs/runs.table.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.now();
const daysAgo = (days: number, plusMs = 0) => new Date(NOW - days * DAY + plusMs).toISOString();

/** The documented formula, written out independently of the implementation. */
function expectedScore(runs: number, completed: number, up: number, down: number): number {
  const n = up + down;
  let lower = 0.5;
  if (n > 0) {
    const p = up / n;
    const z = 1.96;
    lower = (p + (z * z) / (2 * n) - z * Math.sqrt((p * (1 - p) + (z * z) / (4 * n)) / n)) / (1 + (z * z) / n);
  }
  return 100 * (0.5 * (completed / runs) + 0.3 * lower + 0.2 * Math.min(1, Math.log10(1 + runs) / 3));
}

const ENTRY_KEYS = [
  'rank',
  'agent',
  'runs',
  'completed',
  'failed',
  'success_rate',
  'feedback_up',
  'feedback_down',
  'feedback_score',
  'avg_latency_ms',
  'input_tokens',
  'output_tokens',
  'total_tokens',
  'cost',
  'score',
];

describe.each(DIALECTS)('agent leaderboard on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let member: SignedUp;
  let outsider: SignedUp;
  let workspaceA: string;
  let workspaceB: string;
  const agents: Record<string, string> = {};
  const threads: Record<string, string> = {};
  let sequence = 0;

  const board = (query: string, token = owner.token, headers: Record<string, string> = {}) =>
    t.request({ url: `/api/v1/agents/leaderboard${query}`, token, headers });

  async function createAgent(name: string, visibility: string): Promise<string> {
    const response = await t.request({ method: 'POST', url: '/api/v1/agents', token: owner.token, body: { name, visibility, description: `${name} agent` } });
    if (response.status !== 201) throw new Error(`create failed: ${response.status} ${response.text}`);
    const id = response.body.data.uuid;
    const threadId = newId();
    await t.ctx.db.kysely
      .insertInto('threads')
      .values({ id: threadId, workspace_id: workspaceA, user_id: owner.user.id, agent_id: id, name, visibility: 'workspace', metadata: '{}', created_at: daysAgo(5), updated_at: daysAgo(5) })
      .execute();
    threads[name] = threadId;
    return id;
  }

  interface RunSpec {
    status: RunStatus;
    at: string;
    latency?: number | null;
    input?: number;
    output?: number;
    cost?: number;
    kind?: 'agent' | 'thread' | 'prompt' | 'generate';
    workspace?: string;
  }

  async function insertRuns(agent: string, runs: RunSpec[]) {
    for (const run of runs) {
      await t.ctx.db.kysely
        .insertInto('runs')
        .values({
          id: newId(),
          workspace_id: run.workspace ?? workspaceA,
          user_id: owner.user.id,
          kind: run.kind ?? 'agent',
          agent_id: agents[agent]!,
          status: run.status,
          input_tokens: run.input ?? 0,
          output_tokens: run.output ?? 0,
          cost: run.cost ?? 0,
          latency_ms: run.latency === undefined ? 1000 : run.latency,
          created_at: run.at,
          updated_at: run.at,
        })
        .execute();
    }
  }

  async function insertFeedback(agent: string, feedback: Array<['up' | 'down', string]>) {
    for (const [value, at] of feedback) {
      sequence += 1;
      await t.ctx.db.kysely
        .insertInto('messages')
        .values({
          id: newId(),
          workspace_id: workspaceA,
          thread_id: threads[agent]!,
          agent_id: agents[agent]!,
          sequence,
          role: 'assistant',
          content: 'An answer',
          status: 'completed',
          feedback: value,
          feedback_at: at,
          metadata: '{}',
          created_at: at,
          updated_at: at,
        })
        .execute();
    }
  }

  beforeAll(async () => {
    t = await createTestApp(dialect);
    owner = await t.signUp();
    member = await t.signUp();
    outsider = await t.signUp();
    workspaceA = owner.user.primary_workspace.uuid;
    workspaceB = outsider.user.primary_workspace.uuid;
    await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspaceA}/members`, token: owner.token, body: { email: member.email, role: 'member' } });
    for (const [name, visibility] of [
      ['Alpha', 'workspace'],
      ['Beta', 'workspace'],
      ['Gamma', 'private'],
      ['Delta', 'workspace'],
      ['Epsilon', 'workspace'],
    ] as const) {
      agents[name] = await createAgent(name, visibility);
    }
    // Alpha: 10 finished runs (8 completed, 1 failed, 1 incomplete), one still running, one of
    // another kind, and one run in another workspace; 3 up and 1 down in the period, 1 up before.
    await insertRuns('Alpha', [
      ...Array.from({ length: 8 }, (_, i): RunSpec => ({ status: 'completed', at: daysAgo(2, i * 1000), latency: 100 * (i + 1), input: 100, output: 50, cost: 0.001 })),
      { status: 'failed', at: daysAgo(3), latency: null, input: 10, output: 0, cost: 0.0001 },
      { status: 'incomplete', at: daysAgo(3, 1000), latency: 900, input: 20, output: 5, cost: 0.0002, kind: 'thread' },
      { status: 'running', at: daysAgo(0, -1000), input: 999, output: 999, cost: 9 },
      { status: 'completed', at: daysAgo(1), kind: 'generate', input: 999 },
      { status: 'completed', at: daysAgo(1), workspace: workspaceB, input: 777 },
    ]);
    await insertFeedback('Alpha', [
      ['up', daysAgo(1)],
      ['up', daysAgo(1, 1000)],
      ['up', daysAgo(2)],
      ['down', daysAgo(2, 1000)],
      ['up', daysAgo(45)],
    ]);
    // Beta: 2 completed runs, no feedback.
    await insertRuns('Beta', [
      { status: 'completed', at: daysAgo(4), latency: 2000, input: 300, output: 200, cost: 0.01 },
      { status: 'completed', at: daysAgo(5), latency: 4000, input: 300, output: 100, cost: 0.02 },
    ]);
    // Gamma (private to the owner): 1 completed run.
    await insertRuns('Gamma', [{ status: 'completed', at: daysAgo(6), latency: 500, input: 40, output: 60, cost: 0.005 }]);
    // Delta: feedback but no runs. Epsilon: runs only before the period.
    await insertFeedback('Delta', [['up', daysAgo(1)]]);
    await insertRuns('Epsilon', [{ status: 'completed', at: daysAgo(40) }]);
  });
  afterAll(() => t.close());

  it('ranks the agents with runs in the last 30 days by the documented score', async () => {
    const response = await board('');

    expect(response.status).toBe(200);
    const data = response.body.data;
    expect(data.map((e: { agent: { name: string } }) => e.agent.name)).toEqual(['Beta', 'Gamma', 'Alpha']);
    expect(Object.keys(data[0])).toEqual(ENTRY_KEYS);
    expect(data.map((e: { rank: number }) => e.rank)).toEqual([1, 2, 3]);

    const alpha = data[2];
    expect(alpha).toMatchObject({
      agent: { uuid: agents.Alpha, name: 'Alpha', description: 'Alpha agent', profile_photo_url: null, profile_photo_config: {}, visibility: 'workspace' },
      runs: 10,
      completed: 8,
      failed: 2,
      success_rate: 0.8,
      feedback_up: 3,
      feedback_down: 1,
      feedback_score: 0.5,
      avg_latency_ms: 500, // (100+…+800 + 900) / 9 runs that recorded one
      input_tokens: 830,
      output_tokens: 405,
      total_tokens: 1235,
    });
    expect(alpha.cost).toBeCloseTo(0.0083, 10);
    expect(alpha.score).toBeCloseTo(expectedScore(10, 8, 3, 1), 2);
    expect(alpha.score).toBe(55.96);

    const beta = data[0];
    expect(beta).toMatchObject({ runs: 2, completed: 2, failed: 0, success_rate: 1, feedback_score: null, feedback_up: 0, avg_latency_ms: 3000 });
    expect(beta.cost).toBeCloseTo(0.03, 10);
    expect(beta.score).toBe(68.18);
    expect(beta.score).toBeCloseTo(expectedScore(2, 2, 0, 0), 2);
    expect(data[1].score).toBe(67.01);

    expect(response.body.meta).toMatchObject({ current_page: 1, total: 3, per_page: 15, last_page: 1, from: 1, to: 3, sort: '-score' });
    expect(response.body.meta.formula).toMatch(/^score = 100 × \(0\.5 × success_rate \+ 0\.3 × feedback_lower_bound \+ 0\.2 × min\(1, log10\(1 \+ runs\) \/ 3\)\)/);
    const period = response.body.meta.period;
    expect(Date.parse(period.to) - Date.parse(period.from)).toBe(30 * DAY);
    expect(Math.abs(Date.parse(period.to) - Date.now())).toBeLessThan(60_000);
  });

  it('sorts by each metric, keeping agents without a value last', async () => {
    const names = async (sort: string) => (await board(`?sort=${sort}`)).body.data.map((e: { agent: { name: string } }) => e.agent.name);
    expect(await names('score')).toEqual(['Alpha', 'Gamma', 'Beta']);
    expect(await names('-runs')).toEqual(['Alpha', 'Beta', 'Gamma']);
    expect(await names('runs')).toEqual(['Gamma', 'Beta', 'Alpha']);
    expect(await names('-success_rate')).toEqual(['Beta', 'Gamma', 'Alpha']);
    expect(await names('-feedback_score')).toEqual(['Alpha', 'Beta', 'Gamma']);
    expect(await names('feedback_score')).toEqual(['Alpha', 'Beta', 'Gamma']);
    // Alpha and Gamma both average 500 ms: the tie goes by rank.
    expect(await names('latency')).toEqual(['Gamma', 'Alpha', 'Beta']);
    expect(await names('-tokens')).toEqual(['Alpha', 'Beta', 'Gamma']);
    expect(await names('-cost')).toEqual(['Beta', 'Alpha', 'Gamma']);
    // The rank stays the score's whatever the order.
    const byRuns = (await board('?sort=runs')).body.data.map((e: { rank: number }) => e.rank);
    expect(byRuns).toEqual([2, 1, 3]);
  });

  it('pages like any list, keeping the period and sort in the links', async () => {
    const response = await board('?per_page=1&page=2&sort=-runs');
    expect(response.body.data.map((e: { agent: { name: string } }) => e.agent.name)).toEqual(['Beta']);
    expect(response.body.meta).toMatchObject({ current_page: 2, last_page: 3, total: 3, from: 2, to: 2, sort: '-runs' });
    expect(response.body.links.next).toContain('sort=-runs');
    expect(response.body.links.next).toContain('page=3');
  });

  it('counts only the period asked for; a date alone counts the whole day', async () => {
    const day = (offset: number) => new Date(NOW - offset * DAY).toISOString().slice(0, 10);
    // From 50 days ago to the day before yesterday's runs: Epsilon's old run counts, Alpha's
    // feedback from 45 days ago too.
    const wide = await board(`?from=${day(50)}&to=${day(0)}`);
    expect(wide.status).toBe(200);
    const names = wide.body.data.map((e: { agent: { name: string } }) => e.agent.name);
    expect(names).toEqual(expect.arrayContaining(['Alpha', 'Beta', 'Gamma', 'Epsilon']));
    expect(wide.body.meta.period.from).toBe(`${day(50)}T00:00:00.000Z`);
    const to = new Date(`${day(0)}T00:00:00.000Z`);
    expect(wide.body.meta.period.to).toBe(new Date(to.getTime() + DAY).toISOString());
    const alpha = wide.body.data.find((e: { agent: { name: string } }) => e.agent.name === 'Alpha');
    expect(alpha.feedback_up).toBe(4);

    const narrow = await board(`?from=${encodeURIComponent(daysAgo(4, -60_000))}&to=${encodeURIComponent(daysAgo(3, 60_000))}`);
    expect(narrow.body.data.map((e: { agent: { name: string } }) => e.agent.name)).toEqual(['Beta', 'Alpha']);
    expect(narrow.body.data.find((e: { agent: { name: string } }) => e.agent.name === 'Alpha')).toMatchObject({ runs: 2, completed: 0, feedback_up: 0 });
  });

  it('refuses periods that are not dates, backwards, or longer than 366 days', async () => {
    const cases: Array<[string, Record<string, string[]>]> = [
      ['?from=yesterday', { from: ['The from field must be a valid date.'] }],
      ['?to=2025-02-30', { to: ['The to field must be a valid date.'] }],
      ['?from=2025-01-10&to=2025-01-01', { to: ['The to field must be a date after from.'] }],
      ['?from=2025-01-01T00:00:00Z&to=2025-01-01T00:00:00Z', { to: ['The to field must be a date after from.'] }],
      ['?from=2024-01-01&to=2025-06-01', { to: ['The to field must be a date no more than 366 days after from.'] }],
      ['?sort=name', { sort: ['The selected sort is invalid.'] }],
      ['?per_page=500', { per_page: ['The per page field must not be greater than 100.'] }],
    ];
    for (const [query, errors] of cases) {
      const response = await board(query);
      expect(response.status, query).toBe(422);
      expect(response.body.errors, query).toEqual(errors);
    }
    expect((await board('?from=2024-01-01&to=2024-12-31')).status).toBe(200);
  });

  it('shows each caller only the agents they can see, counting the acting workspace’s runs', async () => {
    const asMember = await board('', member.token, { 'x-workspace-id': workspaceA });
    expect(asMember.body.data.map((e: { agent: { name: string } }) => e.agent.name)).toEqual(['Beta', 'Alpha']);
    expect(asMember.body.data.map((e: { rank: number }) => e.rank)).toEqual([1, 2]);

    const asOutsider = await board('', outsider.token);
    expect(asOutsider.status).toBe(200);
    expect(asOutsider.body.data).toEqual([]);
    expect(asOutsider.body.meta.total).toBe(0);

    // Shared with the outsider, Alpha shows on B's board with B's run only.
    await t.request({
      method: 'POST',
      url: `/api/v1/agents/${agents.Alpha}/share`,
      token: owner.token,
      body: { users: [{ email: outsider.email, permission: 'run' }] },
    });
    const shared = await board('', outsider.token);
    expect(shared.body.data).toHaveLength(1);
    expect(shared.body.data[0]).toMatchObject({ agent: { uuid: agents.Alpha }, runs: 1, input_tokens: 777, feedback_up: 0 });

    const foreign = await board('', outsider.token, { 'x-workspace-id': workspaceA });
    expect(foreign.status).toBe(404);
  });

  it('is documented with its formula', async () => {
    const document = (await t.request({ url: '/openapi.json' })).body;
    expect(document.components.schemas).toHaveProperty('AgentLeaderboard');
    const op = document.paths['/api/v1/agents/leaderboard'].get;
    expect(op.operationId).toBe('getAgentLeaderboard');
    expect(op.description).toContain('Wilson score lower bound (z = 1.96)');
    expect(op.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/AgentLeaderboard' });
  });
});
