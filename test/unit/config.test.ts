import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env, '/srv/athena');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('loadConfig', () => {
  it('defaults to SQLite in ./data on 127.0.0.1:3000 with open registration', () => {
    const config = loadConfig({}, '/srv/athena');
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      dataDir: path.resolve('/srv/athena', 'data'),
      databaseUrl: undefined,
      registration: 'open',
      bodyLimit: 1024 * 1024,
      rateLimit: { perToken: 600, perIp: 1200, windowMs: 60_000 },
      oidc: undefined,
      accessLog: false,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every documented variable', () => {
    const config = loadConfig(
      {
        PORT: '8080',
        HOST: '0.0.0.0',
        ATHENA_DATA_DIR: '/var/lib/athena',
        DATABASE_URL: 'postgres://athena@db:5432/athena',
        ATHENA_ADMIN_EMAIL: 'Root@Example.test',
        ATHENA_ADMIN_PASSWORD: 'long enough',
        ATHENA_ENCRYPTION_KEY: 'ab'.repeat(32),
        ATHENA_REGISTRATION: 'closed',
        ATHENA_OIDC_ISSUER: 'https://id.example.test/',
        ATHENA_OIDC_AUDIENCE: 'athena',
        ATHENA_OIDC_JWKS_URL: 'https://id.example.test/jwks.json',
        ATHENA_BODY_LIMIT: '256kb',
        ATHENA_RATE_LIMIT_PER_TOKEN: '50',
        ATHENA_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
      },
      '/',
    );
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      dataDir: '/var/lib/athena',
      databaseUrl: 'postgres://athena@db:5432/athena',
      adminEmail: 'root@example.test',
      registration: 'closed',
      oidc: { issuer: 'https://id.example.test/', audience: 'athena', jwksUrl: 'https://id.example.test/jwks.json' },
      bodyLimit: 256 * 1024,
      rateLimit: { perToken: 50 },
      trustProxy: ['10.0.0.0/8', '127.0.0.1'],
    });
    expect(config.encryptionKey).toEqual(Buffer.alloc(32, 0xab));
  });

  it('reads a number in ATHENA_TRUST_PROXY as a count of proxies', () => {
    expect(loadConfig({ ATHENA_TRUST_PROXY: '2' }).trustProxy).toBe(2);
  });

  it('accepts the encryption key in base64 too', () => {
    const key = Buffer.alloc(32, 7);
    expect(loadConfig({ ATHENA_ENCRYPTION_KEY: key.toString('base64') }).encryptionKey).toEqual(key);
  });

  it('collects every problem at once, naming variables and never echoing values', () => {
    const problems = problemsOf({
      PORT: '70000',
      DATABASE_URL: 'mysql://secret-host/db',
      ATHENA_ADMIN_EMAIL: 'admin@example.test',
      ATHENA_ENCRYPTION_KEY: 'too-short-secret',
      ATHENA_REGISTRATION: 'maybe',
      ATHENA_OIDC_ISSUER: 'https://id.example.test/',
      ATHENA_BODY_LIMIT: 'lots',
      LOG_LEVEL: 'loud',
    });
    expect(problems).toEqual([
      'PORT must be between 0 and 65535.',
      'DATABASE_URL must be a URL starting with postgres:// or postgresql://.',
      'ATHENA_ADMIN_EMAIL and ATHENA_ADMIN_PASSWORD must be set together.',
      'ATHENA_ENCRYPTION_KEY must be 32 random bytes, written as 64 hex characters or in base64.',
      'ATHENA_OIDC_ISSUER, ATHENA_OIDC_AUDIENCE and ATHENA_OIDC_JWKS_URL must be set together.',
      'ATHENA_REGISTRATION must be one of: open, closed.',
      'ATHENA_BODY_LIMIT must be a size in bytes, optionally with kb or mb (for example 1mb).',
      'LOG_LEVEL must be one of: fatal, error, warn, info, debug, trace, silent.',
    ]);
    expect(problems.join('\n')).not.toMatch(/secret|mysql|lots|loud|maybe/);
  });

  it('refuses a short admin password and an out-of-range rate limit', () => {
    expect(problemsOf({ ATHENA_ADMIN_EMAIL: 'a@b.test', ATHENA_ADMIN_PASSWORD: 'short' })).toEqual([
      'ATHENA_ADMIN_PASSWORD must be at least 8 characters long.',
    ]);
    expect(problemsOf({ ATHENA_RATE_LIMIT_PER_IP: '0' })).toEqual(['ATHENA_RATE_LIMIT_PER_IP must be between 1 and 10000000.']);
  });
});
