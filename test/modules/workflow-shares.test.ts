import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';
import { createWorkflow } from '../helpers/workflows.js';

describe.each(DIALECTS)('workflow sharing on %s', (dialect) => {
  let t: TestApp;
  /** Owns workspace A, where the workflows live. */
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

  const url = (id: string) => `/api/v1/workflows/${id}`;
  const headers = (workspace?: string): Record<string, string> => (workspace ? { 'x-workspace-id': workspace } : {});
  const share = (id: string, body: unknown, token = owner.token, workspace?: string) =>
    t.request({ method: 'POST', url: `${url(id)}/share`, token, body, headers: headers(workspace) });
  const get = (id: string, token: string, workspace?: string) => t.request({ url: url(id), token, headers: headers(workspace) });
  const put = (id: string, token: string, body: Record<string, unknown>, workspace?: string) =>
    t.request({ method: 'PUT', url: url(id), token, body, headers: headers(workspace) });
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
    const workflow = await createWorkflow(t, owner.token, { name: 'Shared by email' });
    expect((await get(workflow.uuid, outsider.token)).status).toBe(404);

    const response = await share(workflow.uuid, { users: [{ email: outsider.email.toUpperCase(), permission: 'run' }] });

    expect(response.status).toBe(200);
    expect(response.body.data).toHaveLength(1);
    const grant = response.body.data[0];
    expect(grant).toMatchObject({
      resource_type: 'workflow',
      resource_uuid: workflow.uuid,
      grantee_type: 'user',
      permission: 'run',
      user: { id: outsider.user.id, email: outsider.email, primary_workspace: {} },
      workspace: null,
    });
    const rows = await storedShares(workflow.uuid);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ workspace_id: workspaceA, resource_type: 'workflow', grantee_user_id: outsider.user.id, user_id: owner.user.id });

    // `run` sees the workflow, not its webhook secret, and may not change it.
    const seen = await get(workflow.uuid, outsider.token);
    expect(seen.status).toBe(200);
    expect(seen.body.data).toMatchObject({
      permission: 'run',
      is_owner: false,
      webhook_url: null,
      webhook_secret: null,
      workspace: { uuid: workspaceA, is_owner: false, user: {} },
      user: { id: owner.user.id },
    });
    expect((await put(workflow.uuid, outsider.token, { name: 'Hijacked' })).status).toBe(403);
    expect((await t.request({ method: 'POST', url: `${url(workflow.uuid)}/webhook-secret`, token: outsider.token })).status).toBe(403);

    const shared = await t.request({ url: '/api/v1/workflows?filter[source]=shared', token: outsider.token });
    expect(shared.body.data.map((w: { uuid: string }) => w.uuid)).toEqual([workflow.uuid]);
    const own = await t.request({ url: '/api/v1/workflows?filter[source]=workspace', token: outsider.token });
    expect(own.body.data.map((w: { uuid: string }) => w.uuid)).not.toContain(workflow.uuid);

    // `edit` shows the webhook URL and allows changes, but not management.
    const upgrade = await share(workflow.uuid, { users: [{ email: outsider.email, permission: 'edit' }] });
    expect(upgrade.body.data).toHaveLength(1);
    expect(upgrade.body.data[0]).toMatchObject({ permission: 'edit', uuid: grant.uuid });
    const asEditor = await get(workflow.uuid, outsider.token);
    expect(asEditor.body.data).toMatchObject({ permission: 'edit', webhook_secret: workflow.webhook_secret });
    expect(asEditor.body.data.webhook_url).toContain(`/api/v1/workflows/${workflow.uuid}/webhook?secret=${workflow.webhook_secret}`);
    const renamed = await put(workflow.uuid, outsider.token, { name: 'Renamed by grantee' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.data).toMatchObject({ name: 'Renamed by grantee', permission: 'edit', version: 2 });
    expect((await put(workflow.uuid, outsider.token, { visibility: 'public' })).status).toBe(403);
    expect((await share(workflow.uuid, { public: 'run' }, outsider.token)).status).toBe(403);
    expect((await t.request({ method: 'DELETE', url: url(workflow.uuid), token: outsider.token })).status).toBe(403);
    expect((await t.request({ url: `${url(workflow.uuid)}/shares`, token: outsider.token })).status).toBe(403);
  });

  it('grants a workspace: its members acting there, viewers at most view', async () => {
    const workflow = await createWorkflow(t, owner.token, { name: 'Shared with B' });

    const response = await share(workflow.uuid, { workspaces: [{ workspace_uuid: workspaceB, permission: 'edit' }] });

    expect(response.status).toBe(200);
    expect(response.body.data[0]).toMatchObject({ grantee_type: 'workspace', permission: 'edit', workspace: { uuid: workspaceB } });
    expect((await get(workflow.uuid, outsiderMember.token, workspaceB)).body.data.permission).toBe('edit');
    const asViewer = await get(workflow.uuid, outsiderViewer.token, workspaceB);
    expect(asViewer.body.data).toMatchObject({ permission: 'view', webhook_url: null });
    expect((await put(workflow.uuid, outsiderViewer.token, { name: 'Viewer edit' }, workspaceB)).status).toBe(403);
    // Acting in their own primary workspace, B's grant does not reach them.
    expect((await get(workflow.uuid, outsiderMember.token, outsiderMember.user.primary_workspace.uuid)).status).toBe(404);
  });

  it('makes a workflow public, lists and revokes grants', async () => {
    const workflow = await createWorkflow(t, owner.token, { name: 'Public one' });
    expect((await share(workflow.uuid, { public: 'edit' })).status).toBe(422);

    await share(workflow.uuid, { public: 'view', users: [{ email: loner.email, permission: 'run' }] });
    expect((await get(workflow.uuid, outsiderMember.token)).body.data.permission).toBe('view');
    expect((await get(workflow.uuid, loner.token)).body.data.permission).toBe('run');
    const publicList = await t.request({ url: '/api/v1/workflows?filter[source]=public', token: outsiderMember.token });
    expect(publicList.body.data.map((w: { uuid: string }) => w.uuid)).toContain(workflow.uuid);

    const list = await t.request({ url: `${url(workflow.uuid)}/shares?filter[grantee_type]=user`, token: owner.token });
    expect(list.status).toBe(200);
    expect(list.body.meta.total).toBe(1);
    const userGrant = list.body.data[0];
    expect(userGrant).toMatchObject({ grantee_type: 'user', user: { id: loner.user.id } });

    const revoked = await t.request({ method: 'DELETE', url: `${url(workflow.uuid)}/shares/${userGrant.uuid}`, token: owner.token });
    expect(revoked.status).toBe(204);
    // The public grant still lets them see it, nothing more.
    expect((await get(workflow.uuid, loner.token)).body.data.permission).toBe('view');
    const again = await t.request({ method: 'DELETE', url: `${url(workflow.uuid)}/shares/${userGrant.uuid}`, token: owner.token });
    expect(again.status).toBe(404);

    await share(workflow.uuid, { public: null });
    expect((await get(workflow.uuid, loner.token)).status).toBe(404);
  });

  it('lets a member of the workflow’s workspace run a workspace workflow but not share it', async () => {
    const workflow = await createWorkflow(t, owner.token, { name: 'Team flow', visibility: 'workspace' });
    expect((await get(workflow.uuid, member.token, workspaceA)).body.data.permission).toBe('run');
    expect((await share(workflow.uuid, { public: 'run' }, member.token, workspaceA)).status).toBe(403);
    // Acting in their own workspace, the member does not see it.
    expect((await get(workflow.uuid, member.token)).status).toBe(404);
  });

  it('removes the grants with the workflow', async () => {
    const workflow = await createWorkflow(t, owner.token, { name: 'Short-lived' });
    await share(workflow.uuid, { users: [{ email: loner.email, permission: 'edit' }], workspaces: [{ workspace_uuid: workspaceB, permission: 'run' }] });
    expect(await storedShares(workflow.uuid)).toHaveLength(2);

    const deleted = await t.request({ method: 'DELETE', url: url(workflow.uuid), token: owner.token });

    expect(deleted.status).toBe(204);
    expect(await storedShares(workflow.uuid)).toEqual([]);
    expect((await get(workflow.uuid, loner.token)).status).toBe(404);
  });
});
