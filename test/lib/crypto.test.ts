import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { masterKeyId, open, seal } from '../../src/lib/crypto/aes-gcm.js';

describe('AES-256-GCM sealing', () => {
  const key = randomBytes(32);

  it('opens what it sealed, with the same additional data only', () => {
    const sealed = seal(key, Buffer.from('sk-secret'), 'workspace-a:key-1');
    expect(open(key, sealed, 'workspace-a:key-1').toString()).toBe('sk-secret');
    expect(() => open(key, sealed, 'workspace-b:key-1')).toThrow();
    expect(() => open(randomBytes(32), sealed, 'workspace-a:key-1')).toThrow();
  });

  it('detects tampering', () => {
    const sealed = seal(key, Buffer.from('sk-secret'));
    sealed[sealed.length - 1]! ^= 1;
    expect(() => open(key, sealed)).toThrow();
  });

  it('never reuses an IV', () => {
    const ivs = new Set(Array.from({ length: 3000 }, () => seal(key, Buffer.from('x')).subarray(0, 12).toString('hex')));
    expect(ivs.size).toBe(3000);
  });

  it('names a master key by an id that is stable and reveals nothing of it', () => {
    expect(masterKeyId(key)).toBe(masterKeyId(Buffer.from(key)));
    expect(masterKeyId(key)).toMatch(/^[0-9a-f]{16}$/);
    expect(masterKeyId(key)).not.toBe(masterKeyId(randomBytes(32)));
    expect(key.toString('hex')).not.toContain(masterKeyId(key));
  });
});

describe('ATHENA_ENCRYPTION_KEY_PREVIOUS', () => {
  it('takes a comma-separated list of keys in hex or base64', () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const config = loadConfig({ ATHENA_ENCRYPTION_KEY_PREVIOUS: `${a.toString('hex')}, ${b.toString('base64')}` });
    expect(config.encryptionKeyPrevious).toEqual([a, b]);
    expect(loadConfig({}).encryptionKeyPrevious).toEqual([]);
  });

  it('refuses a malformed key without echoing it', () => {
    let error: unknown;
    try {
      loadConfig({ ATHENA_ENCRYPTION_KEY_PREVIOUS: 'not-a-key-at-all' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('ATHENA_ENCRYPTION_KEY_PREVIOUS');
    expect((error as Error).message).not.toContain('not-a-key-at-all');
  });
});
