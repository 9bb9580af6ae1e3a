import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sendJson, startFakeServer, type FakeServer } from './http-fake.js';

export interface FakeOAuth2Options {
  clientId: string;
  clientSecret: string;
  /** Lifetime of access tokens, in seconds. */
  expiresIn?: number;
  /** Every refresh also replaces the refresh token (as many providers do). */
  rotateRefreshTokens?: boolean;
}

export interface FakeOAuth2Server extends FakeServer {
  /** Number of successful refresh_token grants. */
  refreshCount(): number;
  /** Refreshes answer `invalid_grant` while true. */
  failRefresh: boolean;
  /** Each refresh waits this long before answering (to make concurrent refreshes overlap). */
  refreshDelayMs: number;
  /** Makes an access token invalid before it expires (revoked at the provider). */
  invalidateAccessToken(token: string): void;
  /** Tokens posted to the revocation endpoint. */
  revoked: string[];
  /** Access tokens issued, newest last. */
  issuedAccessTokens: string[];
  /** Refresh tokens issued, newest last. */
  issuedRefreshTokens: string[];
  /** Every PKCE challenge method seen at /authorize. */
  challengeMethods: Array<string | null>;
}

interface Grant {
  clientId: string;
  redirectUri: string;
  challenge: string | null;
  scope: string;
}

function token(prefix: string): string {
  return `${prefix}_${randomBytes(18).toString('base64url')}`;
}

/**
 * A real OAuth2 authorization server (RFC 6749 code grant with RFC 7636 PKCE, refresh tokens,
 * RFC 7009 revocation) and a user-info endpoint. It approves every authorization at once.
 */
export async function startFakeOAuth2(options: FakeOAuth2Options): Promise<FakeOAuth2Server> {
  const codes = new Map<string, Grant>();
  const access = new Map<string, { expiresAt: number; scope: string }>();
  const refresh = new Set<string>();
  let refreshes = 0;
  const state = {
    failRefresh: false,
    refreshDelayMs: 0,
    revoked: [] as string[],
    issuedAccessTokens: [] as string[],
    issuedRefreshTokens: [] as string[],
    challengeMethods: [] as Array<string | null>,
  };

  const issue = (scope: string, refreshToken?: string) => {
    const accessToken = token('at');
    const expiresIn = options.expiresIn ?? 3600;
    access.set(accessToken, { expiresAt: Date.now() + expiresIn * 1000, scope });
    state.issuedAccessTokens.push(accessToken);
    const newRefresh = refreshToken ?? token('rt');
    refresh.add(newRefresh);
    if (!refreshToken) state.issuedRefreshTokens.push(newRefresh);
    return { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn, refresh_token: newRefresh, scope };
  };

  const clientOk = (headers: Record<string, string | string[] | undefined>, form: URLSearchParams) => {
    const basic = typeof headers.authorization === 'string' && headers.authorization.startsWith('Basic ')
      ? Buffer.from(headers.authorization.slice(6), 'base64').toString('utf8').split(':').map(decodeURIComponent)
      : undefined;
    const id = basic?.[0] ?? form.get('client_id');
    const secret = basic?.[1] ?? form.get('client_secret');
    return id === options.clientId && secret === options.clientSecret;
  };

  let fake: FakeOAuth2Server | undefined;
  const server = await startFakeServer(async (request, response) => {
    if (request.method === 'GET' && request.path === '/authorize') {
      const q = request.query;
      if (q.get('client_id') !== options.clientId || q.get('response_type') !== 'code' || !q.get('redirect_uri')) {
        sendJson(response, 400, { error: 'invalid_request', error_description: 'bad authorization request' });
        return;
      }
      state.challengeMethods.push(q.get('code_challenge_method'));
      const code = token('code');
      codes.set(code, {
        clientId: q.get('client_id')!,
        redirectUri: q.get('redirect_uri')!,
        challenge: q.get('code_challenge'),
        scope: q.get('scope') ?? '',
      });
      const target = new URL(q.get('redirect_uri')!);
      target.searchParams.set('code', code);
      if (q.get('state')) target.searchParams.set('state', q.get('state')!);
      response.writeHead(302, { location: target.toString() });
      response.end();
      return;
    }

    if (request.method === 'POST' && request.path === '/token') {
      const form = new URLSearchParams(request.body);
      if (!clientOk(request.headers, form)) {
        sendJson(response, 401, { error: 'invalid_client', error_description: 'Client authentication failed.' });
        return;
      }
      if (form.get('grant_type') === 'authorization_code') {
        const grant = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        if (!grant || grant.redirectUri !== form.get('redirect_uri')) {
          sendJson(response, 400, { error: 'invalid_grant', error_description: 'The authorization code is invalid or was already used.' });
          return;
        }
        if (grant.challenge !== null) {
          const verifier = form.get('code_verifier') ?? '';
          if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
            sendJson(response, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed.' });
            return;
          }
        }
        sendJson(response, 200, issue(grant.scope), { 'cache-control': 'no-store' });
        return;
      }
      if (form.get('grant_type') === 'refresh_token') {
        if (fake!.refreshDelayMs) await sleep(fake!.refreshDelayMs);
        const old = form.get('refresh_token') ?? '';
        if (fake!.failRefresh || !refresh.has(old)) {
          sendJson(response, 400, { error: 'invalid_grant', error_description: 'The refresh token is invalid or expired.' });
          return;
        }
        refreshes += 1;
        if (options.rotateRefreshTokens) {
          refresh.delete(old);
          sendJson(response, 200, issue(''), { 'cache-control': 'no-store' });
        } else {
          const { refresh_token: _unused, ...rest } = issue('', old);
          sendJson(response, 200, rest, { 'cache-control': 'no-store' });
        }
        return;
      }
      sendJson(response, 400, { error: 'unsupported_grant_type' });
      return;
    }

    if (request.method === 'GET' && request.path === '/userinfo') {
      const authorization = request.headers.authorization ?? '';
      const grant = authorization.startsWith('Bearer ') ? access.get(authorization.slice(7)) : undefined;
      if (!grant || grant.expiresAt < Date.now()) {
        response.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: 'invalid_token', error_description: 'The access token is invalid or expired.' }));
        return;
      }
      sendJson(response, 200, { sub: 'oauth-user-42', email: 'ada@provider.test', name: 'Ada' });
      return;
    }

    if (request.method === 'POST' && request.path === '/revoke') {
      const form = new URLSearchParams(request.body);
      const revokedToken = form.get('token') ?? '';
      state.revoked.push(revokedToken);
      access.delete(revokedToken);
      refresh.delete(revokedToken);
      response.writeHead(200);
      response.end();
      return;
    }

    sendJson(response, 404, { error: 'not_found' });
  });

  // The handler reads the switches from the returned object, so tests flip them there.
  fake = Object.assign(server, state, {
    refreshCount: () => refreshes,
    invalidateAccessToken: (accessToken: string) => void access.delete(accessToken),
  });
  return fake;
}
