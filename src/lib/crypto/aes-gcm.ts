import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Random IVs are drawn from a pooled buffer: one system call per 512 encryptions, not one each. */
const IV_POOL_SIZE = 512;
let ivPool = Buffer.alloc(0);
let ivOffset = 0;

function nextIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(IV_BYTES * IV_POOL_SIZE);
    ivOffset = 0;
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + IV_BYTES);
  ivOffset += IV_BYTES;
  return iv;
}

/** AES-256-GCM: iv ‖ tag ‖ ciphertext. `aad` binds the ciphertext to its context (a workspace, a key id). */
export function seal(key: Buffer, plaintext: Buffer, aad?: string): Buffer {
  const iv = nextIv();
  const cipher = createCipheriv(ALGORITHM, key, iv);
  if (aad !== undefined) cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

/** Opens what `seal` produced; throws when the key, the AAD or the bytes are wrong. */
export function open(key: Buffer, sealed: Buffer, aad?: string): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value is too short');
  const decipher = createDecipheriv(ALGORITHM, key, sealed.subarray(0, IV_BYTES));
  if (aad !== undefined) decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}

/**
 * A master key's public id: an HMAC of a constant under the key. Stored beside everything the key
 * wraps, so a start with another key is caught before any secret is read; it reveals nothing of the key.
 */
export function masterKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('athena master key id v1').digest('hex').slice(0, 16);
}

export function newDataKey(): Buffer {
  return randomBytes(32);
}
