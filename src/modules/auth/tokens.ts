import { createHash, randomBytes } from 'node:crypto';
import type { AccessTokenKind } from './auth.table.js';

const PREFIXES: Record<AccessTokenKind, string> = { session: 'ath_at_', personal: 'ath_pat_' };

export interface IssuedToken {
  /** The secret the client keeps; shown once. */
  plain: string;
  hash: string;
  /** Prefix and last four characters, safe to list. */
  hint: string;
}

/**
 * A new opaque token: a recognisable prefix (so secret scanners can find leaked ones) and 256
 * random bits. Only its SHA-256 is stored; the random part makes a slow hash unnecessary.
 */
export function issueToken(kind: AccessTokenKind): IssuedToken {
  const plain = PREFIXES[kind] + randomBytes(32).toString('base64url');
  return { plain, hash: hashToken(plain), hint: `${PREFIXES[kind]}…${plain.slice(-4)}` };
}

export function hashToken(plain: string): string {
  return createHash('sha256').update(plain).digest('hex');
}

/** A JWT has three base64url parts; opaque tokens never contain a dot. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}
