import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { countRows, createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const USER_KEYS = ['id', 'name', 'first_name', 'last_name', 'email', 'profile_photo_url', 'multiplai_id', 'created_at', 'updated_at', 'primary_workspace'];
const WORKSPACE_KEYS = ['uuid', 'slug', 'name', 'profile_photo_url', 'multiplai_id', 'is_onboarded', 'metadata', 'is_owner', 'created_at', 'updated_at', 'user'];
const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe.each(DIALECTS)('workspaces on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let other: SignedUp;

  beforeAll(async () => {
    t = await createTestApp(dialect);
    owner = await t.signUp({ name: 'Olive Owner', email: 'olive@example.test' });
    other = await t.signUp({ name: 'Otto Other', email: 'otto@example.test' });
  });
  afterAll(() => t.close());

  const create = (token: string, body: Record<string, unknown>) => t.request({ method: 'POST', url: '/api/v1/workspaces', token, body });

  describe('shapes', () => {
    it('nests User and Workspace exactly one level, as seed 004 does', async () => {
      const me = await t.request({ url: '/api/v1/user', token: owner.token });
      const user = me.body.data;
      expect(Object.keys(user).sort()).toEqual([...USER_KEYS].sort());
      expect(Object.keys(user.primary_workspace).sort()).toEqual([...WORKSPACE_KEYS].sort());
      expect(user.primary_workspace.user).toEqual({});
      expect(user.created_at).toMatch(ISO_MILLIS);

      const workspace = await t.request({ url: `/api/v1/workspaces/${user.primary_workspace.uuid}`, token: owner.token });
      expect(Object.keys(workspace.body.data).sort()).toEqual([...WORKSPACE_KEYS].sort());
      expect(Object.keys(workspace.body.data.user).sort()).toEqual([...USER_KEYS].sort());
      expect(workspace.body.data.user.primary_workspace).toEqual({});
      expect(workspace.body.data.user.id).toBe(user.id);
    });
  });

  describe('CRUD', () => {
    it('creates a workspace the caller owns, with a slug from its name', async () => {
      const response = await create(owner.token, { name: 'Research Lab', metadata: { onboarding_step: 2, industry: 'science' } });

      expect(response.status).toBe(201);
      expect(response.body.data).toMatchObject({
        name: 'Research Lab',
        slug: 'research-lab',
        is_owner: true,
        is_onboarded: false,
        metadata: { onboarding_step: 2, industry: 'science' },
      });
      const stored = await t.ctx.db.kysely.selectFrom('workspace_members').selectAll().where('workspace_id', '=', response.body.data.uuid).execute();
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ user_id: owner.user.id, role: 'owner' });
    });

    it('refuses a taken slug with 422 and writes nothing', async () => {
      await create(owner.token, { name: 'Taken', slug: 'taken-slug' });
      const before = await countRows(t, 'workspaces');

      const response = await create(other.token, { name: 'Mine', slug: 'taken-slug' });

      expect(response.status).toBe(422);
      expect(response.body.errors).toEqual({ slug: ['The slug has already been taken.'] });
      expect(await countRows(t, 'workspaces')).toBe(before);
    });

    it('rejects wrong types and unknown fields with 422 naming them', async () => {
      const before = await countRows(t, 'workspaces');
      const response = await create(owner.token, { name: 42, colour: 'blue', slug: 'Not A Slug' });

      expect(response.status).toBe(422);
      expect(Object.keys(response.body.errors).sort()).toEqual(['colour', 'name', 'slug']);
      expect(await countRows(t, 'workspaces')).toBe(before);
    });

    it('lists only the caller’s workspaces as a Laravel page, with search, sort and role filter', async () => {
      await create(other.token, { name: 'Otto Secret' });
      const page = await t.request({ url: '/api/v1/workspaces?per_page=2&sort=name', token: owner.token });

      expect(page.status).toBe(200);
      expect(page.body.data).toHaveLength(2);
      expect(page.body.meta).toMatchObject({ current_page: 1, per_page: 2 });
      expect(page.body.meta.total).toBeGreaterThanOrEqual(3);
      expect(page.body.links.next).toContain('page=2');
      const names = page.body.data.map((w: { name: string }) => w.name);
      expect(names).toEqual([...names].sort());

      const all = await t.request({ url: '/api/v1/workspaces?per_page=100', token: owner.token });
      expect(all.body.data.some((w: { name: string }) => w.name === 'Otto Secret')).toBe(false);

      const searched = await t.request({ url: '/api/v1/workspaces?search=research', token: owner.token });
      expect(searched.body.data.map((w: { name: string }) => w.name)).toEqual(['Research Lab']);

      const asViewer = await t.request({ url: '/api/v1/workspaces?filter[role]=viewer', token: owner.token });
      expect(asViewer.status, asViewer.text).toBe(200);
      expect(asViewer.body.data).toEqual([]);
      expect(asViewer.body.links.first).toContain('filter%5Brole%5D=viewer');
    });

    it('pages with a cursor too', async () => {
      const first = await t.request({ url: '/api/v1/workspaces?per_page=1&cursor=', token: owner.token });
      expect(first.status).toBe(200);
      expect(first.body.data).toHaveLength(1);
      const next = first.body.meta.next_cursor;
      expect(typeof next).toBe('string');

      const second = await t.request({ url: `/api/v1/workspaces?per_page=1&cursor=${encodeURIComponent(next)}`, token: owner.token });
      expect(second.status).toBe(200);
      expect(second.body.data[0].uuid).not.toBe(first.body.data[0].uuid);
    });

    it('updates for owners only; others get 403, non-members 404', async () => {
      const ws = (await create(owner.token, { name: 'Editable' })).body.data;
      await t.request({ method: 'POST', url: `/api/v1/workspaces/${ws.uuid}/members`, token: owner.token, body: { email: other.email, role: 'admin' } });

      const asAdmin = await t.request({ method: 'PUT', url: `/api/v1/workspaces/${ws.uuid}`, token: other.token, body: { name: 'Hijacked' } });
      expect(asAdmin.status).toBe(403);

      const stranger = await t.signUp();
      const asStranger = await t.request({ method: 'PUT', url: `/api/v1/workspaces/${ws.uuid}`, token: stranger.token, body: { name: 'Hijacked' } });
      expect(asStranger.status).toBe(404);
      expect(asStranger.body).toEqual({ message: 'Resource not found.' });

      const updated = await t.request({
        method: 'PUT',
        url: `/api/v1/workspaces/${ws.uuid}`,
        token: owner.token,
        body: { name: 'Edited', is_onboarded: true, metadata: { onboarding_step: 5 } },
      });
      expect(updated.status).toBe(200);
      expect(updated.body.data).toMatchObject({ name: 'Edited', slug: 'editable', is_onboarded: true, metadata: { onboarding_step: 5 } });
      const row = await t.ctx.db.kysely.selectFrom('workspaces').select('name').where('id', '=', ws.uuid).executeTakeFirstOrThrow();
      expect(row.name).toBe('Edited');
    });

    it('answers 404 for an unknown or malformed uuid', async () => {
      const unknown = await t.request({ url: '/api/v1/workspaces/0190a0a0-0000-7000-8000-000000000000', token: owner.token });
      expect(unknown.status).toBe(404);
      const malformed = await t.request({ url: '/api/v1/workspaces/not-a-uuid', token: owner.token });
      expect(malformed.status).toBe(404);
    });

    it('deletes a workspace with its memberships, but never a primary one', async () => {
      const ws = (await create(owner.token, { name: 'Doomed' })).body.data;
      await t.request({ method: 'POST', url: `/api/v1/workspaces/${ws.uuid}/members`, token: owner.token, body: { email: other.email } });

      const asMember = await t.request({ method: 'DELETE', url: `/api/v1/workspaces/${ws.uuid}`, token: other.token });
      expect(asMember.status).toBe(403);

      const deleted = await t.request({ method: 'DELETE', url: `/api/v1/workspaces/${ws.uuid}`, token: owner.token });
      expect(deleted.status).toBe(204);
      expect(await t.ctx.db.kysely.selectFrom('workspace_members').selectAll().where('workspace_id', '=', ws.uuid).execute()).toEqual([]);
      expect((await t.request({ url: `/api/v1/workspaces/${ws.uuid}`, token: owner.token })).status).toBe(404);

      const primary = await t.request({ method: 'DELETE', url: `/api/v1/workspaces/${owner.user.primary_workspace.uuid}`, token: owner.token });
      expect(primary.status).toBe(409);
      expect(primary.body.message).toBe('A primary workspace cannot be deleted.');
    });
  });

  describe('members and roles', () => {
    let ws: { uuid: string };
    let admin: SignedUp;
    let member: SignedUp;
    let viewer: SignedUp;

    beforeAll(async () => {
      ws = (await create(owner.token, { name: 'Team' })).body.data;
      admin = await t.signUp({ email: 'admin@example.test' });
      member = await t.signUp({ email: 'member@example.test' });
      viewer = await t.signUp({ email: 'viewer@example.test' });
    });

    const members = (token: string) => t.request({ url: `/api/v1/workspaces/${ws.uuid}/members?per_page=50`, token });
    const add = (token: string, body: Record<string, unknown>) =>
      t.request({ method: 'POST', url: `/api/v1/workspaces/${ws.uuid}/members`, token, body });
    const setRole = (token: string, userId: number, role: string) =>
      t.request({ method: 'PUT', url: `/api/v1/workspaces/${ws.uuid}/members/${userId}`, token, body: { role } });
    const remove = (token: string, userId: number) =>
      t.request({ method: 'DELETE', url: `/api/v1/workspaces/${ws.uuid}/members/${userId}`, token });

    it('adds members by email or id with a role; admins may not add owners', async () => {
      expect((await add(owner.token, { email: admin.email, role: 'admin' })).status).toBe(201);
      const byId = await add(admin.token, { user_id: member.user.id });
      expect(byId.status).toBe(201);
      expect(byId.body.data).toMatchObject({ role: 'member', user: { id: member.user.id, primary_workspace: {} } });
      expect((await add(admin.token, { email: viewer.email, role: 'viewer' })).status).toBe(201);

      const ownerByAdmin = await add(admin.token, { email: other.email, role: 'owner' });
      expect(ownerByAdmin.status).toBe(403);

      const list = await members(viewer.token);
      expect(list.status).toBe(200);
      expect(list.body.data.map((m: { role: string }) => m.role).sort()).toEqual(['admin', 'member', 'owner', 'viewer']);
    });

    it('refuses duplicates (409), unknown users (422) and members or viewers managing members (403)', async () => {
      const before = await countRows(t, 'workspace_members');
      expect((await add(owner.token, { email: member.email })).status).toBe(409);
      const unknown = await add(owner.token, { email: 'nobody@example.test' });
      expect(unknown.status).toBe(422);
      expect(unknown.body.errors).toEqual({ email: ['The selected email is invalid.'] });
      expect((await add(owner.token, {})).status).toBe(422);
      expect((await add(member.token, { email: other.email })).status).toBe(403);
      expect((await add(viewer.token, { email: other.email })).status).toBe(403);
      expect(await countRows(t, 'workspace_members')).toBe(before);
    });

    it('changes roles; only owners grant ownership, and the last owner stays one', async () => {
      expect((await setRole(admin.token, member.user.id, 'owner')).status).toBe(403);
      expect((await setRole(member.token, viewer.user.id, 'member')).status).toBe(403);

      const demoted = await setRole(admin.token, viewer.user.id, 'member');
      expect(demoted.status).toBe(200);
      expect(demoted.body.data.role).toBe('member');
      expect((await setRole(admin.token, viewer.user.id, 'viewer')).status).toBe(200);

      const lastOwner = await setRole(owner.token, owner.user.id, 'admin');
      expect(lastOwner.status).toBe(409);
      expect(lastOwner.body.message).toBe('A workspace must keep at least one owner.');

      expect((await setRole(owner.token, 999_999, 'member')).status).toBe(404);
    });

    it('hands the workspace’s `user` to another owner when its owner steps down', async () => {
      expect((await setRole(owner.token, admin.user.id, 'owner')).status).toBe(200);
      expect((await setRole(owner.token, owner.user.id, 'admin')).status).toBe(200);

      const workspace = await t.request({ url: `/api/v1/workspaces/${ws.uuid}`, token: owner.token });
      expect(workspace.body.data.user.id).toBe(admin.user.id);
      expect(workspace.body.data.is_owner).toBe(false);

      // The new owner restores the original one.
      expect((await setRole(admin.token, owner.user.id, 'owner')).status).toBe(200);
      expect((await setRole(owner.token, admin.user.id, 'admin')).status).toBe(200);
    });

    it('lets the last owners’ concurrent demotions leave exactly one owner', async () => {
      expect((await setRole(owner.token, admin.user.id, 'owner')).status).toBe(200);
      const [a, b] = await Promise.all([setRole(owner.token, owner.user.id, 'admin'), setRole(admin.token, admin.user.id, 'admin')]);

      expect([a.status, b.status].sort()).toEqual([200, 409]);
      const owners = await t.ctx.db.kysely
        .selectFrom('workspace_members')
        .select('user_id')
        .where('workspace_id', '=', ws.uuid)
        .where('role', '=', 'owner')
        .execute();
      expect(owners).toHaveLength(1);
      // Restore: whoever is owner makes the original owner the owner again.
      const remaining = owners[0]!.user_id === owner.user.id ? owner : admin;
      await setRole(remaining.token, owner.user.id, 'owner');
      await setRole(owner.token, admin.user.id, 'admin');
    });

    it('removes members; anyone may leave, but not their primary workspace', async () => {
      expect((await remove(member.token, viewer.user.id)).status).toBe(403);
      expect((await remove(viewer.token, viewer.user.id)).status).toBe(204);
      expect((await members(viewer.token)).status).toBe(404);

      expect((await remove(admin.token, member.user.id)).status).toBe(204);
      const memberships = await t.ctx.db.kysely.selectFrom('workspace_members').select('user_id').where('workspace_id', '=', ws.uuid).execute();
      expect(memberships.map((m) => m.user_id).sort()).toEqual([owner.user.id, admin.user.id].sort());

      const primary = owner.user.primary_workspace.uuid;
      const leavePrimary = await t.request({ method: 'DELETE', url: `/api/v1/workspaces/${primary}/members/${owner.user.id}`, token: owner.token });
      expect(leavePrimary.status).toBe(409);
    });
  });

  describe('metrics and X-Workspace-Id', () => {
    it('counts members per workspace the caller belongs to, with totals', async () => {
      const fresh = await t.signUp();
      const ws = (await create(fresh.token, { name: 'Counted' })).body.data;
      await t.request({ method: 'POST', url: `/api/v1/workspaces/${ws.uuid}/members`, token: fresh.token, body: { email: other.email } });

      const metrics = await t.request({ url: '/api/v1/workspaces/metrics', token: fresh.token });

      expect(metrics.status).toBe(200);
      const counted = metrics.body.data.find((d: { workspace: { uuid: string } }) => d.workspace.uuid === ws.uuid);
      expect(counted.counts.members).toBe(2);
      expect(metrics.body.data).toHaveLength(2);
      expect(metrics.body.totals.members).toBe(3);
    });

    it('narrows to the workspace X-Workspace-Id names, and hides workspaces the caller is not in', async () => {
      const fresh = await t.signUp();
      const ws = (await create(fresh.token, { name: 'Scoped' })).body.data;

      const scoped = await t.request({ url: '/api/v1/workspaces/metrics', token: fresh.token, headers: { 'x-workspace-id': ws.uuid } });
      expect(scoped.status).toBe(200);
      expect(scoped.body.data.map((d: { workspace: { uuid: string } }) => d.workspace.uuid)).toEqual([ws.uuid]);

      const foreign = await t.request({ url: '/api/v1/workspaces/metrics', token: other.token, headers: { 'x-workspace-id': ws.uuid } });
      expect(foreign.status).toBe(404);
      const garbage = await t.request({ url: '/api/v1/workspaces/metrics', token: other.token, headers: { 'x-workspace-id': 'nope' } });
      expect(garbage.status).toBe(404);
    });
  });
});
