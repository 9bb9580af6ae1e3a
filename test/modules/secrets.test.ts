import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { masterKeyId } from '../../src/lib/crypto/aes-gcm.js';
import { credentialsOf } from '../../src/modules/accounts/accounts.service.js';
import { MasterKeyMismatchError, rotateMasterKey } from '../../src/modules/secrets/secrets.service.js';
import { createServer, type Server } from '../../src/server.js';
import { DIALECTS, testDatabase, type TestDatabase } from '../helpers/databases.js';

const silent = () => new Writable({ write: (_chunk, _encoding, done) => done() });

async function start(config: Config): Promise<Server> {
  const server = await createServer(config, { logStream: silent() });
  await server.app.ready();
  return server;
}

describe.each(DIALECTS)('master key and envelope encryption on %s', (dialect) => {
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);
  let database: TestDatabase;
  let base: Config;
  let accountId: string;
  const TOKEN = 'sk-rotation-survivor-123';

  beforeAll(async () => {
    database = testDatabase(dialect, { ATHENA_ENCRYPTION_KEY: keyA.toString('hex') });
    base = database.config;
    const server = await start(base);
    try {
      const inject = async (method: 'GET' | 'POST', url: string, body?: object, token?: string) => {
        const response = await server.app.inject({ method, url, payload: body, headers: token ? { authorization: `Bearer ${token}` } : {} });
        return response.json();
      };
      const signUp = await inject('POST', '/api/v1/auth/sign-up', { name: 'Key Keeper', email: 'keys@example.test', password: 'correct-horse-battery' });
      const token = signUp.data.token;
      const providers = await inject('GET', '/api/v1/providers?search=openai-compatible', undefined, token);
      const account = await inject(
        'POST',
        '/api/v1/accounts',
        { provider_uuid: providers.data[0].uuid, provider_display_name: 'vLLM', token: TOKEN, base_url: 'http://127.0.0.1:9/v1' },
        token,
      );
      accountId = account.data.uuid;
    } finally {
      await server.app.close();
    }
  });
  afterAll(() => database.drop());

  it('stores the data key wrapped, with the id of the master key that wrapped it', async () => {
    const server = await start(base);
    try {
      const keys = await server.ctx.db.kysely.selectFrom('workspace_keys').selectAll().execute();
      expect(keys).toHaveLength(1);
      expect(keys[0]!.master_key_id).toBe(masterKeyId(keyA));
      expect(keys[0]!.wrapped_key).not.toContain(keyA.toString('base64'));
    } finally {
      await server.app.close();
    }
  });

  it('refuses to start with another master key, with a clear message', async () => {
    const error = await createServer({ ...base, encryptionKey: keyB }, { logStream: silent() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MasterKeyMismatchError);
    expect((error as Error).message).toContain('does not match the key that protects the stored secrets');
    expect((error as Error).message).toContain(masterKeyId(keyA));
    expect((error as Error).message).not.toContain(keyB.toString('hex'));
  });

  it('refuses to start when the key is missing (a new key file would be generated)', async () => {
    const dataDir = fs.mkdtempSync(path.join(path.dirname(base.dataDir), 'athena-nokey-'));
    // SQLite lives in the data dir: copy it so only the key file is missing.
    if (dialect === 'sqlite') {
      for (const file of fs.readdirSync(base.dataDir)) fs.copyFileSync(path.join(base.dataDir, file), path.join(dataDir, file));
    }
    try {
      const error = await createServer({ ...base, dataDir, encryptionKey: undefined }, { logStream: silent() }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MasterKeyMismatchError);
      expect((error as Error).message).toContain(`The key file ${path.join(dataDir, 'encryption.key')} is missing, and stored secrets need it.`);
      // The key generated for nothing is not left behind to be mistaken for the real one.
      expect(fs.existsSync(path.join(dataDir, 'encryption.key'))).toBe(false);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('rotates to a new master key while a server keeps serving, then starts on the new key alone', async () => {
    const running = await start(base);
    try {
      const account = await running.ctx.db.kysely.selectFrom('connected_accounts').selectAll().where('id', '=', accountId).executeTakeFirstOrThrow();
      expect((await credentialsOf(running.ctx, account)).token).toBe(TOKEN);

      // keys:rotate, run with ATHENA_ENCRYPTION_KEY=B and ATHENA_ENCRYPTION_KEY_PREVIOUS=A.
      const rotator = await start({ ...base, encryptionKey: keyB, encryptionKeyPrevious: [keyA] });
      try {
        expect(await rotateMasterKey(rotator.ctx.db.kysely, { current: keyB, previous: [keyA] })).toBe(1);
        expect(await rotateMasterKey(rotator.ctx.db.kysely, { current: keyB, previous: [keyA] })).toBe(0);
      } finally {
        await rotator.app.close();
      }

      // The running server holds the unwrapped data key: nothing changes for it.
      expect((await credentialsOf(running.ctx, account)).token).toBe(TOKEN);
    } finally {
      await running.app.close();
    }

    const restarted = await start({ ...base, encryptionKey: keyB });
    try {
      const account = await restarted.ctx.db.kysely.selectFrom('connected_accounts').selectAll().where('id', '=', accountId).executeTakeFirstOrThrow();
      expect((await credentialsOf(restarted.ctx, account)).token).toBe(TOKEN);
      const keys = await restarted.ctx.db.kysely.selectFrom('workspace_keys').selectAll().execute();
      expect(keys.map((k) => k.master_key_id)).toEqual([masterKeyId(keyB)]);
    } finally {
      await restarted.app.close();
    }

    await expect(createServer({ ...base, encryptionKey: keyA }, { logStream: silent() })).rejects.toBeInstanceOf(MasterKeyMismatchError);
  });

  it('binds each secret to its workspace: a ciphertext moved to another workspace does not decrypt', async () => {
    const server = await start({ ...base, encryptionKey: keyB });
    try {
      const db = server.ctx.db.kysely;
      const account = await db.selectFrom('connected_accounts').selectAll().where('id', '=', accountId).executeTakeFirstOrThrow();
      await expect(credentialsOf(server.ctx, { ...account, workspace_id: '0198ffff-0000-7000-8000-000000000001' })).rejects.toThrow();
    } finally {
      await server.app.close();
    }
  });
});
