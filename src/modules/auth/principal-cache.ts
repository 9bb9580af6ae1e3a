import { LRUCache } from 'lru-cache';
import type { UserRow } from '../users/users.table.js';
import type { Principal } from './auth.service.js';

interface Entry {
  principal: Principal;
  /** When the token itself expires (ms since epoch), if it does. */
  tokenExpiresAt: number | undefined;
  /** When last_used_at was last written for this token (ms since epoch). */
  touchedAt: number;
}

/**
 * Authenticated principals by credential hash, for a few seconds. Every request otherwise
 * pays a database round trip to learn who it is. Logout, revocation and user changes made
 * through this process evict at once; another process of a fleet sees them within the TTL
 * (ATHENA_AUTH_CACHE_TTL, 0 turns the cache off).
 */
export class PrincipalCache {
  private readonly entries: LRUCache<string, Entry> | undefined;
  private readonly keysByUser = new Map<number, Set<string>>();

  constructor(ttlMs: number, max = 10_000) {
    this.entries =
      ttlMs > 0
        ? new LRUCache<string, Entry>({
            max,
            ttl: ttlMs,
            dispose: (entry, key) => this.unindex(entry.principal.user.id, key),
          })
        : undefined;
  }

  get(key: string, now: number): Entry | undefined {
    const entry = this.entries?.get(key);
    if (!entry) return undefined;
    if (entry.tokenExpiresAt !== undefined && entry.tokenExpiresAt <= now) {
      this.entries!.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, principal: Principal, tokenExpiresAt: number | undefined, touchedAt: number): void {
    if (!this.entries) return;
    this.entries.set(key, { principal, tokenExpiresAt, touchedAt });
    let keys = this.keysByUser.get(principal.user.id);
    if (!keys) this.keysByUser.set(principal.user.id, (keys = new Set()));
    keys.add(key);
  }

  /** Forgets every credential of the user (their row changed, or their tokens were revoked). */
  forgetUser(user: Pick<UserRow, 'id'>): void {
    for (const key of [...(this.keysByUser.get(user.id) ?? [])]) this.entries?.delete(key);
    this.keysByUser.delete(user.id);
  }

  /** Forgets every principal whose primary workspace this is (it or a membership in it changed). */
  forgetWorkspace(workspaceId: string): void {
    if (!this.entries) return;
    for (const [key, entry] of this.entries.entries()) {
      if (entry.principal.user.primary_workspace_id === workspaceId) this.entries.delete(key);
    }
  }

  /** Forgets one token, whichever way it was presented. */
  forgetToken(tokenId: string): void {
    if (!this.entries) return;
    for (const [key, entry] of this.entries.entries()) if (entry.principal.tokenId === tokenId) this.entries.delete(key);
  }

  private unindex(userId: number, key: string): void {
    const keys = this.keysByUser.get(userId);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.keysByUser.delete(userId);
  }
}
