import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const ACCOUNT_KEYS = [
  'id', 'name', 'description', 'source', 'logo',
  'statusId', 'status', 'statusConfiguration',
  'classificationId', 'classification', 'classificationConfiguration',
  'healthId', 'health', 'healthConfiguration',
  'industryId', 'industry', 'industryConfiguration',
  'primaryDomain', 'secondaryDomain',
  'accountOwner', 'accountOwnerId', 'accountOwnerEmail', 'accountOwnerAvatarUrl',
  'annualRevenue', 'employees', 'website', 'billingAddress', 'shippingAddress',
  'customFieldValues', 'metadata', 'createdAt', 'updatedAt',
].sort();

for (const dialect of DIALECTS) {
  describe(`customer accounts (${dialect})`, () => {
    let t: TestApp;
    let owner: SignedUp;

    beforeAll(async () => {
      t = await createTestApp(dialect);
      owner = await t.signUp();
    });
    afterAll(() => t.close());

    const create = (body: unknown, token = owner.token) => t.request({ method: 'POST', url: '/v1/accounts', token, body });
    const get = (id: string, token = owner.token) => t.request({ url: `/v1/accounts/${id}`, token });
    const accountCount = async () =>
      Number(
        (
          await t.ctx.db.kysely
            .selectFrom('customer_accounts')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('deleted_at', 'is', null)
            .executeTakeFirstOrThrow()
        ).n,
      );

    it('creates an account with every field, defaults for omitted attributes, and reads it back', async () => {
      const response = await create({
        name: 'Acme Inc',
        primaryDomain: 'Acme.com',
        secondaryDomain: 'acme.io',
        description: 'Rockets and anvils',
        source: 'manual',
        website: 'https://acme.com',
        accountOwnerId: String(owner.user.id),
        status: 'ACTIVE',
        classification: 'enterprise',
        annualRevenue: 1250000.5,
        employees: 320,
        billingAddress: { city: 'Berlin', country: 'DE' },
        customFieldValues: [{ fieldId: 'tier', value: 'gold' }],
        metadata: { crmId: 42 },
      });
      expect(response.status).toBe(201);
      expect(Object.keys(response.body).sort()).toEqual(ACCOUNT_KEYS);
      expect(response.body).toMatchObject({
        name: 'Acme Inc',
        primaryDomain: 'acme.com',
        secondaryDomain: 'acme.io',
        status: 'ACTIVE',
        classification: 'ENTERPRISE',
        health: 'GREEN',
        industry: 'TECHNOLOGY',
        accountOwner: owner.user.name,
        accountOwnerId: String(owner.user.id),
        accountOwnerEmail: owner.email,
        annualRevenue: 1250000.5,
        employees: 320,
        billingAddress: { city: 'Berlin', country: 'DE' },
        shippingAddress: null,
        customFieldValues: [{ fieldId: 'tier', value: 'gold' }],
        metadata: { crmId: 42 },
      });
      expect(response.body.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      const fetched = await get(response.body.id);
      expect(fetched.status).toBe(200);
      expect(fetched.body).toEqual(response.body);
    });

    it('keeps primary domains unique per workspace, case-insensitively (409, nothing written)', async () => {
      const before = await accountCount();
      const duplicate = await create({ name: 'Acme again', primaryDomain: 'ACME.com' });
      expect(duplicate.status).toBe(409);
      expect(duplicate.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
      expect(duplicate.body.message).toMatch(/acme\.com/);
      expect(await accountCount()).toBe(before);
      // Another workspace may use the same domain.
      const other = await t.signUp();
      expect((await create({ name: 'Their Acme', primaryDomain: 'acme.com' }, other.token)).status).toBe(201);
    });

    it('validates bodies the NestJS way', async () => {
      const before = await accountCount();
      const missing = await create({ name: 'No domain' });
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual({ statusCode: 400, message: ['primaryDomain should not be empty'], error: 'Bad Request' });
      const wrongTypes = await create({ name: 7, primaryDomain: 'x.com', employees: 'many' });
      expect(wrongTypes.status).toBe(400);
      expect(wrongTypes.body.message).toEqual(expect.arrayContaining(['name must be a string', 'employees must be an integer number']));
      expect((await create({ name: 'Bad domain', primaryDomain: 'not a domain' })).status).toBe(400);
      const unknownStatus = await create({ name: 'Odd', primaryDomain: 'odd.com', status: 'SLEEPING' });
      expect(unknownStatus.status).toBe(400);
      expect(unknownStatus.body.message).toEqual(['status must name a value of account_status (its id or its text)']);
      const stranger = await create({ name: 'Owned', primaryDomain: 'owned.com', accountOwnerId: '999999' });
      expect(stranger.status).toBe(400);
      expect(stranger.body.message).toEqual(['accountOwnerId must be the id of a workspace member']);
      expect(await accountCount()).toBe(before);
    });

    it('updates fields, attributes by id or text, and re-checks the domain', async () => {
      const created = (await create({ name: 'Globex', primaryDomain: 'globex.com' })).body;
      const statuses = (await t.request({ url: '/v1/accounts/attributes?attribute=account_status', token: owner.token })).body;
      const churned = statuses.find((v: any) => v.value === 'CHURNED');
      const updated = await t.request({
        method: 'PUT',
        url: `/v1/accounts/${created.id}`,
        token: owner.token,
        body: { name: 'Globex Corp', status: churned.id, health: 'red', employees: 12 },
      });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ name: 'Globex Corp', statusId: churned.id, status: 'CHURNED', health: 'RED', employees: 12, primaryDomain: 'globex.com' });
      expect(updated.body.classification).toBe(created.classification);
      const clash = await t.request({ method: 'PUT', url: `/v1/accounts/${created.id}`, token: owner.token, body: { primaryDomain: 'acme.com' } });
      expect(clash.status).toBe(409);
      expect((await get(created.id)).body.primaryDomain).toBe('globex.com');
      const empty = await t.request({ method: 'PUT', url: `/v1/accounts/${created.id}`, token: owner.token, body: {} });
      expect(empty.status).toBe(400);
    });

    it('soft-deletes: the account is 404 everywhere and its domain is free again', async () => {
      const created = (await create({ name: 'Initech', primaryDomain: 'initech.com' })).body;
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/${created.id}`, token: owner.token })).status).toBe(204);
      expect((await get(created.id)).status).toBe(404);
      expect((await t.request({ method: 'PUT', url: `/v1/accounts/${created.id}`, token: owner.token, body: { name: 'x' } })).status).toBe(404);
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/${created.id}`, token: owner.token })).status).toBe(404);
      const row = await t.ctx.db.kysely.selectFrom('customer_accounts').select('deleted_at').where('id', '=', created.id).executeTakeFirstOrThrow();
      expect(row.deleted_at).not.toBeNull();
      expect((await create({ name: 'Initech 2', primaryDomain: 'initech.com' })).status).toBe(201);
    });

    it('answers unknown, malformed and other workspaces’ ids with 404', async () => {
      const notFound = { statusCode: 404, message: 'Resource not found!', error: 'Not Found' };
      expect((await get('0192f5a0-7c1e-7b3a-9d2e-6f1a2b3c4d5e')).body).toEqual(notFound);
      expect((await get('12345')).body).toEqual(notFound);
      const other = await t.signUp();
      const theirs = (await create({ name: 'Hidden', primaryDomain: 'hidden.com' }, other.token)).body;
      expect((await get(theirs.id)).status).toBe(404);
      expect((await t.request({ method: 'PUT', url: `/v1/accounts/${theirs.id}`, token: owner.token, body: { name: 'Mine' } })).status).toBe(404);
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/${theirs.id}`, token: owner.token })).status).toBe(404);
      expect((await get(theirs.id, other.token)).body.name).toBe('Hidden');
    });

    it('filters by ids and by primary domains', async () => {
      const a = (await create({ name: 'Alpha', primaryDomain: 'alpha.com' })).body;
      const b = (await create({ name: 'Beta', primaryDomain: 'beta.com' })).body;
      const byIds = await t.request({ method: 'POST', url: '/v1/accounts/filter/ids', token: owner.token, body: { ids: [a.id, b.id, 'junk', '0192f5a0-7c1e-7b3a-9d2e-6f1a2b3c4d5e'] } });
      expect(byIds.status).toBe(200);
      expect(byIds.body.map((x: any) => x.id).sort()).toEqual([a.id, b.id].sort());
      const byDomains = await t.request({ method: 'POST', url: '/v1/accounts/filter/primary-domains', token: owner.token, body: { primaryDomains: ['ALPHA.com', 'nowhere.com'] } });
      expect(byDomains.status).toBe(200);
      expect(byDomains.body.map((x: any) => x.name)).toEqual(['Alpha']);
      expect((await t.request({ method: 'POST', url: '/v1/accounts/filter/ids', token: owner.token, body: { ids: [] } })).status).toBe(400);
    });

    it('bulk-creates in one transaction, skipping domains that exist or repeat', async () => {
      const before = await accountCount();
      const response = await t.request({
        method: 'POST',
        url: '/v1/accounts/bulk',
        token: owner.token,
        body: {
          accounts: [
            { name: 'Bulk One', primaryDomain: 'bulk-one.com' },
            { name: 'Bulk Two', primaryDomain: 'bulk-two.com', status: 'TRIAL' },
            { name: 'Alpha again', primaryDomain: 'alpha.com' },
            { name: 'Bulk One again', primaryDomain: 'BULK-ONE.com' },
          ],
        },
      });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({ total: 4, created: 2, skipped: 2 });
      expect(await accountCount()).toBe(before + 2);

      // One bad item fails the whole request: nothing is written.
      const failed = await t.request({
        method: 'POST',
        url: '/v1/accounts/bulk',
        token: owner.token,
        body: { accounts: [{ name: 'Fine', primaryDomain: 'fine.com' }, { name: 'Broken', primaryDomain: 'broken.com', status: 'NOPE' }] },
      });
      expect(failed.status).toBe(400);
      expect(failed.body.message[0]).toMatch(/^accounts\.1\.status/);
      expect(await accountCount()).toBe(before + 2);
    });

    it('answers concurrent bulk creates of the same domains with 201 or 409, never 500, and no duplicates', async () => {
      const user = await t.signUp();
      const accounts = Array.from({ length: 40 }, (_, i) => ({ name: `Race ${i}`, primaryDomain: `race-${i}.example` }));
      const responses = await Promise.all(
        [0, 1, 2].map(() => t.request({ method: 'POST', url: '/v1/accounts/bulk', token: user.token, body: { accounts } })),
      );
      for (const response of responses) expect([201, 409]).toContain(response.status);
      expect(responses.some((r) => r.status === 201)).toBe(true);
      const listed = await t.request({ url: '/v1/accounts?limit=1', token: user.token });
      expect(listed.headers['x-total-count']).toBe('40');
    });

    it('keeps the unfiltered X-Total-Count equal to the live accounts through creates, deletes and rollbacks', async () => {
      const user = await t.signUp();
      const total = async () => (await t.request({ url: '/v1/accounts?limit=1', token: user.token })).headers['x-total-count'];
      const live = async () =>
        Number(
          (
            await t.ctx.db.kysely
              .selectFrom('customer_accounts')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('workspace_id', '=', user.user.primary_workspace.uuid)
              .where('deleted_at', 'is', null)
              .executeTakeFirstOrThrow()
          ).n,
        );
      expect(await total()).toBe('0');
      const one = (await create({ name: 'One', primaryDomain: 'one.example' }, user.token)).body;
      await t.request({ method: 'POST', url: '/v1/accounts/bulk', token: user.token, body: { accounts: [{ name: 'Two', primaryDomain: 'two.example' }, { name: 'One', primaryDomain: 'one.example' }] } });
      await t.request({ method: 'POST', url: '/v1/accounts/bulk', token: user.token, body: { accounts: [{ name: 'Three', primaryDomain: 'three.example' }, { name: 'Bad', primaryDomain: 'bad.example', health: 'PURPLE' }] } });
      await create({ name: 'Dup', primaryDomain: 'two.example' }, user.token);
      expect(await total()).toBe('2');
      await t.request({ method: 'DELETE', url: `/v1/accounts/${one.id}`, token: user.token });
      await t.request({ method: 'DELETE', url: `/v1/accounts/${one.id}`, token: user.token });
      expect(await total()).toBe('1');
      expect(await live()).toBe(1);
      const metrics = await t.request({ url: '/api/v1/workspaces/metrics', token: user.token });
      expect(metrics.body.data[0].counts).toMatchObject({ customer_accounts: 1, customer_contacts: 0 });
    });

    it('pages newest first with X-Total-Count, and filters by attribute and owner', async () => {
      const other = await t.signUp();
      for (let i = 0; i < 12; i++) {
        const created = await create({ name: `Paged ${String(i).padStart(2, '0')}`, primaryDomain: `paged-${i}.com`, status: i % 3 === 0 ? 'ACQUIRED' : 'PROSPECT' }, other.token);
        expect(created.status).toBe(201);
      }
      const page1 = await t.request({ url: '/v1/accounts?limit=5', token: other.token });
      expect(page1.status).toBe(200);
      expect(page1.headers['x-total-count']).toBe('12');
      expect(page1.body.map((a: any) => a.name)).toEqual(['Paged 11', 'Paged 10', 'Paged 09', 'Paged 08', 'Paged 07']);
      const page3 = await t.request({ url: '/v1/accounts?limit=5&page=3', token: other.token });
      expect(page3.body.map((a: any) => a.name)).toEqual(['Paged 01', 'Paged 00']);
      const beyond = await t.request({ url: '/v1/accounts?limit=5&page=9', token: other.token });
      expect(beyond.body).toEqual([]);
      expect(beyond.headers['x-total-count']).toBe('12');
      const defaultLimit = await t.request({ url: '/v1/accounts', token: other.token });
      expect(defaultLimit.body).toHaveLength(10);

      const acquired = await t.request({ url: '/v1/accounts?status=acquired', token: other.token });
      expect(acquired.headers['x-total-count']).toBe('4');
      expect(acquired.body.every((a: any) => a.status === 'ACQUIRED')).toBe(true);
      const unknown = await t.request({ url: '/v1/accounts?status=NOPE', token: other.token });
      expect(unknown.body).toEqual([]);
      expect(unknown.headers['x-total-count']).toBe('0');

      expect((await t.request({ url: '/v1/accounts?limit=101', token: other.token })).status).toBe(400);
      expect((await t.request({ url: '/v1/accounts?page=0', token: other.token })).status).toBe(400);
      expect((await t.request({ url: '/v1/accounts?color=red', token: other.token })).status).toBe(400);

      const owned = await t.request({ url: `/v1/accounts?accountOwnerId=${owner.user.id}`, token: owner.token });
      expect(owned.body.map((a: any) => a.name)).toEqual(['Acme Inc']);
    });

    it('searches names and domains by any part, through the trigram index', async () => {
      const searcher = await t.signUp();
      await create({ name: 'Umbrella Corporation', primaryDomain: 'umbrella.com' }, searcher.token);
      await create({ name: 'Wayne Enterprises', primaryDomain: 'wayne.co', secondaryDomain: 'gotham-umbrella.net' }, searcher.token);
      await create({ name: 'Stark Industries', primaryDomain: 'stark.com' }, searcher.token);
      const search = async (q: string) =>
        (await t.request({ url: `/v1/accounts?search=${encodeURIComponent(q)}`, token: searcher.token })).body.map((a: any) => a.name).sort();
      expect(await search('umbrella')).toEqual(['Umbrella Corporation', 'Wayne Enterprises']);
      expect(await search('CORPOR')).toEqual(['Umbrella Corporation']);
      expect(await search('stark.c')).toEqual(['Stark Industries']);
      expect(await search('dustri')).toEqual(['Stark Industries']);
      // Under three characters there is no trigram: the answer is still right.
      expect(await search('co')).toEqual(['Umbrella Corporation', 'Wayne Enterprises', 'Stark Industries'].sort());
      expect(await search('zzz')).toEqual([]);
      // Wildcards and quotes are matched literally.
      expect(await search('%')).toEqual([]);
      expect(await search('"um')).toEqual([]);
      // A rename is searchable at once (the index follows updates).
      const stark = (await t.request({ url: '/v1/accounts?search=stark', token: searcher.token })).body[0];
      await t.request({ method: 'PUT', url: `/v1/accounts/${stark.id}`, token: searcher.token, body: { name: 'Oscorp' } });
      expect(await search('oscorp')).toEqual(['Oscorp']);
      expect(await search('industries')).toEqual([]);
    });

    it('lets viewers read but not write', async () => {
      const viewer = await t.signUp();
      const workspaceId = owner.user.primary_workspace.uuid;
      await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspaceId}/members`, token: owner.token, body: { email: viewer.email, role: 'viewer' } });
      const headers = { 'x-org-id': workspaceId };
      const read = await t.request({ url: '/v1/accounts?limit=1', token: viewer.token, headers });
      expect(read.status).toBe(200);
      const before = await accountCount();
      const write = await t.request({ method: 'POST', url: '/v1/accounts', token: viewer.token, headers, body: { name: 'Nope', primaryDomain: 'nope.com' } });
      expect(write.status).toBe(403);
      expect(write.body).toEqual({ statusCode: 403, message: 'User does not have access to this resource!', error: 'Forbidden' });
      expect(await accountCount()).toBe(before);
      // A workspace the caller is not a member of is not found.
      const stranger = await t.signUp();
      expect((await t.request({ url: '/v1/accounts', token: stranger.token, headers })).status).toBe(404);
    });
  });
}
