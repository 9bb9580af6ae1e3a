import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const SHARE_KEYS = ['uuid', 'resource_type', 'resource_uuid', 'grantee_type', 'permission', 'user', 'workspace', 'created_at', 'updated_at'];

describe.each(DIALECTS)('agent sharing on %s', (dialect) => {
  let t: TestApp;
  /** Owns workspace A, where the agents live. */
  let owner: SignedUp;
  /** A member of A. */
  let member: SignedUp;
  /** Owns workspace B; not a member of A. */
  let outsider: SignedUp;
  /** A viewer of B. */
  let outsiderViewer: SignedUp;
  /** A member of B. */
  let outsiderMember: SignedUp;
  /** In neither workspace. */
  let loner: SignedUp;
  let workspaceA: string;
  let workspaceB: string;

  const agentUrl = (id: string) => `/api/v1/agents/${id}`;
  const share = (id: string, body: unknown, token = owner.token, workspace?: string) =>
    t.request({ method: 'POST', url: `${agentUrl(id)}/share`, token, body, headers: workspace ? { 'x-workspace-id': workspace } : {} });
  const get = (id: string, token: string, workspace?: string) =>
    t.request({ url: agentUrl(id), token, headers: workspace ? { 'x-workspace-id': workspace } : {} });
  const createAgent = async (body: Record<string, unknown>, token = owner.token) => {
    const response = await t.request({ method: 'POST', url: '/api/v1/agents', token, body });
    if (response.status !== 201) throw new Error(`create failed: ${response.status} ${response.text}`);
    return response.body.data;
  };
  const addMember = async (workspace: string, token: string, user: SignedUp, role: string) => {
    const response = await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspace}/members`, token, body: { email: user.email, role } });
    if (response.status !== 201) throw new Error(`member failed: ${response.status} ${response.text}`);
  };
  const storedShares = (id: string) =>
    t.ctx.db.kysely.selectFrom('shares').selectAll().where('resource_id', '=', id).orderBy('created_at').orderBy('id').execute();

  beforeAll(async () => {
    t = await createTestApp(dialect);
    owner = await t.signUp();
    member = await t.signUp();
    outsider = await t.signUp();
    outsiderViewer = await t.signUp();
    outsiderMember = await t.signUp();
    loner = await t.signUp();
    workspaceA = owner.user.primary_workspace.uuid;
    workspaceB = outsider.user.primary_workspace.uuid;
    await addMember(workspaceA, owner.token, member, 'member');
    await addMember(workspaceB, outsider.token, outsiderViewer, 'viewer');
    await addMember(workspaceB, outsider.token, outsiderMember, 'member');
    // The owner of A belongs to B too, so they may share with B.
    await addMember(workspaceB, outsider.token, owner, 'member');
  });
  afterAll(() => t.close());

  it('shares with a user by email, who then sees and uses it per the permission', async () => {
    const agent = await createAgent({ name: 'Shared by email', visibility: 'private' });
    expect((await get(agent.uuid, outsider.token)).status).toBe(404);

    const response = await share(agent.uuid, { users: [{ email: outsider.email.toUpperCase(), permission: 'view' }] });

    expect(response.status).toBe(200);
    expect(response.body.data).toHaveLength(1);
    const grant = response.body.data[0];
    expect(Object.keys(grant)).toEqual(SHARE_KEYS);
    expect(grant).toMatchObject({
      resource_type: 'agent',
      resource_uuid: agent.uuid,
      grantee_type: 'user',
      permission: 'view',
      user: { id: outsider.user.id, email: outsider.email, primary_workspace: {} },
      workspace: null,
    });
    const rows = await storedShares(agent.uuid);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ workspace_id: workspaceA, grantee_user_id: outsider.user.id, permission: 'view', user_id: owner.user.id });

    const seen = await get(agent.uuid, outsider.token);
    expect(seen.status).toBe(200);
    expect(seen.body.data).toMatchObject({ permission: 'view', is_owner: false, workspace_uuid: workspaceA });
    const edit = await t.request({ method: 'PUT', url: agentUrl(agent.uuid), token: outsider.token, body: { name: 'Hijacked' } });
    expect(edit.status).toBe(403);

    const shared = await t.request({ url: '/api/v1/agents?filter[source]=shared', token: outsider.token });
    expect(shared.body.data.map((a: { uuid: string }) => a.uuid)).toEqual([agent.uuid]);
    const own = await t.request({ url: '/api/v1/agents?filter[source]=workspace', token: outsider.token });
    expect(own.body.data.map((a: { uuid: string }) => a.uuid)).not.toContain(agent.uuid);
    const all = await t.request({ url: '/api/v1/agents', token: outsider.token });
    expect(all.body.data.map((a: { uuid: string }) => a.uuid)).toContain(agent.uuid);
    // A user grant follows the user into any workspace they act in.
    const fromB = await get(agent.uuid, outsider.token, workspaceB);
    expect(fromB.body.data.permission).toBe('view');

    // Granting again changes the permission; still one row.
    const upgrade = await share(agent.uuid, { users: [{ email: outsider.email, permission: 'edit' }] });
    expect(upgrade.body.data).toHaveLength(1);
    expect(upgrade.body.data[0]).toMatchObject({ permission: 'edit', uuid: grant.uuid });
    expect(await storedShares(agent.uuid)).toHaveLength(1);

    const renamed = await t.request({ method: 'PUT', url: agentUrl(agent.uuid), token: outsider.token, body: { name: 'Renamed by grantee' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.data).toMatchObject({ name: 'Renamed by grantee', permission: 'edit' });
    // `edit` is not management: visibility, sharing and deleting stay with the creator and admins.
    const visibility = await t.request({ method: 'PUT', url: agentUrl(agent.uuid), token: outsider.token, body: { visibility: 'public' } });
    expect(visibility.status).toBe(403);
    expect((await share(agent.uuid, { public: 'run' }, outsider.token)).status).toBe(403);
    expect((await t.request({ method: 'DELETE', url: agentUrl(agent.uuid), token: outsider.token })).status).toBe(403);
    expect((await t.request({ url: `${agentUrl(agent.uuid)}/shares`, token: outsider.token })).status).toBe(403);
  });

  it('grants a workspace: its members acting there, viewers at most view', async () => {
    const agent = await createAgent({ name: 'Shared with B', visibility: 'private' });

    const response = await share(agent.uuid, { workspaces: [{ workspace_uuid: workspaceB, permission: 'edit' }] });

    expect(response.status).toBe(200);
    expect(response.body.data[0]).toMatchObject({
      grantee_type: 'workspace',
      permission: 'edit',
      user: null,
      workspace: { uuid: workspaceB, is_owner: false, user: {} },
    });
    expect((await get(agent.uuid, outsiderMember.token, workspaceB)).body.data.permission).toBe('edit');
    expect((await get(agent.uuid, outsiderViewer.token, workspaceB)).body.data.permission).toBe('view');
    const viewerEdit = await t.request({
      method: 'PUT',
      url: agentUrl(agent.uuid),
      token: outsiderViewer.token,
      headers: { 'x-workspace-id': workspaceB },
      body: { name: 'Viewer edit' },
    });
    expect(viewerEdit.status).toBe(403);
    // Acting in their own primary workspace, B's grant does not reach them.
    expect((await get(agent.uuid, outsiderMember.token, outsiderMember.user.primary_workspace.uuid)).status).toBe(404);
    const shared = await t.request({ url: '/api/v1/agents?filter[source]=shared', token: outsiderViewer.token, headers: { 'x-workspace-id': workspaceB } });
    expect(shared.body.data.map((a: { uuid: string }) => a.uuid)).toContain(agent.uuid);
  });

  it('makes an agent public by a grant or by its visibility', async () => {
    const granted = await createAgent({ name: 'Public by grant', visibility: 'private' });
    const visible = await createAgent({ name: 'Public by visibility', visibility: 'public' });

    const response = await share(granted.uuid, { public: 'view' });
    expect(response.body.data[0]).toMatchObject({ grantee_type: 'public', permission: 'view', user: null, workspace: null });

    expect((await get(granted.uuid, loner.token)).body.data.permission).toBe('view');
    expect((await get(visible.uuid, loner.token)).body.data.permission).toBe('run');
    const listed = await t.request({ url: '/api/v1/agents?filter[source]=public&per_page=100', token: loner.token });
    const ids = listed.body.data.map((a: { uuid: string }) => a.uuid);
    expect(ids).toEqual(expect.arrayContaining([granted.uuid, visible.uuid]));
    // Public agents of other workspaces are not "workspace" or "shared" ones.
    const defaults = await t.request({ url: '/api/v1/agents?per_page=100', token: loner.token });
    expect(defaults.body.data.map((a: { uuid: string }) => a.uuid)).not.toContain(granted.uuid);

    const run = await share(granted.uuid, { public: 'run' });
    expect(run.body.data[0].permission).toBe('run');
    expect((await get(granted.uuid, loner.token)).body.data.permission).toBe('run');

    const removed = await share(granted.uuid, { public: null });
    expect(removed.status).toBe(200);
    expect(removed.body.data).toEqual([]);
    expect((await get(granted.uuid, loner.token)).status).toBe(404);

    const noEdit = await share(granted.uuid, { public: 'edit' });
    expect(noEdit.status).toBe(422);
    expect(noEdit.body.errors).toEqual({ public: ['The selected public is invalid.'] });
  });

  it('validates grantees, naming each field, and writes nothing on failure', async () => {
    const agent = await createAgent({ name: 'Validated' });
    const cases: Array<[unknown, unknown]> = [
      [{}, { users: ['The users field is required when none of workspaces / public are present.'] }],
      [{ users: [{ email: 'nobody@example.test', permission: 'view' }] }, { 'users.0.email': ['The selected users.0.email is invalid.'] }],
      [{ users: [{ email: owner.email, permission: 'run' }] }, { 'users.0.email': [expect.stringMatching(/creator/)] }],
      [
        { users: [{ email: outsider.email, permission: 'run' }, { email: outsider.email, permission: 'view' }] },
        { 'users.1.email': ['The users.1.email field has a duplicate value.'] },
      ],
      [
        { workspaces: [{ workspace_uuid: loner.user.primary_workspace.uuid, permission: 'view' }] },
        { 'workspaces.0.workspace_uuid': ['The selected workspaces.0.workspace uuid is invalid.'] },
      ],
      [
        { workspaces: [{ workspace_uuid: '0198ffff-0000-7000-8000-000000000000', permission: 'view' }] },
        { 'workspaces.0.workspace_uuid': ['The selected workspaces.0.workspace uuid is invalid.'] },
      ],
      [{ users: [{ email: outsider.email, permission: 'admin' }] }, { 'users.0.permission': ['The selected users.0.permission is invalid.'] }],
      [{ users: [{ email: 'not-an-email', permission: 'view' }] }, { 'users.0.email': ['The users.0.email field must be a valid email address.'] }],
      [{ everyone: true }, { everyone: ['The everyone field is prohibited.'] }],
    ];
    for (const [body, errors] of cases) {
      const response = await share(agent.uuid, body);
      expect(response.status, JSON.stringify(body)).toBe(422);
      expect(response.body.errors, JSON.stringify(body)).toEqual(errors);
    }
    // One bad grantee refuses the whole request.
    const mixed = await share(agent.uuid, {
      users: [{ email: outsider.email, permission: 'run' }],
      workspaces: [{ workspace_uuid: loner.user.primary_workspace.uuid, permission: 'view' }],
    });
    expect(mixed.status).toBe(422);
    expect(await storedShares(agent.uuid)).toEqual([]);
  });

  it('lets only the creator and admins share: 403 for members, 404 for those who cannot see it', async () => {
    const agent = await createAgent({ name: 'Team agent', visibility: 'workspace' });
    const byMember = await share(agent.uuid, { users: [{ email: loner.email, permission: 'view' }] }, member.token, workspaceA);
    expect(byMember.status).toBe(403);
    const byStranger = await share(agent.uuid, { users: [{ email: loner.email, permission: 'view' }] }, loner.token);
    expect(byStranger.status).toBe(404);
    expect(await storedShares(agent.uuid)).toEqual([]);
  });

  it('lists grants as a page and revokes one', async () => {
    const agent = await createAgent({ name: 'Revocable' });
    const granted = await share(agent.uuid, {
      users: [{ email: outsider.email, permission: 'run' }, { email: loner.email, permission: 'view' }],
      public: 'view',
    });
    expect(granted.body.data.map((s: { grantee_type: string }) => s.grantee_type)).toEqual(['user', 'user', 'public']);

    const list = await t.request({ url: `${agentUrl(agent.uuid)}/shares?per_page=2`, token: owner.token });
    expect(list.status).toBe(200);
    expect(list.body.meta).toMatchObject({ total: 3, per_page: 2, last_page: 2 });
    expect(list.body.data).toHaveLength(2);
    const users = await t.request({ url: `${agentUrl(agent.uuid)}/shares?filter[grantee_type]=user`, token: owner.token });
    expect(users.body.data.map((s: { user: { id: number } }) => s.user.id)).toEqual([outsider.user.id, loner.user.id]);

    const outsiderGrant = granted.body.data[0];
    const revoked = await t.request({ method: 'DELETE', url: `${agentUrl(agent.uuid)}/shares/${outsiderGrant.uuid}`, token: owner.token });
    expect(revoked.status).toBe(204);
    expect((await storedShares(agent.uuid)).map((s) => s.id)).not.toContain(outsiderGrant.uuid);
    // The public view grant remains, so the outsider now only views it.
    expect((await get(agent.uuid, outsider.token)).body.data.permission).toBe('view');

    const again = await t.request({ method: 'DELETE', url: `${agentUrl(agent.uuid)}/shares/${outsiderGrant.uuid}`, token: owner.token });
    expect(again.status).toBe(404);
    // A grant of another agent is not found through this one.
    const other = await createAgent({ name: 'Other' });
    const otherGrant = (await share(other.uuid, { users: [{ email: loner.email, permission: 'view' }] })).body.data[0];
    const crossed = await t.request({ method: 'DELETE', url: `${agentUrl(agent.uuid)}/shares/${otherGrant.uuid}`, token: owner.token });
    expect(crossed.status).toBe(404);
    expect(await storedShares(other.uuid)).toHaveLength(1);
  });

  it('documents the share routes and the Share schema', async () => {
    const document = (await t.request({ url: '/openapi.json' })).body;
    expect(document.components.schemas).toHaveProperty('Share');
    expect(document.components.schemas).toHaveProperty('Agent');
    const shareOp = document.paths['/api/v1/agents/{agent_uuid}/share'].post;
    expect(shareOp.operationId).toBe('shareAgent');
    expect(shareOp.responses['200'].content['application/json'].schema.properties.data.items).toEqual({ $ref: '#/components/schemas/Share' });
  });
});
