/**
 * The two HTTP surfaces share one server but answer errors differently: the platform API in
 * Laravel's shape, the customer-accounts API (`/v1`) in NestJS's shape with seed 000's messages.
 */
export type Surface = 'platform' | 'thena';

export function surfaceOf(url: string): Surface {
  return url === '/v1' || url.startsWith('/v1/') || url.startsWith('/v1?') ? 'thena' : 'platform';
}
