import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';

export interface FakeIdentityProvider {
  issuer: string;
  jwksUrl: string;
  /** Requests the JWKS endpoint has answered. */
  jwksRequests: number;
  /** Signs a token with the published key (or with a key the JWKS does not publish). */
  sign(claims: JWTPayload, options?: { audience?: string; issuer?: string; expiresIn?: string | number; foreignKey?: boolean }): Promise<string>;
  close(): Promise<void>;
}

/**
 * An identity provider on loopback that publishes its signing key as a real JWKS document,
 * the way Auth0, Keycloak or the Multiplai app do, so tokens are verified end to end.
 */
export async function startFakeIdentityProvider(audience: string): Promise<FakeIdentityProvider> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const foreign = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

  const state = { jwksRequests: 0 };
  const server = http.createServer((request, response) => {
    if (request.url === '/.well-known/jwks.json') {
      state.jwksRequests += 1;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys: [jwk] }));
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}/`;

  return {
    issuer,
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get jwksRequests() {
      return state.jwksRequests;
    },
    async sign(claims, options = {}) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key-1' })
        .setIssuer(options.issuer ?? issuer)
        .setAudience(options.audience ?? audience)
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '10m')
        .sign(options.foreignKey ? foreign.privateKey : privateKey);
    },
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
