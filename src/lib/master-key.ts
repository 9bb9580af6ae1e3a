import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { decodeKey, type Config } from '../config.js';

export const KEY_FILE = 'encryption.key';

/**
 * The master key for secrets at rest: ATHENA_ENCRYPTION_KEY when set, else a key generated
 * once into the data dir (mode 0600) and read back on every later start.
 */
export function loadMasterKey(config: Config): Buffer {
  if (config.encryptionKey) return config.encryptionKey;
  const file = path.join(config.dataDir, KEY_FILE);
  fs.mkdirSync(config.dataDir, { recursive: true });
  try {
    fs.writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    // Already there (an earlier start, or another process won the race): use it.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const key = decodeKey(fs.readFileSync(file, 'utf8').trim());
  if (!key) {
    throw new Error(`The key file ${file} does not hold a valid key (64 hex characters). Restore it, or set ATHENA_ENCRYPTION_KEY.`);
  }
  return key;
}
