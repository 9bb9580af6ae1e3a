import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const CONTACT_KEYS = [
  'accounts', 'avatarUrl', 'contactType', 'contactTypeConfiguration', 'contactTypeId', 'createdAt',
  'customFieldValues', 'email', 'firstName', 'id', 'lastName', 'metadata', 'phoneNumber', 'updatedAt',
];

for (const dialect of DIALECTS) {
  describe(`customer contacts (${dialect})`, () => {
    let t: TestApp;
    let owner: SignedUp;
    let acme: any;
    let globex: any;

    beforeAll(async () => {
      t = await createTestApp(dialect);
      owner = await t.signUp();
      acme = (await t.request({ method: 'POST', url: '/v1/accounts', token: owner.token, body: { name: 'Acme', primaryDomain: 'acme.com' } })).body;
      globex = (await t.request({ method: 'POST', url: '/v1/accounts', token: owner.token, body: { name: 'Globex', primaryDomain: 'globex.com' } })).body;
    });
    afterAll(() => t.close());

    const create = (body: unknown, token = owner.token) => t.request({ method: 'POST', url: '/v1/accounts/contacts', token, body });
    const contactRows = (workspaceId: string) =>
      t.ctx.db.kysely.selectFrom('customer_contacts').selectAll().where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).execute();

    it('creates a contact linked to accounts, with the default contact type', async () => {
      const response = await create({
        firstName: 'Jane',
        lastName: 'Doe',
        email: 'Jane@Acme.com',
        phoneNumber: '+49 30 1234',
        accountIds: [acme.id, globex.id],
        metadata: { source: 'conference' },
      });
      expect(response.status).toBe(201);
      expect(Object.keys(response.body).sort()).toEqual(CONTACT_KEYS);
      expect(response.body).toMatchObject({
        firstName: 'Jane',
        lastName: 'Doe',
        email: 'jane@acme.com',
        contactType: 'PRIMARY',
        metadata: { source: 'conference' },
        customFieldValues: [],
      });
      expect(response.body.accounts.map((a: any) => a.name)).toEqual(['Acme', 'Globex']);
      expect(response.body.accounts[0]).toEqual({ id: acme.id, name: 'Acme', primaryDomain: 'acme.com' });
    });

    it('keeps emails unique per workspace, case-insensitively', async () => {
      const before = (await contactRows(owner.user.primary_workspace.uuid)).length;
      const duplicate = await create({ firstName: 'Janet', email: 'JANE@acme.com' });
      expect(duplicate.status).toBe(409);
      expect(duplicate.body).toMatchObject({ statusCode: 409, error: 'Conflict', message: 'A contact with the email jane@acme.com already exists' });
      expect((await contactRows(owner.user.primary_workspace.uuid)).length).toBe(before);
    });

    it('validates bodies: types, emails, accounts and contact types', async () => {
      const wrongType = await create({ firstName: 'X', email: 123 });
      expect(wrongType.status).toBe(400);
      expect(wrongType.body).toEqual({ statusCode: 400, message: ['email must be a string'], error: 'Bad Request' });
      expect((await create({ firstName: 'X', email: 'not-an-email' })).body.message).toEqual(['email must be an email']);
      expect((await create({ email: 'x@acme.com' })).body.message).toEqual(['firstName should not be empty']);
      const unknownAccount = await create({ firstName: 'X', email: 'x@acme.com', accountIds: ['0192f5a0-7c1e-7b3a-9d2e-6f1a2b3c4d5e'] });
      expect(unknownAccount.status).toBe(400);
      expect(unknownAccount.body.message).toEqual(['accountIds must hold ids of accounts of the workspace']);
      const unknownType = await create({ firstName: 'X', email: 'x@acme.com', contactType: 'FRIEND' });
      expect(unknownType.status).toBe(400);
      expect((await t.request({ url: '/v1/accounts/contacts/search?email=x@acme.com', token: owner.token })).body).toEqual([]);
    });

    it('updates fields, replaces account links and re-checks the email', async () => {
      const created = (await create({ firstName: 'Bob', email: 'bob@globex.com', accountIds: [globex.id] })).body;
      const updated = await t.request({
        method: 'PUT',
        url: `/v1/accounts/contacts/${created.id}`,
        token: owner.token,
        body: { lastName: 'Builder', contactType: 'BILLING', accountIds: [acme.id] },
      });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ firstName: 'Bob', lastName: 'Builder', contactType: 'BILLING' });
      expect(updated.body.accounts.map((a: any) => a.id)).toEqual([acme.id]);
      const clash = await t.request({ method: 'PUT', url: `/v1/accounts/contacts/${created.id}`, token: owner.token, body: { email: 'jane@acme.com' } });
      expect(clash.status).toBe(409);
      const notFound = await t.request({ method: 'PUT', url: '/v1/accounts/contacts/nope', token: owner.token, body: { lastName: 'x' } });
      expect(notFound.body).toEqual({ statusCode: 404, message: 'Resource not found!', error: 'Not Found' });
    });

    it('lists by account and by contact type, with X-Total-Count', async () => {
      const byAccount = await t.request({ url: `/v1/accounts/contacts?accountId=${acme.id}`, token: owner.token });
      expect(byAccount.status).toBe(200);
      expect(byAccount.body.map((c: any) => c.email).sort()).toEqual(['bob@globex.com', 'jane@acme.com']);
      expect(byAccount.headers['x-total-count']).toBe('2');
      const billing = await t.request({ url: '/v1/accounts/contacts?contactType=billing', token: owner.token });
      expect(billing.body.map((c: any) => c.email)).toEqual(['bob@globex.com']);
      expect((await t.request({ url: '/v1/accounts/contacts?accountId=0192f5a0-7c1e-7b3a-9d2e-6f1a2b3c4d5e', token: owner.token })).status).toBe(404);
    });

    it('pages newest first', async () => {
      const user = await t.signUp();
      for (let i = 0; i < 12; i++) expect((await create({ firstName: `P${i}`, email: `p${i}@paged.example` }, user.token)).status).toBe(201);
      const page3 = await t.request({ url: '/v1/accounts/contacts?limit=5&page=3', token: user.token });
      expect(page3.headers['x-total-count']).toBe('12');
      expect(page3.body.map((c: any) => c.firstName)).toEqual(['P1', 'P0']);
      expect((await t.request({ url: '/v1/accounts/contacts?limit=101', token: user.token })).status).toBe(400);
    });

    it('searches by part of the email and by part of the name', async () => {
      await create({ firstName: 'Margaret', lastName: 'Hamilton', email: 'mh@apollo.example' });
      const byName = await t.request({ url: '/v1/accounts/contacts/search?q=hamil', token: owner.token });
      expect(byName.status).toBe(200);
      expect(byName.body.map((c: any) => c.email)).toEqual(['mh@apollo.example']);
      const byEmail = await t.request({ url: '/v1/accounts/contacts/search?email=APOLLO', token: owner.token });
      expect(byEmail.body.map((c: any) => c.firstName)).toEqual(['Margaret']);
      // A full name spans two columns: both databases match it.
      const fullName = await t.request({ url: '/v1/accounts/contacts/search?q=Margaret%20Ham', token: owner.token });
      expect(fullName.body.map((c: any) => c.email)).toEqual(['mh@apollo.example']);
      const wrongOrder = await t.request({ url: '/v1/accounts/contacts/search?q=hamilton%20margaret', token: owner.token });
      expect(wrongOrder.body).toEqual([]);
      const short = await t.request({ url: '/v1/accounts/contacts/search?q=mh', token: owner.token });
      expect(short.body.map((c: any) => c.firstName)).toEqual(['Margaret']);
      const none = await t.request({ url: '/v1/accounts/contacts/search', token: owner.token });
      expect(none.status).toBe(400);
    });

    it('filters by ids, leaving unknown ones out', async () => {
      const [jane] = (await t.request({ url: '/v1/accounts/contacts/search?email=jane@', token: owner.token })).body;
      const response = await t.request({ method: 'POST', url: '/v1/accounts/contacts/filter/ids', token: owner.token, body: { ids: [jane.id, 'junk'] } });
      expect(response.status).toBe(200);
      expect(response.body.map((c: any) => c.id)).toEqual([jane.id]);
    });

    it('bulk-creates in one transaction, skipping emails that exist or repeat', async () => {
      const response = await t.request({
        method: 'POST',
        url: '/v1/accounts/contacts/bulk',
        token: owner.token,
        body: {
          accountIds: [globex.id],
          contactType: 'LEGAL',
          contacts: [
            { firstName: 'Lex', email: 'lex@globex.com' },
            { firstName: 'Lea', email: 'lea@globex.com', contactType: 'EXECUTIVE' },
            { firstName: 'Jane again', email: 'jane@ACME.com' },
            { firstName: 'Lex again', email: 'LEX@globex.com' },
          ],
        },
      });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({ total: 4, created: 2, skipped: 2 });
      const globexContacts = (await t.request({ url: `/v1/accounts/contacts?accountId=${globex.id}`, token: owner.token })).body;
      expect(globexContacts.map((c: any) => [c.firstName, c.contactType]).sort()).toEqual([
        ['Jane', 'PRIMARY'],
        ['Lea', 'EXECUTIVE'],
        ['Lex', 'LEGAL'],
      ]);

      const before = (await contactRows(owner.user.primary_workspace.uuid)).length;
      const failed = await t.request({
        method: 'POST',
        url: '/v1/accounts/contacts/bulk',
        token: owner.token,
        body: { contacts: [{ firstName: 'Ok', email: 'ok@globex.com' }, { firstName: 'Bad', email: 'bad@globex.com', contactType: 'NOPE' }] },
      });
      expect(failed.status).toBe(400);
      expect(failed.body.message[0]).toMatch(/^contacts\.1\.contactType/);
      expect((await contactRows(owner.user.primary_workspace.uuid)).length).toBe(before);
    });

    it('ingests users: upserts by email, links by domain, creates accounts for new company domains only', async () => {
      const response = await t.request({
        method: 'POST',
        url: '/v1/accounts/contacts/ingest',
        token: owner.token,
        body: {
          sinkSource: 'SLACK',
          users: [
            { email: 'ada@initech.io', name: 'Ada Lovelace' },
            { email: 'jane@acme.com', phoneNumber: '+1 555 0100' },
            { email: 'grace@globex.com', firstName: 'Grace', lastName: 'Hopper' },
            { email: 'someone@gmail.com' },
            { email: 'ADA@initech.io' },
          ],
        },
      });
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ statusCode: 201, message: 'Contacts ingested successfully' });
      expect(response.body.data).toMatchObject({ total: 4, created: 3, updated: 1, accountsCreated: 1 });
      const byEmail = Object.fromEntries(response.body.data.contacts.map((c: any) => [c.email, c]));
      expect(byEmail['ada@initech.io']).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace' });
      expect(byEmail['ada@initech.io'].accounts).toEqual([expect.objectContaining({ name: 'Initech', primaryDomain: 'initech.io' })]);
      // An existing contact keeps its data and gains what it lacked.
      expect(byEmail['jane@acme.com']).toMatchObject({ firstName: 'Jane', lastName: 'Doe', phoneNumber: '+49 30 1234' });
      expect(byEmail['grace@globex.com'].accounts.map((a: any) => a.id)).toEqual([globex.id]);
      expect(byEmail['someone@gmail.com']).toMatchObject({ firstName: 'someone', accounts: [] });

      const initech = (await t.request({ method: 'POST', url: '/v1/accounts/filter/primary-domains', token: owner.token, body: { primaryDomains: ['initech.io'] } })).body;
      expect(initech).toEqual([expect.objectContaining({ name: 'Initech', source: 'slack', status: 'PROSPECT' })]);
      const gmail = (await t.request({ method: 'POST', url: '/v1/accounts/filter/primary-domains', token: owner.token, body: { primaryDomains: ['gmail.com'] } })).body;
      expect(gmail).toEqual([]);
      const stored = await t.ctx.db.kysely.selectFrom('customer_contacts').select('sink_source').where('email', '=', 'ada@initech.io').executeTakeFirstOrThrow();
      expect(stored.sink_source).toBe('SLACK');

      expect((await t.request({ method: 'POST', url: '/v1/accounts/contacts/ingest', token: owner.token, body: { sinkSource: 'FAX', users: [{ email: 'a@b.co' }] } })).status).toBe(400);
    });

    it('soft-deletes: 404 afterwards, links gone, email free again', async () => {
      const created = (await create({ firstName: 'Temp', email: 'temp@acme.com', accountIds: [acme.id] })).body;
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/contacts/${created.id}`, token: owner.token })).status).toBe(204);
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/contacts/${created.id}`, token: owner.token })).status).toBe(404);
      const acmeContacts = (await t.request({ url: `/v1/accounts/contacts?accountId=${acme.id}`, token: owner.token })).body;
      expect(acmeContacts.map((c: any) => c.email)).not.toContain('temp@acme.com');
      expect((await create({ firstName: 'Temp', email: 'temp@acme.com' })).status).toBe(201);
    });

    it('hides other workspaces’ contacts and lets viewers only read', async () => {
      const stranger = await t.signUp();
      const theirs = (await create({ firstName: 'Hidden', email: 'hidden@corp.example' }, stranger.token)).body;
      expect((await t.request({ method: 'PUT', url: `/v1/accounts/contacts/${theirs.id}`, token: owner.token, body: { lastName: 'x' } })).status).toBe(404);
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/contacts/${theirs.id}`, token: owner.token })).status).toBe(404);
      const filtered = await t.request({ method: 'POST', url: '/v1/accounts/contacts/filter/ids', token: owner.token, body: { ids: [theirs.id] } });
      expect(filtered.body).toEqual([]);
      // Another workspace's account cannot be linked either.
      const stranger2 = (await t.request({ method: 'POST', url: '/v1/accounts', token: stranger.token, body: { name: 'S', primaryDomain: 's.example' } })).body;
      expect((await create({ firstName: 'X', email: 'x2@acme.com', accountIds: [stranger2.id] })).status).toBe(400);

      const viewer = await t.signUp();
      const workspaceId = owner.user.primary_workspace.uuid;
      await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspaceId}/members`, token: owner.token, body: { email: viewer.email, role: 'viewer' } });
      const headers = { 'x-org-id': workspaceId };
      expect((await t.request({ url: '/v1/accounts/contacts', token: viewer.token, headers })).status).toBe(200);
      const forbidden = await t.request({ method: 'POST', url: '/v1/accounts/contacts', token: viewer.token, headers, body: { firstName: 'V', email: 'v@acme.com' } });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.message).toBe('User does not have access to this resource!');
    });
  });
}
