import { api, type BenchDialect } from '../lib/harness.js';
import type { Scenario } from '../lib/scenario.js';

const both: BenchDialect[] = ['sqlite', 'postgres'];

/** Issue #2: the authenticated user, the cheapest real request. */
export const authenticatedUser: Scenario = {
  id: 'user',
  issue: 2,
  title: 'GET /api/v1/user (authenticated)',
  dialects: both,
  connections: [10, 50],
  durationS: 10,
  baseline: 'hello',
  targets: { minBaselineShare: { connections: 50, share: 0.5 }, maxP99Ms: { connections: 50, ms: 20 } },
  async prepare(_server, token) {
    return { request: { path: '/api/v1/user', headers: { authorization: `Bearer ${token}` } } };
  },
};

/** Issue #2: a Laravel page of the caller's workspaces. */
export const workspaces: Scenario = {
  id: 'workspaces',
  issue: 2,
  title: 'GET /api/v1/workspaces (a page of 15 of 25 workspaces)',
  dialects: both,
  connections: [10, 50],
  durationS: 10,
  baseline: 'hello',
  targets: {},
  async prepare(server, token) {
    for (let i = 0; i < 24; i++) await api(server.url, 'POST', '/api/v1/workspaces', token, { name: `Bench workspace ${i}` });
    return {
      request: { path: '/api/v1/workspaces', headers: { authorization: `Bearer ${token}` } },
      notes: 'the admin belongs to 25 workspaces; each page answers 15 with their owners nested',
    };
  },
};
