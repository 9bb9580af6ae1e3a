import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

/** The keys seed 000 requires of AccountAttributeValueResponseDto, plus our configuration. */
const DTO_KEYS = ['attribute', 'configuration', 'createdAt', 'id', 'isDefault', 'updatedAt', 'value'];

const ATTRIBUTES = [
  'account_status',
  'account_classification',
  'account_health',
  'account_industry',
  'contact_type',
  'activity_type',
  'activity_status',
  'note_type',
  'task_type',
  'task_status',
  'task_priority',
];

for (const dialect of DIALECTS) {
  describe(`attribute values (${dialect})`, () => {
    let t: TestApp;
    let owner: SignedUp;

    beforeAll(async () => {
      t = await createTestApp(dialect);
      owner = await t.signUp();
    });
    afterAll(() => t.close());

    const list = (attribute: string, token = owner.token) => t.request({ url: `/v1/accounts/attributes?attribute=${attribute}`, token });
    const put = (id: string, body: unknown, token = owner.token) => t.request({ method: 'PUT', url: `/v1/accounts/attributes/${id}`, token, body });
    const valueOf = async (attribute: string, value: string) => (await list(attribute)).body.find((v: any) => v.value === value);
    const defaults = async (attribute: string) => (await list(attribute)).body.filter((v: any) => v.isDefault);
    const storedRow = (id: string) => t.ctx.db.kysely.selectFrom('customer_attribute_values').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    it('starts every workspace with the documented values, the first of each the default', async () => {
      for (const attribute of ATTRIBUTES) {
        const response = await list(attribute);
        expect(response.status).toBe(200);
        expect(response.body.length).toBeGreaterThanOrEqual(3);
        expect(response.body.filter((v: any) => v.isDefault)).toEqual([response.body[0]]);
        for (const value of response.body) expect(Object.keys(value).sort()).toEqual(DTO_KEYS);
      }
      expect((await list('account_status')).body.map((v: any) => v.value)).toEqual(['PROSPECT', 'TRIAL', 'ACTIVE', 'CHURNED', 'ACQUIRED']);
      const statuses = (await list('task_status')).body;
      expect(statuses.map((v: any) => [v.value, v.configuration.isClosed === true])).toEqual([
        ['PENDING', false],
        ['IN_PROGRESS', false],
        ['COMPLETED', true],
        ['CANCELLED', true],
      ]);
    });

    it('requires the attribute on lists and refuses an unknown one', async () => {
      const missing = await t.request({ url: '/v1/accounts/attributes', token: owner.token });
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual({ statusCode: 400, message: ['attribute should not be empty'], error: 'Bad Request' });
      expect((await list('planet')).status).toBe(400);
    });

    it('updates a value exactly as seed 000 describes: the DTO in, the DTO out', async () => {
      const trial = await valueOf('account_status', 'TRIAL');
      const response = await put(trial.id, { value: 'FREE_TRIAL' });
      expect(response.status).toBe(200);
      expect(Object.keys(response.body).sort()).toEqual(DTO_KEYS);
      expect(response.body).toMatchObject({ id: trial.id, attribute: 'account_status', value: 'FREE_TRIAL', isDefault: false, createdAt: trial.createdAt });
      expect(response.body.updatedAt >= trial.updatedAt).toBe(true);
      expect((await storedRow(trial.id)).value).toBe('FREE_TRIAL');
    });

    it('answers a body that breaks the DTO with 400 and changes nothing', async () => {
      const active = await valueOf('account_status', 'ACTIVE');
      const before = await storedRow(active.id);

      const wrongValue = await put(active.id, { value: 123 });
      expect(wrongValue.status).toBe(400);
      expect(wrongValue.body).toEqual({ statusCode: 400, message: ['value must be a string'], error: 'Bad Request' });

      const wrongDefault = await put(active.id, { isDefault: 'yes' });
      expect(wrongDefault.status).toBe(400);
      expect(wrongDefault.body).toEqual({ statusCode: 400, message: ['isDefault must be a boolean value'], error: 'Bad Request' });

      const unknown = await put(active.id, { value: 'X', colour: 'red' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.message).toEqual(['property colour should not exist']);

      const malformed = await t.request({
        method: 'PUT',
        url: `/v1/accounts/attributes/${active.id}`,
        token: owner.token,
        payload: '{"value":',
        headers: { 'content-type': 'application/json' },
      });
      expect(malformed.status).toBe(400);
      expect(malformed.body.statusCode).toBe(400);

      expect(await storedRow(active.id)).toEqual(before);
      expect(await defaults('account_status')).toHaveLength(1);
    });

    it('answers unknown ids and other workspaces’ ids with the seed’s 404', async () => {
      const notFound = { statusCode: 404, message: 'Resource not found!', error: 'Not Found' };
      expect((await put('0192f5a0-7c1e-7b3a-9d2e-6f1a2b3c4d5e', { value: 'X' })).body).toEqual(notFound);
      expect((await put('not-a-uuid', { value: 'X' })).body).toEqual(notFound);

      const stranger = await t.signUp();
      const theirs = (await list('account_status', stranger.token)).body[1];
      const response = await put(theirs.id, { value: 'MINE' });
      expect(response.status).toBe(404);
      expect(response.body).toEqual(notFound);
      expect((await storedRow(theirs.id)).value).toBe(theirs.value);
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/attributes/${theirs.id}`, token: owner.token })).status).toBe(404);
    });

    it('answers missing credentials with the seed’s 401', async () => {
      const active = await valueOf('account_status', 'ACTIVE');
      const response = await t.request({ method: 'PUT', url: `/v1/accounts/attributes/${active.id}`, body: { value: 'X' } });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ statusCode: 401, message: 'User is not authenticated!', error: 'Unauthorized' });
      const badToken = await put(active.id, { value: 'X' }, 'not-a-token');
      expect(badToken.status).toBe(401);
    });

    it('lets admins change values; members get the seed’s 403', async () => {
      const member = await t.signUp();
      const workspaceId = owner.user.primary_workspace.uuid;
      const added = await t.request({
        method: 'POST',
        url: `/api/v1/workspaces/${workspaceId}/members`,
        token: owner.token,
        body: { email: member.email, role: 'member' },
      });
      expect(added.status).toBe(201);
      const headers = { 'x-org-id': workspaceId };
      const active = await valueOf('account_status', 'ACTIVE');
      const forbidden = await t.request({ method: 'PUT', url: `/v1/accounts/attributes/${active.id}`, token: member.token, headers, body: { value: 'LIVE' } });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body).toEqual({ statusCode: 403, message: 'User does not have access to this resource!', error: 'Forbidden' });
      // Members read the workspace's values through x-org-id.
      const read = await t.request({ url: '/v1/accounts/attributes?attribute=account_status', token: member.token, headers });
      expect(read.body.map((v: any) => v.id)).toContain(active.id);
    });

    it('moves the default: one default per attribute, and the default cannot be un-defaulted', async () => {
      const [prospect] = await defaults('account_status');
      const churned = await valueOf('account_status', 'CHURNED');
      const moved = await put(churned.id, { isDefault: true });
      expect(moved.body.isDefault).toBe(true);
      expect((await defaults('account_status')).map((v: any) => v.id)).toEqual([churned.id]);
      expect((await storedRow(prospect.id)).is_default).toBeFalsy();

      const undefault = await put(churned.id, { isDefault: false });
      expect(undefault.status).toBe(400);
      expect(undefault.body.message[0]).toMatch(/default/);
      expect((await defaults('account_status')).map((v: any) => v.id)).toEqual([churned.id]);

      // isDefault false on a value that is not the default changes nothing.
      expect((await put(prospect.id, { isDefault: false })).body.isDefault).toBe(false);
      await put(prospect.id, { isDefault: true });
    });

    it('keeps exactly one default when many requests make different values default at once', async () => {
      const values = (await list('account_classification')).body;
      for (let round = 0; round < 3; round++) {
        const responses = await Promise.all(values.map((v: any) => put(v.id, { isDefault: true })));
        expect(responses.map((r) => r.status)).toEqual(values.map(() => 200));
        const stored = await t.ctx.db.kysely
          .selectFrom('customer_attribute_values')
          .select('id')
          .where('workspace_id', '=', owner.user.primary_workspace.uuid)
          .where('attribute', '=', 'account_classification')
          .where('is_default', '=', true)
          .where('deleted_at', 'is', null)
          .execute();
        expect(stored).toHaveLength(1);
      }
    });

    it('keeps values unique per attribute, case-insensitively', async () => {
      const trial = await valueOf('account_status', 'FREE_TRIAL');
      const clash = await put(trial.id, { value: 'active' });
      expect(clash.status).toBe(409);
      expect(clash.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
      expect((await storedRow(trial.id)).value).toBe('FREE_TRIAL');
      // Changing only the case of its own text is allowed.
      expect((await put(trial.id, { value: 'Free_Trial' })).body.value).toBe('Free_Trial');
      const created = await t.request({ method: 'POST', url: '/v1/accounts/attributes', token: owner.token, body: { attribute: 'account_status', value: 'Active' } });
      expect(created.status).toBe(409);
    });

    it('creates values, optionally as the new default, with display configuration', async () => {
      const created = await t.request({
        method: 'POST',
        url: '/v1/accounts/attributes',
        token: owner.token,
        body: { attribute: 'task_status', value: 'BLOCKED', isDefault: true, color: '#ef4444', isClosed: false },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ attribute: 'task_status', value: 'BLOCKED', isDefault: true, configuration: { color: '#ef4444', isClosed: false } });
      const statuses = (await list('task_status')).body;
      expect(statuses.at(-1).id).toBe(created.body.id);
      expect(statuses.filter((v: any) => v.isDefault).map((v: any) => v.id)).toEqual([created.body.id]);

      const closedElsewhere = await t.request({
        method: 'POST',
        url: '/v1/accounts/attributes',
        token: owner.token,
        body: { attribute: 'note_type', value: 'LEGAL', isClosed: true },
      });
      expect(closedElsewhere.status).toBe(400);
      expect(closedElsewhere.body.message).toEqual(['isClosed applies to task_status values only']);
      expect(await valueOf('note_type', 'LEGAL')).toBeUndefined();
    });

    it('refuses to delete the default', async () => {
      const [theDefault] = await defaults('account_health');
      const response = await t.request({ method: 'DELETE', url: `/v1/accounts/attributes/${theDefault.id}`, token: owner.token });
      expect(response.status).toBe(400);
      expect((await storedRow(theDefault.id)).deleted_at).toBeNull();
    });

    it('deletes an unused value; later it is 404', async () => {
      const red = await valueOf('account_health', 'RED');
      expect((await t.request({ method: 'DELETE', url: `/v1/accounts/attributes/${red.id}`, token: owner.token })).status).toBe(204);
      expect(await valueOf('account_health', 'RED')).toBeUndefined();
      expect((await put(red.id, { value: 'CRIMSON' })).status).toBe(404);
      // The text is free again.
      const again = await t.request({ method: 'POST', url: '/v1/accounts/attributes', token: owner.token, body: { attribute: 'account_health', value: 'RED' } });
      expect(again.status).toBe(201);
    });

    it('keeps a value in use unless replaceWith moves its records, in one transaction', async () => {
      const enterprise = await valueOf('account_industry', 'FINANCE');
      const retail = await valueOf('account_industry', 'RETAIL');
      const accounts = [];
      for (const domain of ['bank-one.com', 'bank-two.com']) {
        const created = await t.request({ method: 'POST', url: '/v1/accounts', token: owner.token, body: { name: domain, primaryDomain: domain, industry: 'FINANCE' } });
        expect(created.status).toBe(201);
        accounts.push(created.body);
      }
      const refused = await t.request({ method: 'DELETE', url: `/v1/accounts/attributes/${enterprise.id}`, token: owner.token });
      expect(refused.status).toBe(409);
      expect(refused.body.message).toMatch(/used by 2 records/);
      expect((await storedRow(enterprise.id)).deleted_at).toBeNull();

      const otherAttribute = (await valueOf('account_status', 'ACTIVE')).id;
      const wrongTarget = await t.request({ method: 'DELETE', url: `/v1/accounts/attributes/${enterprise.id}?replaceWith=${otherAttribute}`, token: owner.token });
      expect(wrongTarget.status).toBe(400);
      const selfTarget = await t.request({ method: 'DELETE', url: `/v1/accounts/attributes/${enterprise.id}?replaceWith=${enterprise.id}`, token: owner.token });
      expect(selfTarget.status).toBe(400);

      const replaced = await t.request({ method: 'DELETE', url: `/v1/accounts/attributes/${enterprise.id}?replaceWith=${retail.id}`, token: owner.token });
      expect(replaced.status).toBe(204);
      for (const account of accounts) {
        const fetched = await t.request({ url: `/v1/accounts/${account.id}`, token: owner.token });
        expect(fetched.body).toMatchObject({ industryId: retail.id, industry: 'RETAIL' });
      }
      expect((await storedRow(enterprise.id)).deleted_at).not.toBeNull();
    });

    it('gives records the attribute’s current default', async () => {
      const churned = await valueOf('account_status', 'CHURNED');
      await put(churned.id, { isDefault: true });
      const created = await t.request({ method: 'POST', url: '/v1/accounts', token: owner.token, body: { name: 'Defaulted', primaryDomain: 'defaulted.io' } });
      expect(created.body).toMatchObject({ statusId: churned.id, status: 'CHURNED' });
    });
  });
}
