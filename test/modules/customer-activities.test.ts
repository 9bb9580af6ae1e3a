import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type RequestOptions, type SignedUp, type TestApp } from '../helpers/test-app.js';

const ACTIVITY_KEYS = [
  'id', 'accountId', 'account', 'activityTimestamp', 'duration', 'location', 'title', 'description',
  'typeId', 'type', 'typeConfiguration', 'statusId', 'status', 'statusConfiguration',
  'participants', 'creatorId', 'creator', 'creatorEmail', 'attachments', 'metadata', 'createdAt', 'updatedAt',
].sort();

for (const dialect of DIALECTS) {
  describe(`customer activities (${dialect})`, () => {
    let t: TestApp;
    let owner: SignedUp;
    let viewer: SignedUp;
    let stranger: SignedUp;
    let workspaceId: string;
    let accountId: string;

    /** A request in the shared workspace. */
    const call = (user: SignedUp, options: RequestOptions) =>
      t.request({ ...options, token: user.token, headers: { 'x-org-id': workspaceId, ...options.headers } });
    const createActivity = (body: unknown, user = owner) => call(user, { method: 'POST', url: '/v1/accounts/activities', body });
    const list = (query: string, user = owner) => call(user, { url: `/v1/accounts/activities?${query}` });
    const createAccount = async (name: string, domain: string) => {
      const response = await call(owner, { method: 'POST', url: '/v1/accounts', body: { name, primaryDomain: domain } });
      expect(response.status, response.text).toBe(201);
      return response.body.id as string;
    };

    beforeAll(async () => {
      t = await createTestApp(dialect);
      owner = await t.signUp();
      viewer = await t.signUp();
      stranger = await t.signUp();
      const workspace = await t.request({ method: 'POST', url: '/api/v1/workspaces', token: owner.token, body: { name: 'Activities' } });
      workspaceId = workspace.body.data.uuid;
      const added = await t.request({
        method: 'POST',
        url: `/api/v1/workspaces/${workspaceId}/members`,
        token: owner.token,
        body: { email: viewer.email, role: 'viewer' },
      });
      expect(added.status).toBe(201);
      accountId = await createAccount('Acme Inc', 'acme.com');
    });
    afterAll(() => t.close());

    it('creates an activity with every field and lists it back', async () => {
      const response = await createActivity({
        accountId,
        activityTimestamp: '2024-01-15T10:30:00+01:00',
        duration: 45,
        location: 'Berlin',
        title: 'Kick-off',
        description: 'First meeting',
        type: 'meeting',
        status: 'COMPLETED',
        participants: ['ada@acme.com', 'Bob'],
        attachmentUrls: ['https://files.example/agenda.pdf'],
        metadata: { source: 'calendar' },
      });
      expect(response.status, response.text).toBe(201);
      expect(Object.keys(response.body).sort()).toEqual(ACTIVITY_KEYS);
      expect(response.body).toMatchObject({
        accountId,
        account: 'Acme Inc',
        activityTimestamp: '2024-01-15T09:30:00.000Z',
        duration: 45,
        location: 'Berlin',
        title: 'Kick-off',
        description: 'First meeting',
        type: 'MEETING',
        status: 'COMPLETED',
        statusConfiguration: {},
        participants: ['ada@acme.com', 'Bob'],
        creatorId: String(owner.user.id),
        creator: owner.user.name,
        creatorEmail: owner.email,
        metadata: { source: 'calendar' },
      });
      expect(response.body.attachments).toEqual([{ id: expect.any(String), url: 'https://files.example/agenda.pdf', createdAt: response.body.createdAt }]);

      const listed = await list(`accountId=${accountId}`, viewer);
      expect(listed.status).toBe(200);
      expect(listed.headers['x-total-count']).toBe('1');
      expect(listed.body).toEqual([response.body]);

      const one = await list(`activityId=${response.body.id}`);
      expect(one.body).toEqual([response.body]);
    });

    it('fills defaults, takes a type by id, and refuses unknown values and accounts with 400', async () => {
      const types = await call(owner, { url: '/v1/accounts/attributes?attribute=activity_type' });
      const email = types.body.find((v: { value: string }) => v.value === 'EMAIL');

      const defaults = await createActivity({ accountId });
      expect(defaults.status).toBe(201);
      expect(defaults.body).toMatchObject({ type: 'CALL', status: 'PENDING', participants: [], attachments: [], metadata: {}, title: null, duration: null });

      const byId = await createActivity({ accountId, type: email.id });
      expect(byId.body).toMatchObject({ typeId: email.id, type: 'EMAIL' });

      const unknownType = await createActivity({ accountId, type: 'CARRIER_PIGEON' });
      expect(unknownType.status).toBe(400);
      expect(unknownType.body.message).toEqual(['type must name a value of activity_type (its id or its text)']);

      const statusAsType = await createActivity({ accountId, type: defaults.body.statusId });
      expect(statusAsType.status).toBe(400);

      for (const bad of ['not-a-uuid', '0192f5a0-7c1e-7b3a-9d2e-6f1a2b3c4d5e']) {
        const response = await createActivity({ accountId: bad });
        expect(response.status).toBe(400);
        expect(response.body.message).toEqual(['accountId must be the id of an account']);
      }
      expect((await createActivity({ accountId, duration: -1 })).status).toBe(400);
      expect((await createActivity({ accountId, activityTimestamp: 'yesterday' })).status).toBe(400);
    });

    it('updates, replaces and removes attachments', async () => {
      const created = await createActivity({ accountId, attachmentUrls: ['https://files.example/a.pdf', 'https://files.example/b.pdf'] });
      const [a] = created.body.attachments;
      const updated = await call(owner, {
        method: 'PUT',
        url: `/v1/accounts/activities/${created.body.id}`,
        body: { title: 'Renamed', status: 'CANCELLED', attachmentUrls: ['https://files.example/a.pdf', 'https://files.example/c.pdf'] },
      });
      expect(updated.status, updated.text).toBe(200);
      expect(updated.body).toMatchObject({ title: 'Renamed', status: 'CANCELLED', type: 'CALL' });
      expect(updated.body.attachments.map((x: { url: string }) => x.url)).toEqual(['https://files.example/a.pdf', 'https://files.example/c.pdf']);
      expect(updated.body.attachments[0].id).toBe(a.id);

      const path = `/v1/accounts/activities/${created.body.id}/attachments`;
      expect((await call(owner, { method: 'DELETE', url: `${path}/${a.id}` })).status).toBe(204);
      expect((await call(owner, { method: 'DELETE', url: `${path}/${a.id}` })).status).toBe(404);
      expect((await call(owner, { method: 'DELETE', url: `${path}/nope` })).status).toBe(404);
      const after = await list(`activityId=${created.body.id}`);
      expect(after.body[0].attachments.map((x: { url: string }) => x.url)).toEqual(['https://files.example/c.pdf']);

      expect((await call(owner, { method: 'PUT', url: `/v1/accounts/activities/${created.body.id}`, body: {} })).status).toBe(400);
      expect((await call(owner, { method: 'PUT', url: `/v1/accounts/activities/${created.body.id}`, body: { type: 'NOPE' } })).status).toBe(400);
    });

    it('lets viewers read but not write', async () => {
      const created = await createActivity({ accountId });
      expect((await createActivity({ accountId }, viewer)).status).toBe(403);
      expect((await call(viewer, { method: 'PUT', url: `/v1/accounts/activities/${created.body.id}`, body: { title: 'x' } })).status).toBe(403);
      expect((await call(viewer, { method: 'DELETE', url: `/v1/accounts/activities/${created.body.id}` })).status).toBe(403);
      expect((await list(`activityId=${created.body.id}`, viewer)).status).toBe(200);
    });

    it('pages newest first with X-Total-Count', async () => {
      const paged = await createAccount('Paged', 'paged.example');
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) ids.push((await createActivity({ accountId: paged, title: `#${i}` })).body.id);
      const first = await list(`accountId=${paged}&limit=2`);
      expect(first.headers['x-total-count']).toBe('5');
      expect(first.body.map((a: { id: string }) => a.id)).toEqual([ids[4], ids[3]]);
      const last = await list(`accountId=${paged}&limit=2&page=3`);
      expect(last.body.map((a: { id: string }) => a.id)).toEqual([ids[0]]);
      expect((await list(`accountId=${paged}&limit=101`)).status).toBe(400);
    });

    it('answers 404 for other workspaces’ ids, unknown ids and non-UUIDs', async () => {
      const created = await createActivity({ accountId });
      const id = created.body.id;
      const own = (options: RequestOptions) => t.request({ ...options, token: stranger.token });
      expect((await own({ url: `/v1/accounts/activities?activityId=${id}` })).status).toBe(404);
      expect((await own({ url: `/v1/accounts/activities?accountId=${accountId}` })).status).toBe(404);
      expect((await own({ method: 'PUT', url: `/v1/accounts/activities/${id}`, body: { title: 'x' } })).status).toBe(404);
      expect((await own({ method: 'DELETE', url: `/v1/accounts/activities/${id}` })).status).toBe(404);
      expect((await own({ method: 'DELETE', url: `/v1/accounts/activities/${id}/attachments/x` })).status).toBe(404);
      expect((await own({ method: 'POST', url: '/v1/accounts/activities', body: { accountId } })).status).toBe(400);
      expect((await call(owner, { method: 'PUT', url: '/v1/accounts/activities/not-a-uuid', body: { title: 'x' } })).status).toBe(404);
      expect((await list('activityId=not-a-uuid')).status).toBe(404);
      expect((await list('accountId=not-a-uuid')).status).toBe(404);
    });

    it('deletes an activity, and an account’s deletion takes its activities along', async () => {
      const doomed = await createActivity({ accountId });
      expect((await call(owner, { method: 'DELETE', url: `/v1/accounts/activities/${doomed.body.id}` })).status).toBe(204);
      expect((await list(`activityId=${doomed.body.id}`)).status).toBe(404);
      expect((await call(owner, { method: 'DELETE', url: `/v1/accounts/activities/${doomed.body.id}` })).status).toBe(404);

      const gone = await createAccount('Gone', 'gone.example');
      const activity = await createActivity({ accountId: gone });
      expect((await call(owner, { method: 'DELETE', url: `/v1/accounts/${gone}` })).status).toBe(204);
      expect((await list(`activityId=${activity.body.id}`)).status).toBe(404);
      expect((await call(owner, { method: 'PUT', url: `/v1/accounts/activities/${activity.body.id}`, body: { title: 'x' } })).status).toBe(404);
      expect((await list(`accountId=${gone}`)).status).toBe(404);
      expect((await createActivity({ accountId: gone })).status).toBe(400);
    });
  });
}
