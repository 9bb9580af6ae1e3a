import { describe, expect, it } from 'vitest';
import { PrincipalCache } from '../../src/modules/auth/principal-cache.js';
import type { Principal } from '../../src/modules/auth/auth.service.js';

const principal = (userId: number, tokenId: string | null, primary = 'ws-1'): Principal =>
  ({ user: { id: userId, primary_workspace_id: primary }, via: 'session', tokenId }) as unknown as Principal;

describe('PrincipalCache', () => {
  it('remembers a principal until its TTL', async () => {
    const cache = new PrincipalCache(30);
    cache.set('k', principal(1, 't1'), undefined, 0);
    expect(cache.get('k', Date.now())?.principal.user.id).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(cache.get('k', Date.now())).toBeUndefined();
  });

  it('never outlives the token’s own expiry', () => {
    const cache = new PrincipalCache(60_000);
    cache.set('k', principal(1, 't1'), 1000, 0);
    expect(cache.get('k', 999)).toBeDefined();
    expect(cache.get('k', 1000)).toBeUndefined();
  });

  it('forgets by user, by token and by primary workspace', () => {
    const cache = new PrincipalCache(60_000);
    cache.set('a', principal(1, 't1'), undefined, 0);
    cache.set('b', principal(1, 't2'), undefined, 0);
    cache.set('c', principal(2, 't3', 'ws-2'), undefined, 0);
    cache.set('d', principal(3, 't4', 'ws-3'), undefined, 0);

    cache.forgetToken('t3');
    expect(cache.get('c', 0)).toBeUndefined();
    expect(cache.get('a', 0)).toBeDefined();

    cache.forgetUser({ id: 1 });
    expect(cache.get('a', 0)).toBeUndefined();
    expect(cache.get('b', 0)).toBeUndefined();

    cache.forgetWorkspace('ws-3');
    expect(cache.get('d', 0)).toBeUndefined();
  });

  it('with a TTL of 0 remembers nothing', () => {
    const cache = new PrincipalCache(0);
    cache.set('k', principal(1, 't1'), undefined, 0);
    expect(cache.get('k', 0)).toBeUndefined();
  });
});
