import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const RELATIONSHIP_KEYS = ['id', 'accountId', 'account', 'relatedAccountId', 'relatedAccount', 'relationshipType', 'createdAt', 'updatedAt'].sort();
const TYPE_KEYS = ['id', 'name', 'inverseRelationshipId', 'inverseRelationship', 'createdAt', 'updatedAt'].sort();
const UNKNOWN_ID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';

for (const dialect of DIALECTS) {
  describe(`customer account relationships (${dialect})`, () => {
    let t: TestApp;
    let owner: SignedUp;
    let domainSeq = 0;

    beforeAll(async () => {
      t = await createTestApp(dialect);
      owner = await t.signUp();
    });
    afterAll(() => t.close());

    const account = async (name: string, token = owner.token) => {
      const response = await t.request({ method: 'POST', url: '/v1/accounts', token, body: { name, primaryDomain: `rel${++domainSeq}.example.com` } });
      expect(response.status).toBe(201);
      return response.body as { id: string; name: string; primaryDomain: string };
    };
    const createType = (body: unknown, token = owner.token, headers?: Record<string, string>) =>
      t.request({ method: 'POST', url: '/v1/accounts/relationships/types', token, body, headers });
    const type = async (name: string, inverseRelationshipId?: string) => {
      const response = await createType({ name, ...(inverseRelationshipId ? { inverseRelationshipId } : {}) });
      expect(response.status).toBe(201);
      return response.body as { id: string; name: string; inverseRelationshipId: string | null };
    };
    const putType = (id: string, body: unknown, token = owner.token) => t.request({ method: 'PUT', url: `/v1/accounts/relationships/types/${id}`, token, body });
    const types = async (token = owner.token) => (await t.request({ url: '/v1/accounts/relationships/types', token })).body as any[];
    const typeById = async (id: string) => (await types()).find((x) => x.id === id);
    const relate = (body: unknown, token = owner.token) => t.request({ method: 'POST', url: '/v1/accounts/relationships', token, body });
    const list = (accountId: string, query = '', token = owner.token) => t.request({ url: `/v1/accounts/relationships?accountId=${accountId}${query}`, token });
    const liveRelationships = async () =>
      Number(
        (
          await t.ctx.db.kysely
            .selectFrom('customer_account_relationships')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('deleted_at', 'is', null)
            .executeTakeFirstOrThrow()
        ).n,
      );

    it('creates, lists, renames and deletes relationship types', async () => {
      const created = await createType({ name: '  Partner  ' });
      expect(created.status).toBe(201);
      expect(Object.keys(created.body).sort()).toEqual(TYPE_KEYS);
      expect(created.body).toMatchObject({ name: 'Partner', inverseRelationshipId: null, inverseRelationship: null });
      expect(created.body.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

      const all = await types();
      expect(all.map((x) => x.id)).toContain(created.body.id);

      const renamed = await putType(created.body.id, { name: 'Alliance' });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toMatchObject({ id: created.body.id, name: 'Alliance' });

      const deleted = await t.request({ method: 'DELETE', url: `/v1/accounts/relationships/types/${created.body.id}`, token: owner.token });
      expect(deleted.status).toBe(204);
      expect((await types()).map((x) => x.id)).not.toContain(created.body.id);
      expect((await putType(created.body.id, { name: 'Again' })).status).toBe(404);
    });

    it('refuses duplicate type names case-insensitively (409), also on rename', async () => {
      await type('Vendor');
      const duplicate = await createType({ name: 'vendor' });
      expect(duplicate.status).toBe(409);
      expect(duplicate.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
      expect(duplicate.body.message).toContain('vendor');
      const other = await type('Supplier');
      expect((await putType(other.id, { name: 'VENDOR' })).status).toBe(409);
      // Changing only the case of its own name is fine.
      expect((await putType(other.id, { name: 'SUPPLIER' })).body.name).toBe('SUPPLIER');
    });

    it('links inverses both ways, re-links (unlinking the previous partners) and clears', async () => {
      const parent = await type('Parent');
      const child = await type('Child', parent.id);
      expect(child.inverseRelationshipId).toBe(parent.id);
      const createdChild = await typeById(child.id);
      expect(createdChild.inverseRelationship).toEqual({ id: parent.id, name: 'Parent' });
      expect(await typeById(parent.id)).toMatchObject({ inverseRelationshipId: child.id, inverseRelationship: { id: child.id, name: 'Child' } });

      // Re-link Parent to Subsidiary: Child loses its inverse.
      const subsidiary = await type('Subsidiary');
      const relinked = await putType(parent.id, { inverseRelationshipId: subsidiary.id });
      expect(relinked.status).toBe(200);
      expect(relinked.body).toMatchObject({ inverseRelationshipId: subsidiary.id, inverseRelationship: { id: subsidiary.id, name: 'Subsidiary' } });
      expect(await typeById(subsidiary.id)).toMatchObject({ inverseRelationshipId: parent.id });
      expect(await typeById(child.id)).toMatchObject({ inverseRelationshipId: null, inverseRelationship: null });

      // Linking Child to Subsidiary unlinks Parent (Subsidiary's previous partner).
      await putType(child.id, { inverseRelationshipId: subsidiary.id });
      expect(await typeById(parent.id)).toMatchObject({ inverseRelationshipId: null });
      expect(await typeById(child.id)).toMatchObject({ inverseRelationshipId: subsidiary.id });
      expect(await typeById(subsidiary.id)).toMatchObject({ inverseRelationshipId: child.id });

      // A symmetric type is its own inverse.
      const sibling = await type('Sibling');
      const symmetric = await putType(sibling.id, { inverseRelationshipId: sibling.id });
      expect(symmetric.body).toMatchObject({ inverseRelationshipId: sibling.id, inverseRelationship: { id: sibling.id, name: 'Sibling' } });

      // null clears both pointers.
      const cleared = await putType(child.id, { inverseRelationshipId: null });
      expect(cleared.body).toMatchObject({ inverseRelationshipId: null, inverseRelationship: null });
      expect(await typeById(subsidiary.id)).toMatchObject({ inverseRelationshipId: null });

      // An unknown inverse is a 400 naming the field.
      const unknown = await putType(child.id, { inverseRelationshipId: UNKNOWN_ID });
      expect(unknown.status).toBe(400);
      expect(unknown.body.message).toEqual(['inverseRelationshipId must be the id of a relationship type']);
      expect((await createType({ name: 'Orphan', inverseRelationshipId: 'nope' })).status).toBe(400);
    });

    it('deleting a type clears its partner’s inverse', async () => {
      const a = await type('Lender');
      const b = await type('Borrower', a.id);
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/relationships/types/${b.id}`, token: owner.token })).status).toBe(204);
      expect(await typeById(a.id)).toMatchObject({ inverseRelationshipId: null, inverseRelationship: null });
    });

    it('creates a relationship with its inverse, lists it, changes its type and deletes both', async () => {
      const acme = await account('Acme');
      const acmeEu = await account('Acme EU');
      const owns = await type('Owns');
      const ownedBy = await type('Owned by', owns.id);

      const before = await liveRelationships();
      const created = await relate({ accountId: acme.id, relatedAccountId: acmeEu.id, relationshipType: owns.id });
      expect(created.status).toBe(201);
      expect(Object.keys(created.body).sort()).toEqual(RELATIONSHIP_KEYS);
      expect(created.body).toMatchObject({
        accountId: acme.id,
        account: { id: acme.id, name: 'Acme', primaryDomain: acme.primaryDomain },
        relatedAccountId: acmeEu.id,
        relatedAccount: { id: acmeEu.id, name: 'Acme EU', primaryDomain: acmeEu.primaryDomain },
        relationshipType: { id: owns.id, name: 'Owns', inverseRelationshipId: ownedBy.id, inverseRelationship: { id: ownedBy.id, name: 'Owned by' } },
      });
      expect(Object.keys(created.body.relationshipType).sort()).toEqual(TYPE_KEYS);
      expect(await liveRelationships()).toBe(before + 2);

      // The inverse was created: Acme EU → Acme, "Owned by".
      const inverseList = await list(acmeEu.id);
      expect(inverseList.status).toBe(200);
      expect(inverseList.headers['x-total-count']).toBe('1');
      expect(inverseList.body[0]).toMatchObject({ accountId: acmeEu.id, relatedAccountId: acme.id, relationshipType: { id: ownedBy.id } });

      // Change the type to one without an inverse: the inverse relationship goes.
      const plain = await type('Knows');
      const updated = await t.request({ method: 'PUT', url: `/v1/accounts/relationships/${created.body.id}`, token: owner.token, body: { relationshipType: plain.id } });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ id: created.body.id, relationshipType: { id: plain.id, name: 'Knows', inverseRelationship: null } });
      expect((await list(acmeEu.id)).body).toEqual([]);

      // Back to Owns: the inverse is created again.
      await t.request({ method: 'PUT', url: `/v1/accounts/relationships/${created.body.id}`, token: owner.token, body: { relationshipType: owns.id } });
      expect((await list(acmeEu.id)).body.map((r: any) => r.relationshipType.id)).toEqual([ownedBy.id]);

      // Deleting one side deletes both.
      const deleted = await t.request({ method: 'DELETE', url: `/v1/accounts/relationships/${created.body.id}`, token: owner.token });
      expect(deleted.status).toBe(204);
      expect((await list(acme.id)).body).toEqual([]);
      expect((await list(acmeEu.id)).body).toEqual([]);
      expect(await liveRelationships()).toBe(before);
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/relationships/${created.body.id}`, token: owner.token })).status).toBe(404);
    });

    it('does not duplicate an inverse that exists, and symmetric types relate both ways once', async () => {
      const a = await account('Alpha');
      const b = await account('Beta');
      const sister = await type('Sister company');
      await putType(sister.id, { inverseRelationshipId: sister.id });
      const first = await relate({ accountId: a.id, relatedAccountId: b.id, relationshipType: sister.id });
      expect(first.status).toBe(201);
      expect((await list(b.id)).body.map((r: any) => [r.relatedAccountId, r.relationshipType.id])).toEqual([[a.id, sister.id]]);
      // The reverse now exists already: 409.
      expect((await relate({ accountId: b.id, relatedAccountId: a.id, relationshipType: sister.id })).status).toBe(409);
    });

    it('refuses self relations (400), duplicates (409), unknown accounts and types (400 naming the field)', async () => {
      const a = await account('Gamma');
      const b = await account('Delta');
      const partner = await type('Reseller');
      const before = await liveRelationships();

      const self = await relate({ accountId: a.id, relatedAccountId: a.id.toUpperCase(), relationshipType: partner.id });
      expect(self.status).toBe(400);
      expect(self.body).toEqual({ statusCode: 400, message: ['relatedAccountId must be another account than accountId'], error: 'Bad Request' });

      expect((await relate({ accountId: a.id, relatedAccountId: b.id, relationshipType: partner.id })).status).toBe(201);
      const duplicate = await relate({ accountId: a.id, relatedAccountId: b.id, relationshipType: partner.id });
      expect(duplicate.status).toBe(409);
      expect(duplicate.body.message).toContain('Reseller');

      const unknownRelated = await relate({ accountId: a.id, relatedAccountId: UNKNOWN_ID, relationshipType: partner.id });
      expect(unknownRelated.status).toBe(400);
      expect(unknownRelated.body.message).toEqual(['relatedAccountId must be the id of an account']);
      const badAccount = await relate({ accountId: 'not-a-uuid', relatedAccountId: b.id, relationshipType: partner.id });
      expect(badAccount.body.message).toEqual(['accountId must be the id of an account']);
      const unknownType = await relate({ accountId: b.id, relatedAccountId: a.id, relationshipType: UNKNOWN_ID });
      expect(unknownType.status).toBe(400);
      expect(unknownType.body.message).toEqual(['relationshipType must be the id of a relationship type']);
      const missing = await relate({ accountId: a.id, relatedAccountId: b.id });
      expect(missing.status).toBe(400);

      // A deleted account is no longer a valid party.
      const c = await account('Epsilon');
      await t.request({ method: 'DELETE', url: `/v1/accounts/${c.id}`, token: owner.token });
      expect((await relate({ accountId: a.id, relatedAccountId: c.id, relationshipType: partner.id })).status).toBe(400);
      expect(await liveRelationships()).toBe(before + 1);

      // Changing the type onto an existing one: 409.
      const other = await type('Distributor');
      const second = await relate({ accountId: a.id, relatedAccountId: b.id, relationshipType: other.id });
      expect(second.status).toBe(201);
      const clash = await t.request({ method: 'PUT', url: `/v1/accounts/relationships/${second.body.id}`, token: owner.token, body: { relationshipType: partner.id } });
      expect(clash.status).toBe(409);
    });

    it('refuses to delete a type in use (409 naming the count)', async () => {
      const a = await account('Zeta');
      const b = await account('Eta');
      const c = await account('Theta');
      const used = await type('Competitor');
      await relate({ accountId: a.id, relatedAccountId: b.id, relationshipType: used.id });
      await relate({ accountId: a.id, relatedAccountId: c.id, relationshipType: used.id });
      const refused = await t.request({ method: 'DELETE', url: `/v1/accounts/relationships/types/${used.id}`, token: owner.token });
      expect(refused.status).toBe(409);
      expect(refused.body.message).toContain('2 relationships');
      expect(await typeById(used.id)).toBeDefined();
    });

    it('pages a list newest first with X-Total-Count; an unknown account is 404', async () => {
      const hub = await account('Hub');
      const spoke = await type('Spoke');
      const ids: string[] = [];
      for (let i = 0; i < 3; i += 1) {
        const other = await account(`Spoke ${i}`);
        ids.push((await relate({ accountId: hub.id, relatedAccountId: other.id, relationshipType: spoke.id })).body.id);
      }
      const page1 = await list(hub.id, '&limit=2');
      expect(page1.status).toBe(200);
      expect(page1.headers['x-total-count']).toBe('3');
      expect(page1.body.map((r: any) => r.id)).toEqual([ids[2], ids[1]]);
      const page2 = await list(hub.id, '&limit=2&page=2');
      expect(page2.body.map((r: any) => r.id)).toEqual([ids[0]]);
      expect(page2.headers['x-total-count']).toBe('3');
      expect((await list(UNKNOWN_ID)).status).toBe(404);
      expect((await list('nope')).status).toBe(404);
      expect((await t.request({ url: '/v1/accounts/relationships', token: owner.token })).status).toBe(400);
    });

    it('routes /relationships/types to the types, not to /relationships/:id or /accounts/:id', async () => {
      const get = await t.request({ url: '/v1/accounts/relationships/types', token: owner.token });
      expect(get.status).toBe(200);
      expect(Array.isArray(get.body)).toBe(true);
      const post = await createType({ name: 'Routed' });
      expect(post.status).toBe(201);
      expect(Object.keys(post.body).sort()).toEqual(TYPE_KEYS);
      // Without accountId the list answers 400 (its own validation), not /v1/accounts/:id's 404.
      const listWithout = await t.request({ url: '/v1/accounts/relationships', token: owner.token });
      expect(listWithout.status).toBe(400);
      // A type id under /relationships/types/:id reaches the type, not the relationship route.
      const put = await putType(post.body.id, { name: 'Routed again' });
      expect(put.status).toBe(200);
      expect(put.body.name).toBe('Routed again');
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/relationships/types/${post.body.id}`, token: owner.token })).status).toBe(204);
      // …and a type id at /relationships/:id names no relationship.
      const other = await type('Routed elsewhere');
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/relationships/${other.id}`, token: owner.token })).status).toBe(404);
      expect(await typeById(other.id)).toBeDefined();
      // Non-UUID path ids are 404s, never database errors.
      expect((await putType('not-a-uuid', { name: 'X' })).status).toBe(404);
      expect((await t.request({ method: 'DELETE', url: '/v1/accounts/relationships/not-a-uuid', token: owner.token })).status).toBe(404);
      expect((await t.request({ method: 'PUT', url: '/v1/accounts/relationships/not-a-uuid', token: owner.token, body: { relationshipType: UNKNOWN_ID } })).status).toBe(404);
    });

    it('hides another workspace’s relationships and types (404), and lets only admins configure types', async () => {
      const a = await account('Iota');
      const b = await account('Kappa');
      const mine = await type('Affiliate');
      const rel = (await relate({ accountId: a.id, relatedAccountId: b.id, relationshipType: mine.id })).body;

      const stranger = await t.signUp();
      expect((await putType(mine.id, { name: 'Stolen' }, stranger.token)).status).toBe(404);
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/relationships/types/${mine.id}`, token: stranger.token })).status).toBe(404);
      expect((await t.request({ method: 'PUT', url: `/v1/accounts/relationships/${rel.id}`, token: stranger.token, body: { relationshipType: mine.id } })).status).toBe(404);
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/relationships/${rel.id}`, token: stranger.token })).status).toBe(404);
      expect((await list(a.id, '', stranger.token)).status).toBe(404);
      expect(await types(stranger.token)).toEqual([]);
      // Their own accounts cannot point at ours: a 400 naming the field.
      const theirs = await account('Lambda', stranger.token);
      const cross = await relate({ accountId: theirs.id, relatedAccountId: a.id, relationshipType: mine.id }, stranger.token);
      expect(cross.status).toBe(400);
      expect(cross.body.message).toEqual(['relatedAccountId must be the id of an account']);

      // A member writes relationships but cannot configure types.
      const member = await t.signUp();
      const workspaceId = owner.user.primary_workspace.uuid;
      const added = await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspaceId}/members`, token: owner.token, body: { email: member.email, role: 'member' } });
      expect(added.status).toBe(201);
      const headers = { 'x-org-id': workspaceId };
      const forbidden = await createType({ name: 'Member type' }, member.token, headers);
      expect(forbidden.status).toBe(403);
      expect(forbidden.body).toEqual({ statusCode: 403, message: 'User does not have access to this resource!', error: 'Forbidden' });
      expect((await t.request({ method: 'PUT', url: `/v1/accounts/relationships/types/${mine.id}`, token: member.token, headers, body: { name: 'X' } })).status).toBe(403);
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/relationships/types/${mine.id}`, token: member.token, headers })).status).toBe(403);
      const read = await t.request({ url: '/v1/accounts/relationships/types', token: member.token, headers });
      expect(read.body.map((x: any) => x.id)).toContain(mine.id);
      const c = await account('Mu');
      const byMember = await t.request({ method: 'POST', url: '/v1/accounts/relationships', token: member.token, headers, body: { accountId: a.id, relatedAccountId: c.id, relationshipType: mine.id } });
      expect(byMember.status).toBe(201);

      // A viewer reads but does not write.
      const viewer = await t.signUp();
      await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspaceId}/members`, token: owner.token, body: { email: viewer.email, role: 'viewer' } });
      const vh = { 'x-org-id': workspaceId };
      expect((await t.request({ url: `/v1/accounts/relationships?accountId=${a.id}`, token: viewer.token, headers: vh })).status).toBe(200);
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/relationships/${rel.id}`, token: viewer.token, headers: vh })).status).toBe(403);
    });

    it('drops an account’s relationships (both directions) when the account is deleted', async () => {
      const a = await account('Nu');
      const b = await account('Xi');
      const parentOf = await type('Parent of');
      await type('Child of', parentOf.id);
      await relate({ accountId: a.id, relatedAccountId: b.id, relationshipType: parentOf.id });
      expect((await list(b.id)).body).toHaveLength(1);
      await t.request({ method: 'DELETE', url: `/v1/accounts/${a.id}`, token: owner.token });
      expect((await list(b.id)).body).toEqual([]);
    });
  });
}
