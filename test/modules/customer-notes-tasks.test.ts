import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type RequestOptions, type SignedUp, type TestApp } from '../helpers/test-app.js';

const NOTE_KEYS = [
  'id', 'accountId', 'account', 'content', 'typeId', 'type', 'typeConfiguration', 'visibility',
  'authorId', 'author', 'authorEmail', 'attachments', 'metadata', 'createdAt', 'updatedAt',
].sort();

const TASK_KEYS = [
  'id', 'accountId', 'account', 'title', 'description', 'activityId',
  'typeId', 'type', 'typeConfiguration', 'statusId', 'status', 'statusConfiguration', 'isClosed',
  'priorityId', 'priority', 'priorityConfiguration', 'dueDate',
  'creatorId', 'creator', 'creatorEmail', 'assigneeId', 'assignee', 'assigneeEmail',
  'attachments', 'metadata', 'createdAt', 'updatedAt',
].sort();

for (const dialect of DIALECTS) {
  describe(`customer notes and tasks (${dialect})`, () => {
    let t: TestApp;
    let owner: SignedUp;
    let admin: SignedUp;
    let member: SignedUp;
    let viewer: SignedUp;
    let stranger: SignedUp;
    let workspaceId: string;
    let accountId: string;
    let otherAccountId: string;

    /** A request in the shared workspace. */
    const call = (user: SignedUp, options: RequestOptions) =>
      t.request({ ...options, token: user.token, headers: { 'x-org-id': workspaceId, ...options.headers } });
    const createAccount = async (name: string, domain: string) => {
      const response = await call(owner, { method: 'POST', url: '/v1/accounts', body: { name, primaryDomain: domain } });
      expect(response.status, response.text).toBe(201);
      return response.body.id as string;
    };
    const attributeValue = async (attribute: string, value: string) => {
      const values = await call(owner, { url: `/v1/accounts/attributes?attribute=${attribute}` });
      return values.body.find((v: { value: string }) => v.value === value) as { id: string; value: string };
    };

    beforeAll(async () => {
      t = await createTestApp(dialect);
      owner = await t.signUp();
      admin = await t.signUp();
      member = await t.signUp();
      viewer = await t.signUp();
      stranger = await t.signUp();
      const workspace = await t.request({ method: 'POST', url: '/api/v1/workspaces', token: owner.token, body: { name: 'Notes and tasks' } });
      workspaceId = workspace.body.data.uuid;
      for (const [user, role] of [[admin, 'admin'], [member, 'member'], [viewer, 'viewer']] as const) {
        const added = await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspaceId}/members`, token: owner.token, body: { email: user.email, role } });
        expect(added.status).toBe(201);
      }
      accountId = await createAccount('Acme Inc', 'acme.com');
      otherAccountId = await createAccount('Globex', 'globex.com');
    });
    afterAll(() => t.close());

    describe('notes', () => {
      const createNote = (body: unknown, user = owner) => call(user, { method: 'POST', url: '/v1/accounts/notes', body });
      const getNote = (id: string, user = owner) => call(user, { url: `/v1/accounts/notes?noteId=${id}` });
      const putNote = (id: string, body: unknown, user = owner) => call(user, { method: 'PUT', url: `/v1/accounts/notes/${id}`, body });
      const deleteNote = (id: string, user = owner) => call(user, { method: 'DELETE', url: `/v1/accounts/notes/${id}` });
      const listIds = async (user: SignedUp, account = accountId) =>
        (await call(user, { url: `/v1/accounts/notes?accountId=${account}&limit=100` })).body.map((n: { id: string }) => n.id);

      it('creates a note with defaults, by type text or id, and reads it back', async () => {
        const created = await createNote({ accountId, content: 'Renewal in March', attachmentUrls: ['https://files.example/n.pdf'], metadata: { k: 1 } });
        expect(created.status, created.text).toBe(201);
        expect(Object.keys(created.body).sort()).toEqual(NOTE_KEYS);
        expect(created.body).toMatchObject({
          accountId,
          account: 'Acme Inc',
          content: 'Renewal in March',
          type: 'GENERAL',
          typeConfiguration: {},
          visibility: 'public',
          authorId: String(owner.user.id),
          author: owner.user.name,
          authorEmail: owner.email,
          metadata: { k: 1 },
        });
        expect(created.body.attachments).toEqual([{ id: expect.any(String), url: 'https://files.example/n.pdf', createdAt: created.body.createdAt }]);
        const fetched = await getNote(created.body.id, viewer);
        expect(fetched.status).toBe(200);
        expect(fetched.headers['x-total-count']).toBe('1');
        expect(fetched.body).toEqual([created.body]);

        expect((await createNote({ accountId, content: 'x', type: 'decision' })).body.type).toBe('DECISION');
        const technical = await attributeValue('note_type', 'TECHNICAL');
        expect((await createNote({ accountId, content: 'x', type: technical.id })).body).toMatchObject({ typeId: technical.id, type: 'TECHNICAL' });

        const unknown = await createNote({ accountId, content: 'x', type: 'GOSSIP' });
        expect(unknown.status).toBe(400);
        expect(unknown.body.message).toEqual(['type must name a value of note_type (its id or its text)']);
        expect((await createNote({ accountId, content: 'x', visibility: 'secret' })).status).toBe(400);
        expect((await createNote({ accountId })).status).toBe(400);
        expect((await createNote({ accountId: '0192f5a0-7c1e-7b3a-9d2e-6f1a2b3c4d5e', content: 'x' })).status).toBe(400);
        expect((await createNote({ accountId, content: 'x' }, viewer)).status).toBe(403);
      });

      it('shows private notes to their author only, team notes above viewer, public notes to all', async () => {
        const account = await createAccount('Visible', 'visible.example');
        const secret = (await createNote({ accountId: account, content: 'mine', visibility: 'private' }, member)).body;
        const team = (await createNote({ accountId: account, content: 'ours', visibility: 'team' }, member)).body;
        const open = (await createNote({ accountId: account, content: 'everyone' }, member)).body;

        expect(await listIds(member, account)).toEqual([open.id, team.id, secret.id]);
        expect(await listIds(owner, account)).toEqual([open.id, team.id]);
        expect(await listIds(viewer, account)).toEqual([open.id]);
        const viewerList = await call(viewer, { url: `/v1/accounts/notes?accountId=${account}` });
        expect(viewerList.headers['x-total-count']).toBe('1');

        expect((await getNote(secret.id, member)).status).toBe(200);
        for (const user of [owner, admin, viewer]) expect((await getNote(secret.id, user)).status).toBe(404);
        expect((await putNote(secret.id, { content: 'x' }, owner)).status).toBe(404);
        expect((await deleteNote(secret.id, admin)).status).toBe(404);
        expect((await call(owner, { method: 'DELETE', url: `/v1/accounts/notes/${secret.id}/attachments/x` })).status).toBe(404);

        expect((await getNote(team.id, viewer)).status).toBe(404);
        expect((await getNote(team.id, owner)).status).toBe(200);
        expect((await getNote(open.id, viewer)).status).toBe(200);

        // Turning a public note private hides it from everyone else.
        expect((await putNote(open.id, { visibility: 'private' }, member)).body.visibility).toBe('private');
        expect((await getNote(open.id, viewer)).status).toBe(404);
      });

      it('lets only the author, an admin or an owner change or delete a note', async () => {
        const note = (await createNote({ accountId, content: 'by owner' })).body;
        expect((await putNote(note.id, { content: 'hijacked' }, member)).status).toBe(403);
        expect((await deleteNote(note.id, member)).status).toBe(403);
        expect((await putNote(note.id, { content: 'x' }, viewer)).status).toBe(403);
        const edited = await putNote(note.id, { content: 'by owner, edited', type: 'DECISION' });
        expect(edited.status).toBe(200);
        expect(edited.body).toMatchObject({ content: 'by owner, edited', type: 'DECISION', authorId: String(owner.user.id) });

        const members = (await createNote({ accountId, content: 'by member' }, member)).body;
        expect((await putNote(members.id, { content: 'fixed by member' }, member)).status).toBe(200);
        expect((await putNote(members.id, { content: 'fixed by admin' }, admin)).body.content).toBe('fixed by admin');
        expect((await deleteNote(members.id, admin)).status).toBe(204);
        expect((await getNote(members.id, member)).status).toBe(404);
        expect((await deleteNote(members.id, member)).status).toBe(404);
      });

      it('replaces attachments on update and removes one by id', async () => {
        const note = (await createNote({ accountId, content: 'files', attachmentUrls: ['https://files.example/1', 'https://files.example/2'] })).body;
        const [first, second] = note.attachments;
        const updated = await putNote(note.id, { attachmentUrls: ['https://files.example/2', 'https://files.example/3'] });
        expect(updated.body.attachments.map((a: { url: string }) => a.url)).toEqual(['https://files.example/2', 'https://files.example/3']);
        expect(updated.body.attachments[0].id).toBe(second.id);
        const path = `/v1/accounts/notes/${note.id}/attachments`;
        expect((await call(owner, { method: 'DELETE', url: `${path}/${first.id}` })).status).toBe(404);
        expect((await call(member, { method: 'DELETE', url: `${path}/${second.id}` })).status).toBe(403);
        expect((await call(owner, { method: 'DELETE', url: `${path}/${second.id}` })).status).toBe(204);
        expect((await getNote(note.id)).body[0].attachments.map((a: { url: string }) => a.url)).toEqual(['https://files.example/3']);
      });

      it('answers 404 to other workspaces and for non-UUIDs, and pages with X-Total-Count', async () => {
        const note = (await createNote({ accountId, content: 'hidden' })).body;
        const own = (options: RequestOptions) => t.request({ ...options, token: stranger.token });
        expect((await own({ url: `/v1/accounts/notes?noteId=${note.id}` })).status).toBe(404);
        expect((await own({ url: `/v1/accounts/notes?accountId=${accountId}` })).status).toBe(404);
        expect((await own({ method: 'PUT', url: `/v1/accounts/notes/${note.id}`, body: { content: 'x' } })).status).toBe(404);
        expect((await own({ method: 'DELETE', url: `/v1/accounts/notes/${note.id}` })).status).toBe(404);
        expect((await putNote('not-a-uuid', { content: 'x' })).status).toBe(404);
        expect((await getNote('not-a-uuid')).status).toBe(404);

        const account = await createAccount('Paged notes', 'paged-notes.example');
        const ids: string[] = [];
        for (let i = 0; i < 3; i += 1) ids.push((await createNote({ accountId: account, content: `#${i}` })).body.id);
        const page = await call(owner, { url: `/v1/accounts/notes?accountId=${account}&limit=2&page=2` });
        expect(page.headers['x-total-count']).toBe('3');
        expect(page.body.map((n: { id: string }) => n.id)).toEqual([ids[0]]);
      });
    });

    describe('tasks', () => {
      const createTask = (body: unknown, user = owner) => call(user, { method: 'POST', url: '/v1/accounts/tasks', body });
      const getTask = (id: string, user = owner) => call(user, { url: `/v1/accounts/tasks?taskId=${id}` });
      const putTask = (id: string, body: unknown, user = owner) => call(user, { method: 'PUT', url: `/v1/accounts/tasks/${id}`, body });
      const createActivity = async (account: string) =>
        (await call(owner, { method: 'POST', url: '/v1/accounts/activities', body: { accountId: account } })).body.id as string;

      it('creates a task with defaults, an assignee and an activity, and reads it back', async () => {
        const activityId = await createActivity(accountId);
        const created = await createTask({
          accountId,
          title: 'Send the proposal',
          description: 'v2',
          assigneeId: String(member.user.id),
          activityId,
          dueDate: '2024-02-01T17:00:00Z',
          attachmentUrls: ['https://files.example/proposal.pdf'],
          metadata: { sla: 'gold' },
        });
        expect(created.status, created.text).toBe(201);
        expect(Object.keys(created.body).sort()).toEqual(TASK_KEYS);
        expect(created.body).toMatchObject({
          accountId,
          account: 'Acme Inc',
          title: 'Send the proposal',
          description: 'v2',
          activityId,
          type: 'FOLLOW_UP',
          status: 'PENDING',
          isClosed: false,
          priority: 'LOW',
          dueDate: '2024-02-01T17:00:00.000Z',
          creatorId: String(owner.user.id),
          creator: owner.user.name,
          creatorEmail: owner.email,
          assigneeId: String(member.user.id),
          assignee: member.user.name,
          assigneeEmail: member.email,
          metadata: { sla: 'gold' },
        });
        expect(created.body.attachments).toHaveLength(1);
        const fetched = await getTask(created.body.id, viewer);
        expect(fetched.status).toBe(200);
        expect(fetched.body).toEqual([created.body]);

        const high = await attributeValue('task_priority', 'HIGH');
        const closed = await createTask({ accountId, title: 'Done', type: 'review', status: 'COMPLETED', priority: high.id });
        expect(closed.body).toMatchObject({ type: 'REVIEW', status: 'COMPLETED', isClosed: true, statusConfiguration: { isClosed: true }, priorityId: high.id, priority: 'HIGH', assigneeId: null, assignee: null, activityId: null });
      });

      it('refuses assignees who are not members, foreign activities and unknown values with 400', async () => {
        const expect400 = async (body: Record<string, unknown>, message: string) => {
          const response = await createTask({ accountId, title: 'x', ...body });
          expect(response.status, JSON.stringify(body)).toBe(400);
          expect(response.body.message).toEqual([message]);
        };
        await expect400({ assigneeId: String(stranger.user.id) }, 'assigneeId must be the id of a workspace member');
        await expect400({ assigneeId: 'bob' }, 'assigneeId must be the id of a workspace member');
        await expect400({ activityId: await createActivity(otherAccountId) }, 'activityId must be the id of an activity of the account');
        await expect400({ activityId: 'nope' }, 'activityId must be the id of an activity of the account');
        await expect400({ status: 'DONE-ISH' }, 'status must name a value of task_status (its id or its text)');
        await expect400({ accountId: 'nope' }, 'accountId must be the id of an account');
        expect((await createTask({ accountId })).status).toBe(400);
        expect((await createTask({ accountId, title: 'x' }, viewer)).status).toBe(403);
        const task = (await createTask({ accountId, title: 'x' })).body;
        expect((await putTask(task.id, { assigneeId: String(stranger.user.id) })).status).toBe(400);
        expect((await putTask(task.id, { title: 'x' }, viewer)).status).toBe(403);
      });

      it('updates, unassigns, and unlinks tasks when their activity is deleted', async () => {
        const activityId = await createActivity(accountId);
        const task = (await createTask({ accountId, title: 'Call back', assigneeId: String(admin.user.id), activityId })).body;
        const updated = await putTask(task.id, { title: 'Call back soon', status: 'in_progress', priority: 'MEDIUM', assigneeId: null, dueDate: '2024-03-01T09:00:00.000Z' });
        expect(updated.status, updated.text).toBe(200);
        expect(updated.body).toMatchObject({ title: 'Call back soon', status: 'IN_PROGRESS', priority: 'MEDIUM', assigneeId: null, assignee: null, activityId, dueDate: '2024-03-01T09:00:00.000Z' });

        expect((await call(owner, { method: 'DELETE', url: `/v1/accounts/activities/${activityId}` })).status).toBe(204);
        expect((await getTask(task.id)).body[0].activityId).toBeNull();
        expect((await putTask(task.id, { activityId })).status).toBe(400);
      });

      it('filters by assignee, status and priority, and pages with X-Total-Count', async () => {
        const account = await createAccount('Filtered', 'filtered.example');
        const a = (await createTask({ accountId: account, title: 'a', assigneeId: String(member.user.id), priority: 'HIGH' })).body;
        const b = (await createTask({ accountId: account, title: 'b', status: 'COMPLETED' })).body;
        const c = (await createTask({ accountId: account, title: 'c', assigneeId: String(member.user.id), status: 'COMPLETED' })).body;
        const ids = async (query: string) => {
          const response = await call(owner, { url: `/v1/accounts/tasks?accountId=${account}&${query}` });
          expect(response.status, response.text).toBe(200);
          return { ids: response.body.map((x: { id: string }) => x.id), total: response.headers['x-total-count'] };
        };
        expect(await ids('')).toEqual({ ids: [c.id, b.id, a.id], total: '3' });
        expect(await ids(`assigneeId=${member.user.id}`)).toEqual({ ids: [c.id, a.id], total: '2' });
        expect(await ids('status=COMPLETED')).toEqual({ ids: [c.id, b.id], total: '2' });
        expect(await ids(`status=${b.statusId}&assigneeId=${member.user.id}`)).toEqual({ ids: [c.id], total: '1' });
        expect(await ids('priority=high')).toEqual({ ids: [a.id], total: '1' });
        expect(await ids('priority=URGENT')).toEqual({ ids: [], total: '0' });
        expect(await ids('limit=2&page=2')).toEqual({ ids: [a.id], total: '3' });
      });

      it('shows the new status after its value is deleted with replaceWith', async () => {
        const inProgress = await attributeValue('task_status', 'IN_PROGRESS');
        const completed = await attributeValue('task_status', 'COMPLETED');
        const task = (await createTask({ accountId, title: 'Moving', status: inProgress.id })).body;
        expect(task).toMatchObject({ status: 'IN_PROGRESS', isClosed: false });
        const refused = await call(owner, { method: 'DELETE', url: `/v1/accounts/attributes/${inProgress.id}` });
        expect(refused.status).toBe(409);
        const moved = await call(owner, { method: 'DELETE', url: `/v1/accounts/attributes/${inProgress.id}?replaceWith=${completed.id}` });
        expect(moved.status, moved.text).toBe(204);
        expect((await getTask(task.id)).body[0]).toMatchObject({ statusId: completed.id, status: 'COMPLETED', isClosed: true });
      });

      it('removes attachments, deletes tasks, and answers 404 to other workspaces and deleted accounts', async () => {
        const task = (await createTask({ accountId, title: 'Files', attachmentUrls: ['https://files.example/t1'] })).body;
        const path = `/v1/accounts/tasks/${task.id}/attachments`;
        expect((await call(owner, { method: 'DELETE', url: `${path}/${task.attachments[0].id}` })).status).toBe(204);
        expect((await call(owner, { method: 'DELETE', url: `${path}/${task.attachments[0].id}` })).status).toBe(404);
        expect((await getTask(task.id)).body[0].attachments).toEqual([]);

        const own = (options: RequestOptions) => t.request({ ...options, token: stranger.token });
        expect((await own({ url: `/v1/accounts/tasks?taskId=${task.id}` })).status).toBe(404);
        expect((await own({ method: 'PUT', url: `/v1/accounts/tasks/${task.id}`, body: { title: 'x' } })).status).toBe(404);
        expect((await own({ method: 'DELETE', url: `/v1/accounts/tasks/${task.id}` })).status).toBe(404);
        expect((await putTask('not-a-uuid', { title: 'x' })).status).toBe(404);

        expect((await call(viewer, { method: 'DELETE', url: `/v1/accounts/tasks/${task.id}` })).status).toBe(403);
        expect((await call(member, { method: 'DELETE', url: `/v1/accounts/tasks/${task.id}` })).status).toBe(204);
        expect((await getTask(task.id)).status).toBe(404);

        const gone = await createAccount('Gone', 'gone.example');
        const doomed = (await createTask({ accountId: gone, title: 'Orphan' })).body;
        const note = (await call(owner, { method: 'POST', url: '/v1/accounts/notes', body: { accountId: gone, content: 'Orphan' } })).body;
        expect((await call(owner, { method: 'DELETE', url: `/v1/accounts/${gone}` })).status).toBe(204);
        expect((await getTask(doomed.id)).status).toBe(404);
        expect((await call(owner, { url: `/v1/accounts/notes?noteId=${note.id}` })).status).toBe(404);
      });
    });
  });
}
