import type { AuthenticationConfigValue } from '../providers/providers.schemas.js';
import type { AuthenticationStrategy } from '../providers/providers.table.js';
import type { AccountCredentials } from './accounts.service.js';

/** The parts of an outgoing request that carry credentials. Header names are lower-case. */
export interface CredentialTarget {
  url: URL;
  headers: Record<string, string>;
}

/**
 * Puts an account's credentials on a request to a tool or MCP server, the way the provider's
 * `authentication_config` says:
 *
 * - `basic`: `Authorization: Basic base64(username:password)`;
 * - `token` (and `none` when the account holds an optional token anyway): by `token.type`:
 *   `bearer` (default) → `Authorization: Bearer`, `header` → the `token.key` header, `query` →
 *   the `token.key` query parameter, `basic` → `Authorization: Basic base64(token:)`;
 * - `oauth2`: `Authorization: Bearer <access token>`.
 *
 * Then the provider's fixed `token.headers` (not for oauth2, whose headers are for its token URL).
 */
export function injectCredentials(
  target: CredentialTarget,
  strategy: AuthenticationStrategy,
  config: AuthenticationConfigValue,
  credentials: AccountCredentials,
  accessToken: string | null = null,
): void {
  const { headers, url } = target;
  if (strategy === 'oauth2') {
    if (accessToken) headers.authorization = `Bearer ${accessToken}`;
    return;
  }
  if (strategy === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${credentials.username ?? ''}:${credentials.password ?? ''}`).toString('base64')}`;
  } else if (credentials.token) {
    const type = config.token?.type ?? 'bearer';
    const key = config.token?.key ?? 'Authorization';
    if (type === 'query') url.searchParams.set(key, credentials.token);
    else if (type === 'header') headers[key.toLowerCase()] = credentials.token;
    else if (type === 'basic') headers.authorization = `Basic ${Buffer.from(`${credentials.token}:`).toString('base64')}`;
    else headers.authorization = `Bearer ${credentials.token}`;
  }
  for (const [name, value] of Object.entries(config.token?.headers ?? {})) headers[name.toLowerCase()] = String(value);
}

/** Every form in which an account's secrets could come back in a server's answer. */
export function secretStringsOf(credentials: AccountCredentials, accessToken: string | null = null): string[] {
  const secrets = [credentials.token, credentials.password, credentials.accessToken, credentials.refreshToken, accessToken];
  if (credentials.password !== null) {
    secrets.push(Buffer.from(`${credentials.username ?? ''}:${credentials.password}`).toString('base64'));
  }
  if (credentials.token) {
    secrets.push(Buffer.from(`${credentials.token}:`).toString('base64'), encodeURIComponent(credentials.token));
  }
  return [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4))];
}

/** Masks secrets in text a server answered (some echo the key they were given). */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) if (result.includes(secret)) result = result.split(secret).join('********');
  return result;
}
