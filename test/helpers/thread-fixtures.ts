import { expect } from 'vitest';
import { newId } from '../../src/db/values.js';
import type { RequestOptions, SignedUp, TestApp, TestResponse } from './test-app.js';

/** A shared workspace with one member of each role, and a stranger who belongs elsewhere. */
export interface ThreadWorld {
  owner: SignedUp;
  admin: SignedUp;
  member: SignedUp;
  viewer: SignedUp;
  stranger: SignedUp;
  workspaceId: string;
  /** A request in the shared workspace (X-Workspace-Id). */
  call<T = any>(user: SignedUp, options: RequestOptions): Promise<TestResponse<T>>;
}

export async function createThreadWorld(t: TestApp): Promise<ThreadWorld> {
  const owner = await t.signUp();
  const admin = await t.signUp();
  const member = await t.signUp();
  const viewer = await t.signUp();
  const stranger = await t.signUp();
  const workspace = await t.request({ method: 'POST', url: '/api/v1/workspaces', token: owner.token, body: { name: 'Conversations' } });
  const workspaceId = workspace.body.data.uuid as string;
  for (const [user, role] of [[admin, 'admin'], [member, 'member'], [viewer, 'viewer']] as const) {
    const added = await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspaceId}/members`, token: owner.token, body: { email: user.email, role } });
    expect(added.status, added.text).toBe(201);
  }
  return {
    owner,
    admin,
    member,
    viewer,
    stranger,
    workspaceId,
    call: (user, options) => t.request({ ...options, token: user.token, headers: { 'x-workspace-id': workspaceId, ...options.headers } }),
  };
}

const AT = '2026-01-15T10:30:00.000Z';

/** An agent row as the agents module stores it. */
export async function insertAgent(
  t: TestApp,
  values: { workspaceId: string; userId: number; name: string; visibility?: 'private' | 'workspace' | 'public' },
): Promise<string> {
  const id = newId();
  await t.ctx.db.kysely
    .insertInto('agents')
    .values({
      id,
      workspace_id: values.workspaceId,
      user_id: values.userId,
      name: values.name,
      description: null,
      instructions: 'Answer briefly.',
      llm_id: null,
      account_id: null,
      tools: '[]',
      memory: JSON.stringify({ enabled: false, retrieve_limit: 5, write: false }),
      settings: JSON.stringify({ temperature: null, max_tokens: null, max_steps: 8 }),
      profile_photo_url: null,
      profile_photo_config: JSON.stringify({ emoji: '🤖' }),
      visibility: values.visibility ?? 'workspace',
      metadata: '{}',
      created_at: AT,
      updated_at: AT,
    })
    .execute();
  return id;
}

/** A media row as an upload stores it (the bytes are not needed by these tests). */
export async function insertMedia(t: TestApp, values: { workspaceId: string; userId: number; filename: string }): Promise<string> {
  const id = newId();
  await t.ctx.db.kysely
    .insertInto('media')
    .values({
      id,
      workspace_id: values.workspaceId,
      user_id: values.userId,
      filename: values.filename,
      mime_type: 'text/plain',
      size_bytes: 11,
      kind: 'text',
      storage_key: `${values.workspaceId}/${id}`,
      sha256: 'a'.repeat(64),
      created_at: AT,
      updated_at: AT,
    })
    .execute();
  return id;
}

/** A running run on a thread, as the run code marks one in flight. */
export async function insertRunningRun(t: TestApp, values: { workspaceId: string; userId: number; threadId: string }): Promise<string> {
  const id = newId();
  await t.ctx.db.kysely
    .insertInto('runs')
    .values({
      id,
      workspace_id: values.workspaceId,
      user_id: values.userId,
      kind: 'thread',
      agent_id: null,
      thread_id: values.threadId,
      prompt_id: null,
      prompt_version: null,
      llm_id: null,
      account_id: null,
      provider_slug: null,
      model_id: null,
      status: 'running',
      finish_reason: null,
      error: null,
      idempotency_key: null,
      request_hash: null,
      response: null,
      latency_ms: null,
      ttft_ms: null,
      lease_expires_at: null,
      started_at: AT,
      finished_at: null,
      created_at: AT,
      updated_at: AT,
    })
    .execute();
  return id;
}
