import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/db/values.js';
import { attachmentParts, loadAttachments, TEXT_INLINE_MAX_BYTES } from '../../src/modules/media/media.service.js';
import type { WorkspaceScope } from '../../src/modules/workspaces/workspaces.service.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

interface Part {
  name: string;
  filename?: string;
  type?: string;
  content: Buffer | string;
}

/** A multipart/form-data body built by hand, as a browser or curl sends it. */
function multipart(parts: Part[]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = '----athena-test-boundary-7d3f';
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename !== undefined ? `; filename="${part.filename}"` : ''}`;
    const head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.type ? `Content-Type: ${part.type}\r\n` : ''}\r\n`;
    chunks.push(Buffer.from(head), Buffer.isBuffer(part.content) ? part.content : Buffer.from(part.content), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from('0000000d4948445200000001000000010806000000', 'hex'),
  Buffer.from([0x00, 0xff, 0x10, 0x80]),
]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]);
const GIF = Buffer.concat([Buffer.from('GIF89a'), Buffer.from([0x01, 0x00, 0x01, 0x00, 0x00, 0x00])]);
const WEBP = Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x1a, 0, 0, 0]), Buffer.from('WEBPVP8 '), Buffer.from([0, 0, 0, 0])]);
const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.from([0xe2, 0xe3, 0xcf, 0xd3, 0x0a, 0x00, 0x01])]);

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** Every file under a directory, recursively (hidden temporary files included). */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe.each(DIALECTS)('media on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let member: SignedUp;
  let viewer: SignedUp;
  let stranger: SignedUp;
  let workspaceId: string;
  const ws = () => ({ 'x-workspace-id': workspaceId });

  const upload = (token: string, parts: Part[], headers: Record<string, string> = {}) => {
    const body = multipart(parts);
    return t.request({ method: 'POST', url: '/api/v1/media', token, payload: body.payload, headers: { ...body.headers, ...headers } });
  };
  const uploadFile = async (token: string, filename: string, type: string, content: Buffer | string) => {
    const response = await upload(token, [{ name: 'file', filename, type, content }]);
    if (response.status !== 201) throw new Error(`upload failed: ${response.status} ${response.text}`);
    return response.body.data;
  };
  const storedRow = (id: string) => t.ctx.db.kysely.selectFrom('media').selectAll().where('id', '=', id).executeTakeFirst();
  const scopeOf = (user: SignedUp, role: WorkspaceScope['role'] = 'owner', workspace = workspaceId): WorkspaceScope => ({
    workspaceId: workspace,
    role,
    userId: user.user.id,
  });

  beforeAll(async () => {
    t = await createTestApp(dialect, { ATHENA_PUBLIC_URL: 'https://athena.example.test' });
    owner = await t.signUp();
    member = await t.signUp();
    viewer = await t.signUp();
    stranger = await t.signUp();
    workspaceId = owner.user.primary_workspace.uuid;
    for (const [user, role] of [
      [member, 'member'],
      [viewer, 'viewer'],
    ] as const) {
      const added = await t.request({
        method: 'POST',
        url: `/api/v1/workspaces/${workspaceId}/members`,
        token: owner.token,
        body: { email: user.email, role },
      });
      expect(added.status).toBe(201);
    }
  });
  afterAll(() => t.close());

  describe('upload', () => {
    it('stores an image recognised by its bytes, with its hash, size and uploader', async () => {
      const response = await upload(owner.token, [{ name: 'file', filename: 'pixel.png', type: 'image/png', content: PNG }]);

      expect(response.status).toBe(201);
      const data = response.body.data;
      expect(data).toEqual({
        uuid: expect.any(String),
        filename: 'pixel.png',
        mime_type: 'image/png',
        size: PNG.length,
        kind: 'image',
        sha256: sha256(PNG),
        url: `https://athena.example.test/api/v1/media/${data.uuid}/content`,
        user: expect.objectContaining({ id: owner.user.id, email: owner.email, primary_workspace: {} }),
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        updated_at: data.created_at,
      });
      const row = await storedRow(data.uuid);
      expect(row).toMatchObject({
        workspace_id: workspaceId,
        user_id: owner.user.id,
        kind: 'image',
        size_bytes: PNG.length,
        sha256: sha256(PNG),
        storage_key: `${workspaceId}/${data.uuid}`,
      });
      const file = path.join(t.config.dataDir, 'media', workspaceId, data.uuid);
      expect(fs.readFileSync(file)).toEqual(PNG);
    });

    it('trusts the bytes over the declared type for JPEG, GIF and WebP', async () => {
      const jpeg = await uploadFile(owner.token, 'photo.bin', 'application/octet-stream', JPEG);
      const gif = await uploadFile(owner.token, 'anim.png', 'image/png', GIF);
      const webp = await uploadFile(owner.token, 'pic.webp', 'image/webp', WEBP);
      expect([jpeg.mime_type, gif.mime_type, webp.mime_type]).toEqual(['image/jpeg', 'image/gif', 'image/webp']);
      expect([jpeg.kind, gif.kind, webp.kind]).toEqual(['image', 'image', 'image']);
    });

    it('accepts UTF-8 text files by type, and by extension when sent as octet-stream', async () => {
      const markdown = await uploadFile(owner.token, 'notes.md', 'text/markdown', '# Plan\n\nCafé opens at 9 — façade done.\n');
      const csv = await uploadFile(owner.token, 'rows.csv', 'application/octet-stream', 'a,b\n1,2\n');
      const json = await uploadFile(owner.token, 'data.json', 'application/json', '{"ok": true}');
      const html = await uploadFile(owner.token, 'page.html', 'text/html', '<p>hi</p>');
      expect([markdown.mime_type, csv.mime_type, json.mime_type, html.mime_type]).toEqual([
        'text/markdown',
        'text/csv',
        'application/json',
        'text/html',
      ]);
      expect(new Set([markdown.kind, csv.kind, json.kind, html.kind])).toEqual(new Set(['text']));
      expect(markdown.size).toBe(Buffer.byteLength('# Plan\n\nCafé opens at 9 — façade done.\n'));
    });

    it('keeps only the base name of the file, without directories or control characters', async () => {
      const data = await uploadFile(owner.token, '../../etc/pass\u0007wd.txt', 'text/plain', 'root');
      expect(data.filename).toBe('passwd.txt');
      const windows = await uploadFile(owner.token, 'C:\\Users\\me\\report.txt', 'text/plain', 'x');
      expect(windows.filename).toBe('report.txt');
    });

    it('refuses a PDF, binary data, invalid UTF-8 and an image type without image bytes with 422, keeping nothing', async () => {
      const before = filesUnder(path.join(t.config.dataDir, 'media')).length;
      const cases: Array<[string, string, Buffer | string]> = [
        ['report.pdf', 'application/pdf', PDF],
        ['blob.bin', 'application/octet-stream', Buffer.from([0x00, 0x01, 0x02, 0xfe])],
        ['latin1.txt', 'text/plain', Buffer.from([0x63, 0x61, 0x66, 0xe9])],
        ['nul.txt', 'text/plain', Buffer.from('a\u0000b')],
        ['fake.png', 'image/png', 'not really a png'],
        ['drawing.svg', 'image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg"/>'],
      ];
      for (const [filename, type, content] of cases) {
        const response = await upload(owner.token, [{ name: 'file', filename, type, content }]);
        expect(response.status, filename).toBe(422);
        expect(response.body).toEqual({
          message: 'The file must be an image (PNG, JPEG, GIF or WebP) or a UTF-8 text file.',
          errors: { file: ['The file must be an image (PNG, JPEG, GIF or WebP) or a UTF-8 text file.'] },
        });
      }
      expect(filesUnder(path.join(t.config.dataDir, 'media'))).toHaveLength(before);
    });

    it('answers 422 on file when no file was sent, or under another field name, or empty', async () => {
      const none = await upload(owner.token, [{ name: 'note', content: 'hello' }]);
      expect(none.status).toBe(422);
      expect(none.body.errors).toEqual({ file: ['The file field is required.'] });

      const misnamed = await upload(owner.token, [{ name: 'upload', filename: 'a.txt', type: 'text/plain', content: 'hello' }]);
      expect(misnamed.status).toBe(422);
      expect(misnamed.body.errors).toEqual({ file: ['The file field is required.'] });

      const empty = await upload(owner.token, [{ name: 'file', filename: 'a.txt', type: 'text/plain', content: '' }]);
      expect(empty.status).toBe(422);
      expect(empty.body.errors).toEqual({ file: ['The file field must not be empty.'] });
    });

    it('answers a JSON body with 415, and other routes keep refusing multipart', async () => {
      const json = await t.request({ method: 'POST', url: '/api/v1/media', token: owner.token, body: { file: 'x' } });
      expect(json.status).toBe(415);
      expect(json.body).toEqual({ message: 'Unsupported Media Type.' });

      const body = multipart([{ name: 'name', content: 'Sneaky' }]);
      const elsewhere = await t.request({ method: 'POST', url: '/api/v1/workspaces', token: owner.token, payload: body.payload, headers: body.headers });
      expect(elsewhere.status).toBe(415);
    });

    it('answers 400 to a multipart body it cannot read or that ends inside the file, keeping nothing', async () => {
      const before = filesUnder(path.join(t.config.dataDir, 'media')).length;
      const send = (type: string, payload: string) =>
        t.request({ method: 'POST', url: '/api/v1/media', token: owner.token, payload, headers: { 'content-type': type } });
      const head = '--abc\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n';

      const noBoundary = await send('multipart/form-data', '--x\r\n');
      expect(noBoundary.status).toBe(400);
      expect(noBoundary.body).toEqual({ message: 'The multipart body could not be read.' });
      for (const content of ['hello', 'x'.repeat(3_000_000)]) {
        const cut = await send('multipart/form-data; boundary=abc', head + content);
        expect(cut.status).toBe(400);
        expect(cut.body).toEqual({ message: 'The multipart body ended before the file did.' });
      }
      expect(filesUnder(path.join(t.config.dataDir, 'media'))).toHaveLength(before);

      // Only the first file is read; the others are skipped.
      const two = await send('multipart/form-data; boundary=abc', `${head}first\r\n${head.slice(0, -4).replace('a.txt', 'b.txt')}\r\n\r\nsecond\r\n--abc--\r\n`);
      expect(two.status).toBe(201);
      expect(two.body.data).toMatchObject({ filename: 'a.txt', size: 5 });
    });

    it('refuses uploads by viewers (403) and unauthenticated ones (401)', async () => {
      const denied = await upload(viewer.token, [{ name: 'file', filename: 'a.txt', type: 'text/plain', content: 'hi' }], ws());
      expect(denied.status).toBe(403);
      const anonymous = await upload('', [{ name: 'file', filename: 'a.txt', type: 'text/plain', content: 'hi' }]);
      expect(anonymous.status).toBe(401);
    });
  });

  describe('size limit', () => {
    let small: TestApp;
    let user: SignedUp;
    beforeAll(async () => {
      small = await createTestApp(dialect, { ATHENA_MEDIA_MAX_BYTES: '2kb' });
      user = await small.signUp();
    });
    afterAll(() => small.close());

    const send = (content: Buffer) => {
      const body = multipart([{ name: 'file', filename: 'big.txt', type: 'text/plain', content }]);
      return small.request({ method: 'POST', url: '/api/v1/media', token: user.token, payload: body.payload, headers: body.headers });
    };

    it('answers 413 over ATHENA_MEDIA_MAX_BYTES and keeps nothing on disk or in the table', async () => {
      const response = await send(Buffer.alloc(2048 + 1, 'a'));

      expect(response.status).toBe(413);
      expect(response.body).toEqual({ message: 'Payload too large.' });
      const rows = await small.ctx.db.kysely.selectFrom('media').select('id').execute();
      expect(rows).toEqual([]);
      expect(filesUnder(path.join(small.config.dataDir, 'media'))).toEqual([]);
    });

    it('refuses a declared length far over the limit before reading it', async () => {
      const response = await send(Buffer.alloc(200 * 1024, 'a'));
      expect(response.status).toBe(413);
      expect(filesUnder(path.join(small.config.dataDir, 'media'))).toEqual([]);
    });

    it('accepts a file of exactly the limit', async () => {
      const response = await send(Buffer.alloc(2048, 'a'));
      expect(response.status).toBe(201);
      expect(response.body.data.size).toBe(2048);
    });
  });

  describe('reading, listing and deleting', () => {
    it('downloads the exact bytes: images inline, text as an attachment, never sniffed', async () => {
      const image = await uploadFile(owner.token, 'pixel.png', 'image/png', PNG);
      const png = await t.app.inject({ url: `/api/v1/media/${image.uuid}/content`, headers: { authorization: `Bearer ${owner.token}` } });
      expect(png.statusCode).toBe(200);
      expect(png.rawPayload).toEqual(PNG);
      expect(png.headers['content-type']).toBe('image/png');
      expect(png.headers['content-disposition']).toBe(`inline; filename="pixel.png"; filename*=UTF-8''pixel.png`);
      expect(png.headers['x-content-type-options']).toBe('nosniff');

      const text = await uploadFile(owner.token, 'résumé.md', 'text/markdown', '# Ünïcode');
      const md = await t.app.inject({ url: `/api/v1/media/${text.uuid}/content`, headers: { authorization: `Bearer ${owner.token}` } });
      expect(md.statusCode).toBe(200);
      expect(md.rawPayload).toEqual(Buffer.from('# Ünïcode'));
      expect(md.headers['content-type']).toBe('text/markdown; charset=utf-8');
      expect(md.headers['content-disposition']).toBe(`attachment; filename="r_sum_.md"; filename*=UTF-8''r%C3%A9sum%C3%A9.md`);
    });

    it('shows members their own uploads; admins see every upload; others get 404', async () => {
      const mine = await uploadFile(member.token, 'member.txt', 'text/plain', 'member notes');
      const ownerFile = await uploadFile(owner.token, 'owner.txt', 'text/plain', 'owner notes');
      // The member's upload went to their own primary workspace unless X-Workspace-Id says otherwise.
      const inShared = await upload(member.token, [{ name: 'file', filename: 'shared.txt', type: 'text/plain', content: 'x' }], ws());
      expect(inShared.status).toBe(201);
      const sharedId = inShared.body.data.uuid;

      const memberList = await t.request({ url: '/api/v1/media?per_page=100', token: member.token, headers: ws() });
      expect(memberList.status).toBe(200);
      expect(memberList.body.data.map((m: any) => m.uuid)).toEqual([sharedId]);

      const ownerList = await t.request({ url: '/api/v1/media?per_page=100&filter[kind]=text', token: owner.token, headers: ws() });
      const ownerIds = ownerList.body.data.map((m: any) => m.uuid);
      expect(ownerIds).toContain(sharedId);
      expect(ownerIds).toContain(ownerFile.uuid);
      expect(ownerList.body.data.every((m: any) => m.kind === 'text')).toBe(true);
      expect(ownerList.body.meta.total).toBe(ownerIds.length);

      const searched = await t.request({ url: '/api/v1/media?search=SHARED', token: owner.token, headers: ws() });
      expect(searched.body.data.map((m: any) => m.uuid)).toEqual([sharedId]);

      expect((await t.request({ url: `/api/v1/media/${sharedId}`, token: owner.token, headers: ws() })).status).toBe(200);
      expect((await t.request({ url: `/api/v1/media/${ownerFile.uuid}`, token: member.token, headers: ws() })).status).toBe(404);
      // Another workspace's upload is not found, even for its uploader acting elsewhere.
      expect((await t.request({ url: `/api/v1/media/${mine.uuid}`, token: member.token, headers: ws() })).status).toBe(404);
      expect((await t.request({ url: `/api/v1/media/${ownerFile.uuid}`, token: stranger.token })).status).toBe(404);
      expect((await t.request({ url: `/api/v1/media/${ownerFile.uuid}/content`, token: stranger.token })).status).toBe(404);
      expect((await t.request({ url: '/api/v1/media/not-a-uuid', token: owner.token })).status).toBe(404);
    });

    it('shows an upload to whoever reads a workspace thread it is attached to, without letting them delete it', async () => {
      const file = await uploadFile(owner.token, 'shared-plan.md', 'text/markdown', '# Shared plan');
      const db = t.ctx.db.kysely;
      const at = new Date().toISOString();
      const thread = { id: newId(), workspace_id: workspaceId, user_id: owner.user.id, agent_id: null, name: 'Plan', metadata: '{}', created_at: at, updated_at: at };
      await db.insertInto('threads').values({ ...thread, visibility: 'private' }).execute();
      const message = {
        id: newId(), workspace_id: workspaceId, thread_id: thread.id, run_id: null, user_id: owner.user.id, agent_id: null, sequence: 1,
        role: 'user' as const, content: 'See the plan.', tool_calls: null, tool_result: null, status: 'completed' as const, llm_id: null,
        model_id: null, input_tokens: null, output_tokens: null, cost: null, latency_ms: null, feedback: null, feedback_comment: null,
        feedback_at: null, metadata: '{}', created_at: at, updated_at: at,
      };
      await db.insertInto('messages').values(message).execute();
      await db.insertInto('message_attachments').values({ message_id: message.id, media_id: file.uuid, position: 0 }).execute();

      // A private thread shows nothing to others.
      expect((await t.request({ url: `/api/v1/media/${file.uuid}`, token: member.token, headers: ws() })).status).toBe(404);

      await db.updateTable('threads').set({ visibility: 'workspace' }).where('id', '=', thread.id).execute();
      const seen = await t.request({ url: `/api/v1/media/${file.uuid}`, token: member.token, headers: ws() });
      expect(seen.status).toBe(200);
      expect(seen.body.data.user.id).toBe(owner.user.id);
      const content = await t.request({ url: `/api/v1/media/${file.uuid}/content`, token: member.token, headers: ws() });
      expect(content.status).toBe(200);
      expect(content.text).toBe('# Shared plan');
      expect((await t.request({ method: 'DELETE', url: `/api/v1/media/${file.uuid}`, token: member.token, headers: ws() })).status).toBe(403);
      const list = await t.request({ url: '/api/v1/media?per_page=100', token: member.token, headers: ws() });
      expect(list.body.data.map((m: any) => m.uuid)).not.toContain(file.uuid);
      // Deleting the upload detaches it from the message.
      expect((await t.request({ method: 'DELETE', url: `/api/v1/media/${file.uuid}`, token: owner.token })).status).toBe(204);
      expect(await db.selectFrom('message_attachments').selectAll().where('media_id', '=', file.uuid).execute()).toEqual([]);
    });

    it('pages with a cursor too', async () => {
      const first = await t.request({ url: '/api/v1/media?per_page=2&cursor=', token: owner.token });
      expect(first.status).toBe(200);
      expect(first.body.data).toHaveLength(2);
      const next = await t.request({ url: `/api/v1/media?per_page=2&cursor=${first.body.meta.next_cursor}`, token: owner.token });
      expect(next.status).toBe(200);
      expect(next.body.data[0].uuid).not.toBe(first.body.data[1].uuid);
      expect(next.body.data[0].created_at <= first.body.data[1].created_at).toBe(true);
    });

    it('deletes the row and the file; only the uploader or an admin may', async () => {
      const response = await upload(member.token, [{ name: 'file', filename: 'gone.txt', type: 'text/plain', content: 'bye' }], ws());
      const id = response.body.data.uuid;
      const file = path.join(t.config.dataDir, 'media', workspaceId, id);
      expect(fs.existsSync(file)).toBe(true);

      expect((await t.request({ method: 'DELETE', url: `/api/v1/media/${id}`, token: viewer.token, headers: ws() })).status).toBe(404);
      expect((await t.request({ method: 'DELETE', url: `/api/v1/media/${id}`, token: stranger.token })).status).toBe(404);
      const deleted = await t.request({ method: 'DELETE', url: `/api/v1/media/${id}`, token: member.token, headers: ws() });
      expect(deleted.status).toBe(204);
      expect(await storedRow(id)).toBeUndefined();
      expect(fs.existsSync(file)).toBe(false);

      const ownerFile = await uploadFile(owner.token, 'keep.txt', 'text/plain', 'k');
      const byAdmin = await upload(member.token, [{ name: 'file', filename: 'm.txt', type: 'text/plain', content: 'm' }], ws());
      expect((await t.request({ method: 'DELETE', url: `/api/v1/media/${byAdmin.body.data.uuid}`, token: owner.token })).status).toBe(204);
      expect((await t.request({ url: `/api/v1/media/${ownerFile.uuid}`, token: owner.token })).status).toBe(200);
    });

    it('counts the uploads each user sees in the workspace metrics', async () => {
      const metrics = await t.request({ url: '/api/v1/workspaces/metrics', token: member.token, headers: ws() });
      expect(metrics.status).toBe(200);
      const ownUploads = await t.ctx.db.kysely
        .selectFrom('media')
        .select('id')
        .where('workspace_id', '=', workspaceId)
        .where('user_id', '=', member.user.id)
        .execute();
      expect(metrics.body.data[0].counts.media).toBe(ownUploads.length);
      const all = await t.ctx.db.kysely.selectFrom('media').select('id').where('workspace_id', '=', workspaceId).execute();
      const admin = await t.request({ url: '/api/v1/workspaces/metrics', token: owner.token, headers: ws() });
      expect(admin.body.data[0].counts.media).toBe(all.length);
    });
  });

  describe('attachments for model calls', () => {
    it('loads attachments in the order given and names each invalid one', async () => {
      const a = await uploadFile(owner.token, 'a.txt', 'text/plain', 'alpha');
      const b = await uploadFile(owner.token, 'b.png', 'image/png', PNG);
      const db = t.ctx.db.kysely;

      const rows = await loadAttachments(db, scopeOf(owner), [b.uuid, a.uuid.toUpperCase()]);
      expect(rows.map((r) => r.id)).toEqual([b.uuid, a.uuid]);

      const strangerFile = await uploadFile(stranger.token, 's.txt', 'text/plain', 's');
      const error = await loadAttachments(db, scopeOf(owner), [a.uuid, strangerFile.uuid, 'nope', a.uuid]).catch((e) => e);
      expect(error.code).toBe('VALIDATION');
      expect(error.fields).toEqual({
        'attachments.1': ['The selected attachments.1 is invalid.'],
        'attachments.2': ['The selected attachments.2 is invalid.'],
        'attachments.3': ['The attachments.3 field has a duplicate value.'],
      });
      // A member does not attach the owner's private upload.
      const hidden = await loadAttachments(db, scopeOf(member, 'member'), [a.uuid]).catch((e) => e);
      expect(hidden.fields).toEqual({ 'attachments.0': ['The selected attachments.0 is invalid.'] });

      const tooMany = await loadAttachments(db, scopeOf(owner), Array.from({ length: 11 }, () => a.uuid)).catch((e) => e);
      expect(tooMany.fields).toEqual({ attachments: ['The attachments field must not have more than 10 items.'] });
    });

    it('gives images to vision models only and inlines text under its name, cut at 200 KB', async () => {
      const image = await uploadFile(owner.token, 'b.png', 'image/png', PNG);
      const note = await uploadFile(owner.token, 'note.md', 'text/markdown', 'Remember the milk.');
      const long = await uploadFile(owner.token, 'long.txt', 'text/plain', 'é'.repeat(150 * 1024));
      const rows = await loadAttachments(t.ctx.db.kysely, scopeOf(owner), [image.uuid, note.uuid, long.uuid]);

      const parts = await attachmentParts(t.ctx, rows, { vision: true, name: 'gpt-4o' });
      expect(parts[0]).toEqual({ type: 'image', image: new Uint8Array(PNG), mediaType: 'image/png' });
      expect(parts[1]).toEqual({ type: 'text', text: '--- note.md ---\nRemember the milk.' });
      const longText = (parts[2] as { text: string }).text;
      expect(longText.startsWith('--- long.txt ---\néé')).toBe(true);
      expect(longText).toContain('[truncated: the first 200 KB of 300 KB are shown]');
      expect(Buffer.byteLength(longText.split('\n')[1]!)).toBeLessThanOrEqual(TEXT_INLINE_MAX_BYTES);
      expect(longText).not.toContain('\ufffd');

      const blind = await attachmentParts(t.ctx, rows, { vision: false, name: 'llama-3.1-8b' }).catch((e) => e);
      expect(blind.fields).toEqual({ attachments: ['The model llama-3.1-8b does not accept images.'] });
    });
  });
});
