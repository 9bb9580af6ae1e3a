import type { AppContext } from '../../context.js';
import type { Kysely } from 'kysely';
import type { Database, Executor } from '../../db/database.js';
import { isUniqueViolation, newId, now } from '../../db/values.js';
import { masterKeyId, newDataKey, open, seal } from '../../lib/crypto/aes-gcm.js';
import * as repo from './secrets.repository.js';

/** What a response shows in place of a secret that is set. */
export const MASKED = '********';

const PREFIX = 'ath1';

/** The master keys a process holds: the current one wraps, previous ones still unwrap during a rotation. */
export interface MasterKeyring {
  current: Buffer;
  previous: readonly Buffer[];
}

export class MasterKeyMismatchError extends Error {
  constructor(
    readonly unknownIds: string[],
    lead = 'The encryption key does not match the key that protects the stored secrets.',
  ) {
    super(
      `${lead} Stored secrets are protected by the master key with id ${unknownIds.join(', ')}. ` +
        'Start with the original ATHENA_ENCRYPTION_KEY (or restore the encryption.key file of the data dir); ' +
        'during a rotation, give the old key in ATHENA_ENCRYPTION_KEY_PREVIOUS.',
    );
    this.name = 'MasterKeyMismatchError';
  }
}

function keyringOf(ctx: AppContext): MasterKeyring {
  return { current: ctx.masterKey, previous: ctx.config.encryptionKeyPrevious };
}

function masterKeyById(keyring: MasterKeyring): Map<string, Buffer> {
  const byId = new Map<string, Buffer>();
  for (const key of [keyring.current, ...keyring.previous]) byId.set(masterKeyId(key), key);
  return byId;
}

/**
 * Fails start-up when a stored data key is wrapped by a master key this process does not hold:
 * a wrong or lost key is reported at once, not as garbled credentials at first use.
 */
export async function verifyMasterKeys(db: Executor, keyring: MasterKeyring): Promise<void> {
  const known = masterKeyById(keyring);
  const unknown = (await repo.masterKeyIdsInUse(db)).filter((id) => !known.has(id));
  if (unknown.length > 0) throw new MasterKeyMismatchError(unknown);
}

/**
 * Re-wraps every workspace data key under the current master key, in one transaction. The data
 * keys themselves do not change, so no secret is re-encrypted and running servers keep working.
 */
export async function rotateMasterKey(db: Kysely<Database>, keyring: MasterKeyring): Promise<number> {
  const byId = masterKeyById(keyring);
  const currentId = masterKeyId(keyring.current);
  const run = async (trx: Executor) => {
    const rows = await repo.keysNotWrappedBy(trx, currentId);
    const at = now();
    for (const row of rows) {
      const oldKey = byId.get(row.master_key_id);
      if (!oldKey) throw new MasterKeyMismatchError([row.master_key_id]);
      const dataKey = open(oldKey, Buffer.from(row.wrapped_key, 'base64'), `${row.workspace_id}:${row.id}`);
      const wrapped = seal(keyring.current, dataKey, `${row.workspace_id}:${row.id}`).toString('base64');
      await repo.rewrapWorkspaceKey(trx, row.id, wrapped, currentId, at);
    }
    return rows.length;
  };
  return db.transaction().execute(run);
}

interface DataKey {
  id: string;
  key: Buffer;
}

/**
 * Envelope encryption of secrets: each workspace has a data key, wrapped by the master key and
 * kept unwrapped in memory once used. A secret is `ath1:<key id>:<base64url(iv ‖ tag ‖ ct)>`,
 * bound to its workspace by the AAD so it cannot be moved to another one.
 */
export class SecretBox {
  private readonly byWorkspace = new Map<string, DataKey>();
  private readonly pending = new Map<string, Promise<DataKey>>();
  private readonly masterKeys: Map<string, Buffer>;
  private readonly currentId: string;

  constructor(private readonly keyring: MasterKeyring) {
    this.masterKeys = masterKeyById(keyring);
    this.currentId = masterKeyId(keyring.current);
  }

  /** Encrypts a secret for a workspace (creating its data key on first use). */
  async encrypt(db: Executor, workspaceId: string, plaintext: string): Promise<string> {
    const dataKey = await this.dataKeyOf(db, workspaceId);
    const sealed = seal(dataKey.key, Buffer.from(plaintext, 'utf8'), `${workspaceId}:${dataKey.id}`);
    return `${PREFIX}:${dataKey.id}:${sealed.toString('base64url')}`;
  }

  async encryptOptional(db: Executor, workspaceId: string, plaintext: string | null | undefined): Promise<string | null> {
    return plaintext === null || plaintext === undefined ? null : this.encrypt(db, workspaceId, plaintext);
  }

  /** Decrypts a stored secret of the workspace; throws when it was not made for this workspace. */
  async decrypt(db: Executor, workspaceId: string, stored: string): Promise<string> {
    const [prefix, keyId, body] = stored.split(':');
    if (prefix !== PREFIX || !keyId || body === undefined) throw new Error('not an encrypted secret');
    const dataKey = await this.dataKeyOf(db, workspaceId);
    if (dataKey.id !== keyId) throw new Error('secret was encrypted with another workspace key');
    return open(dataKey.key, Buffer.from(body, 'base64url'), `${workspaceId}:${keyId}`).toString('utf8');
  }

  async decryptOptional(db: Executor, workspaceId: string, stored: string | null): Promise<string | null> {
    return stored === null ? null : this.decrypt(db, workspaceId, stored);
  }

  private dataKeyOf(db: Executor, workspaceId: string): Promise<DataKey> {
    const cached = this.byWorkspace.get(workspaceId);
    if (cached) return Promise.resolve(cached);
    let pending = this.pending.get(workspaceId);
    if (!pending) {
      pending = this.loadOrCreate(db, workspaceId).finally(() => this.pending.delete(workspaceId));
      this.pending.set(workspaceId, pending);
    }
    return pending;
  }

  private async loadOrCreate(db: Executor, workspaceId: string): Promise<DataKey> {
    let row = await repo.findWorkspaceKey(db, workspaceId);
    if (!row) {
      const id = newId();
      const key = newDataKey();
      const at = now();
      try {
        await repo.insertWorkspaceKey(db, {
          id,
          workspace_id: workspaceId,
          wrapped_key: seal(this.keyring.current, key, `${workspaceId}:${id}`).toString('base64'),
          master_key_id: this.currentId,
          created_at: at,
          updated_at: at,
        });
        const created = { id, key };
        this.byWorkspace.set(workspaceId, created);
        return created;
      } catch (error) {
        // Another process created it first: use theirs.
        if (!isUniqueViolation(error)) throw error;
        row = await repo.findWorkspaceKey(db, workspaceId);
        if (!row) throw error;
      }
    }
    const master = this.masterKeys.get(row.master_key_id);
    if (!master) throw new MasterKeyMismatchError([row.master_key_id]);
    const dataKey = { id: row.id, key: open(master, Buffer.from(row.wrapped_key, 'base64'), `${workspaceId}:${row.id}`) };
    this.byWorkspace.set(workspaceId, dataKey);
    return dataKey;
  }
}

const boxes = new WeakMap<AppContext, SecretBox>();

/** The process's SecretBox for this context. */
export function secretsOf(ctx: AppContext): SecretBox {
  let box = boxes.get(ctx);
  if (!box) {
    box = new SecretBox(keyringOf(ctx));
    boxes.set(ctx, box);
  }
  return box;
}
