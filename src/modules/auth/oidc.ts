import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

export interface OidcIdentity {
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
  name: string | undefined;
  givenName: string | undefined;
  familyName: string | undefined;
  picture: string | undefined;
  /** The token's `exp`, in ms since epoch. */
  expiresAt: number | undefined;
}

export interface OidcVerifier {
  /** The identity in a valid app access token; throws when the token is not valid. */
  verify(token: string): Promise<OidcIdentity>;
}

const stringClaim = (payload: JWTPayload, name: string): string | undefined => {
  const value = payload[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
};

/**
 * Verifies JWTs from the external identity provider ("Multiplai App" in seed 004) against its
 * JWKS, issuer and audience. Keys are cached and refetched when an unknown key id shows up.
 */
export function createOidcVerifier(options: { issuer: string; audience: string; jwksUrl: string }): OidcVerifier {
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
  return {
    async verify(token) {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: 30,
      });
      if (!payload.sub) throw new Error('The token has no subject.');
      return {
        subject: payload.sub,
        email: stringClaim(payload, 'email')?.toLowerCase(),
        emailVerified: payload.email_verified === true,
        name: stringClaim(payload, 'name'),
        givenName: stringClaim(payload, 'given_name'),
        familyName: stringClaim(payload, 'family_name'),
        picture: stringClaim(payload, 'picture'),
        expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
      };
    },
  };
}
