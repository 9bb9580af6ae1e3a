import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const CLI = ['--import', 'tsx', path.resolve('src/cli.ts')];

/** `athena keys:rotate` and `keys:generate` as operators run them: separate processes on one SQLite data dir. */
describe('the athena keys commands', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  const oldKey = randomBytes(32).toString('hex');

  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'athena-cli-keys-'));
    env = { PATH: process.env.PATH, HOME: process.env.HOME, ATHENA_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  const athena = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    exec(process.execPath, [...CLI, ...args], { env: { ...env, ...extraEnv }, timeout: 30_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );

  it('generates keys, rotates the workspace keys to the new one, and then refuses the old key at start', async () => {
    const generated = await athena(['keys:generate'], { ATHENA_ENCRYPTION_KEY: oldKey });
    expect(generated.code).toBe(0);
    const newKey = generated.stdout.trim();
    expect(newKey).toMatch(/^[0-9a-f]{64}$/);

    // A user and an account under the old key (user:create makes a workspace; a token account needs a data key).
    expect((await athena(['user:create', '--email', 'ops@example.test', '--password', 'long-enough-pw'], { ATHENA_ENCRYPTION_KEY: oldKey })).code).toBe(0);
    const { createServer } = await import('../src/server.js');
    const { loadConfig } = await import('../src/config.js');
    const { secretsOf } = await import('../src/modules/secrets/secrets.service.js');
    const server = await createServer({ ...loadConfig({ ATHENA_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ATHENA_ENCRYPTION_KEY: oldKey }) });
    const workspace = await server.ctx.db.kysely.selectFrom('workspaces').select('id').executeTakeFirstOrThrow();
    const sealed = await secretsOf(server.ctx).encrypt(server.ctx.db.kysely, workspace.id, 'sk-kept-through-rotation');
    await server.app.close();

    const rotated = await athena(['keys:rotate'], { ATHENA_ENCRYPTION_KEY: newKey, ATHENA_ENCRYPTION_KEY_PREVIOUS: oldKey });
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain('Re-wrapped 1 workspace key under the current master key.');

    const withOld = await athena(['migrate'], { ATHENA_ENCRYPTION_KEY: oldKey });
    expect(withOld.code).toBe(1);
    expect(withOld.stderr).toContain('does not match the key that protects the stored secrets');
    expect(withOld.stderr).not.toContain(oldKey);

    const withNew = await athena(['migrate'], { ATHENA_ENCRYPTION_KEY: newKey });
    expect(withNew.code).toBe(0);
    const reopened = await createServer({ ...loadConfig({ ATHENA_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ATHENA_ENCRYPTION_KEY: newKey }) });
    try {
      expect(await secretsOf(reopened.ctx).decrypt(reopened.ctx.db.kysely, workspace.id, sealed)).toBe('sk-kept-through-rotation');
    } finally {
      await reopened.app.close();
    }
  }, 60_000);
});
