import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketOf } from '../src/modules/metrics/series.js';

const exec = promisify(execFile);
const CLI = ['--import', 'tsx', path.resolve('src/cli.ts')];

/** `athena metrics:rebuild` as an operator runs it, against a SQLite data dir. */
describe('athena metrics:rebuild', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'athena-cli-metrics-'));
    env = { PATH: process.env.PATH, HOME: process.env.HOME, ATHENA_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  const athena = (args: string[]) =>
    exec(process.execPath, [...CLI, ...args], { env, timeout: 30_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );

  it('recomputes a workspace’s rollups from its raw rows, dropping what they do not hold', async () => {
    expect((await athena(['user:create', '--email', 'ops@example.test', '--password', 'operator-password'])).code).toBe(0);
    const file = path.join(dataDir, 'athena.sqlite');
    const db = new Database(file);
    const { workspace_id: workspaceId, user_id: userId } = db.prepare('select workspace_id, user_id from workspace_members').get() as {
      workspace_id: string;
      user_id: number;
    };
    const at = '2026-05-01T10:20:00.000Z';
    db.prepare(
      `insert into threads (id, workspace_id, user_id, agent_id, name, visibility, metadata, message_count, last_message_at, created_at, updated_at)
       values ('01980000-0000-7000-8000-0000000000f1', ?, ?, null, 'Imported', 'workspace', '{}', 0, null, ?, ?)`,
    ).run(workspaceId, userId, at, at);
    // A count no raw row supports: a rebuild drops it.
    db.prepare(`insert into execution_rollups (workspace_id, dim, owner_id, bucket, executions) values (?, '', 0, 15, 99)`).run(workspaceId);
    db.close();

    const result = await athena(['metrics:rebuild', '--workspace', workspaceId.toUpperCase()]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Rebuilt the metrics of 1 workspace in \d+\.\d s\.\n$/);

    const after = new Database(file, { readonly: true });
    try {
      expect(after.prepare('select count(*) as n from execution_rollups').get()).toEqual({ n: 0 });
      const rows = after.prepare('select dim, owner_id, bucket, threads, messages from conversation_rollups order by dim').all();
      expect(rows).toEqual([
        { dim: '', owner_id: 0, bucket: bucketOf(at), threads: 1, messages: 0 },
        { dim: `user:${userId}`, owner_id: 0, bucket: bucketOf(at), threads: 1, messages: 0 },
      ]);
    } finally {
      after.close();
    }

    const all = await athena(['metrics:rebuild']);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('Rebuilt the metrics of 1 workspace');
  });

  it('refuses a workspace that is not a uuid or does not exist', async () => {
    const malformed = await athena(['metrics:rebuild', '--workspace', 'primary']);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain('--workspace takes a workspace uuid.');
    const unknown = await athena(['metrics:rebuild', '--workspace', '01980000-0000-7000-8000-00000000dead']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no workspace has the uuid 01980000-0000-7000-8000-00000000dead.');
  });
});
