import { api } from '../lib/harness.js';
import type { Scenario } from '../lib/scenario.js';

const BULK_SIZE = 1000;

/**
 * Fills the bench admin's workspace with `count` accounts through the public bulk endpoint,
 * spread over the status values so filtered lists have something to find.
 */
async function seedAccounts(url: string, token: string, count: number): Promise<void> {
  const statuses = ['PROSPECT', 'TRIAL', 'ACTIVE', 'CHURNED', 'ACQUIRED'];
  for (let start = 0; start < count; start += BULK_SIZE) {
    const accounts = Array.from({ length: Math.min(BULK_SIZE, count - start) }, (_, i) => {
      const n = start + i;
      return {
        name: `Customer ${n} ${['Labs', 'Systems', 'Holdings', 'Group'][n % 4]}`,
        primaryDomain: `customer-${n}.example.com`,
        status: statuses[n % statuses.length],
        employees: (n % 500) + 1,
      };
    });
    const result = await api(url, 'POST', '/v1/accounts/bulk', token, { accounts });
    if (result.created !== accounts.length) throw new Error(`bulk create made ${result.created} of ${accounts.length}`);
  }
}

function attributePut(accounts: number): Scenario {
  return {
    id: `v1-attribute-put-${accounts / 1000}k`,
    issue: 4,
    title: `PUT /v1/accounts/attributes/{id} (seed 000 body, make-default transaction; ${accounts.toLocaleString('en')} accounts)`,
    dialects: ['sqlite', 'postgres'],
    connections: [10, 50],
    durationS: 10,
    baseline: 'hello',
    targets: { minBaselineShare: { connections: 50, share: 0.35 }, maxP99Ms: { connections: 50, ms: 25 } },
    async prepare(server, token) {
      await seedAccounts(server.url, token, accounts);
      const values: Array<{ id: string; value: string }> = await api(server.url, 'GET', '/v1/accounts/attributes?attribute=account_status', token);
      const pick = (value: string) => values.find((v) => v.value === value)!;
      // Each connection makes ACTIVE and TRIAL the default in turn: every request moves the
      // default (two rows written), rather than repeating a no-op.
      const sequence = [pick('ACTIVE'), pick('TRIAL')].map((v) => ({
        path: `/v1/accounts/attributes/${v.id}`,
        body: JSON.stringify({ value: v.value, isDefault: true }),
      }));
      return {
        request: {
          method: 'PUT',
          path: sequence[0]!.path,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          sequence,
        },
        notes: `${accounts.toLocaleString('en')} accounts in the workspace; each request moves the account_status default in one transaction (attribute lock, re-read, uniqueness check, two rows written)`,
      };
    },
  };
}

function accountList(accounts: number, targets: Scenario['targets']): Scenario {
  return {
    id: `v1-accounts-list-${accounts / 1000}k`,
    issue: 4,
    title: `GET /v1/accounts?limit=20 (${accounts.toLocaleString('en')} accounts, X-Total-Count included)`,
    dialects: ['sqlite', 'postgres'],
    connections: [10, 50],
    durationS: 10,
    baseline: 'hello',
    targets,
    async prepare(server, token) {
      await seedAccounts(server.url, token, accounts);
      return {
        request: { path: '/v1/accounts?limit=20', headers: { authorization: `Bearer ${token}` } },
        notes: `${accounts.toLocaleString('en')} accounts; newest 20 with their attribute values and owner, and the exact total`,
      };
    },
  };
}

/** Issue #4: the seed's PUT and the account list, at 1,000 and 100,000 accounts. */
export const customerAccountScenarios: Scenario[] = [
  attributePut(100_000),
  accountList(1_000, {}),
  // The list must not slow down as the workspace grows: p99 at 100,000 within 1.5× of 1,000.
  accountList(100_000, {
    maxP99Ms: { connections: 50, ms: 30 },
    maxP99RatioTo: { scenario: 'v1-accounts-list-1k', connections: 50, ratio: 1.5 },
  }),
];
