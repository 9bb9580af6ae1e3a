import { isIP } from 'node:net';
import path from 'node:path';

/** Everything Athena reads from its environment, parsed once at start and frozen. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  /** PostgreSQL schema holding Athena's tables (tests isolate themselves with it). */
  readonly databaseSchema: string | undefined;
  readonly databasePoolSize: number;
  readonly adminEmail: string | undefined;
  readonly adminPassword: string | undefined;
  /** Raw 32-byte master key when given by ATHENA_ENCRYPTION_KEY; otherwise generated into the data dir. */
  readonly encryptionKey: Buffer | undefined;
  /** Earlier master keys, still accepted to unwrap data keys while `athena keys:rotate` moves them to the current one. */
  readonly encryptionKeyPrevious: readonly Buffer[];
  /** Hosts and CIDRs that outbound calls on a user's behalf may reach although private or loopback. */
  readonly outboundAllow: readonly string[];
  /** Time limit of one outbound call to a provider or tool. */
  readonly outboundTimeoutMs: number;
  /** Model calls: time limit of one call, retries of 429/5xx answers and the time they may take in all. */
  readonly model: {
    readonly timeoutMs: number;
    readonly maxRetries: number;
    readonly retryBudgetMs: number;
    /** Upper bound of an agent's tool-loop steps (each agent picks its own below it). */
    readonly maxSteps: number;
  };
  /** How long a streamed run whose client went away keeps going, waiting for a resume (Last-Event-ID). */
  readonly streamResumeWindowMs: number;
  /** Largest file `POST /api/v1/media` accepts. */
  readonly mediaMaxBytes: number;
  /** Redis for scale mode (BullMQ queues shared by API and worker processes); unset: embedded mode. */
  readonly redisUrl: string | undefined;
  readonly workflows: {
    /** Executions one process runs at a time. */
    readonly concurrency: number;
    /** How long a runner's claim on an execution lasts without renewal; a dead runner's work is taken over after it. */
    readonly leaseMs: number;
    /** How often runners look for due, orphaned and waiting executions. */
    readonly pollMs: number;
    /** Default cap on node runs per execution (runaway loops). */
    readonly maxNodeRuns: number;
    /** A node's input or output larger than this is kept in a file under the data dir. */
    readonly maxNodeDataBytes: number;
    /** How long a webhook or `execute?wait=true` call waits for the answer before a 202. */
    readonly webhookTimeoutMs: number;
    /** Global retention of finished executions (a workflow's own settings may keep fewer). */
    readonly retentionDays: number;
    readonly retentionCount: number;
    /** The code node's sandbox. */
    readonly codeTimeoutMs: number;
    readonly codeMemoryBytes: number;
    /** Worker threads that run code nodes; 0: one less than the cores (at least 1, at most 4). */
    readonly codeWorkers: number;
  };
  readonly registration: 'open' | 'closed';
  readonly oidc: { readonly issuer: string; readonly audience: string; readonly jwksUrl: string } | undefined;
  readonly publicUrl: string | undefined;
  readonly trustProxy: boolean | number | string[];
  readonly bodyLimit: number;
  readonly rateLimit: { readonly perToken: number; readonly perIp: number; readonly windowMs: number };
  readonly signIn: { readonly maxAttemptsPerAccount: number; readonly maxAttemptsPerIp: number; readonly lockoutMs: number };
  readonly accessTokenTtlSeconds: number;
  /** How long an authenticated principal is remembered in-process; 0 turns the cache off. */
  readonly authCacheTtlMs: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** One log line per answered request. */
  readonly accessLog: boolean;
  readonly metricsToken: string | undefined;
  readonly shutdownTimeoutMs: number;
  /** scrypt cost parameter N (a power of two). Lowered only by tests. */
  readonly passwordHashCost: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Parses and validates the environment. Every problem is collected so the operator fixes them
 * in one go; messages name the variable but never echo its value (it may be a secret).
 */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw)) {
      problems.push(`${name} must be a whole number between ${min} and ${max}.`);
      return fallback;
    }
    const value = Number(raw);
    if (value < min || value > max) {
      problems.push(`${name} must be between ${min} and ${max}.`);
      return fallback;
    }
    return value;
  };

  const url = (name: string, protocols: string[]): string | undefined => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        problems.push(`${name} must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}.`);
        return undefined;
      }
      return raw;
    } catch {
      problems.push(`${name} must be a valid URL.`);
      return undefined;
    }
  };

  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      problems.push(`${name} must be one of: ${allowed.join(', ')}.`);
      return fallback;
    }
    return raw as T;
  };

  const port = integer('PORT', 3000, 0, 65535);
  const host = read('HOST') ?? '127.0.0.1';
  const dataDir = path.resolve(cwd, read('ATHENA_DATA_DIR') ?? './data');
  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const databaseSchema = read('ATHENA_DATABASE_SCHEMA');
  if (databaseSchema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(databaseSchema)) {
    problems.push('ATHENA_DATABASE_SCHEMA must be a lower-case SQL identifier (letters, digits, underscores).');
  }

  const adminEmail = read('ATHENA_ADMIN_EMAIL');
  const adminPassword = env.ATHENA_ADMIN_PASSWORD === '' ? undefined : env.ATHENA_ADMIN_PASSWORD;
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    problems.push('ATHENA_ADMIN_EMAIL and ATHENA_ADMIN_PASSWORD must be set together.');
  }
  if (adminEmail !== undefined && !EMAIL_PATTERN.test(adminEmail)) {
    problems.push('ATHENA_ADMIN_EMAIL must be an email address.');
  }
  if (adminPassword !== undefined && adminPassword.length < 8) {
    problems.push('ATHENA_ADMIN_PASSWORD must be at least 8 characters long.');
  }

  const encryptionKey = parseEncryptionKey(read('ATHENA_ENCRYPTION_KEY'), problems);
  const encryptionKeyPrevious = parsePreviousKeys(read('ATHENA_ENCRYPTION_KEY_PREVIOUS'), problems);
  const outboundAllow = parseOutboundAllow(read('ATHENA_OUTBOUND_ALLOW'), problems);

  const issuer = url('ATHENA_OIDC_ISSUER', ['https:', 'http:']);
  const audience = read('ATHENA_OIDC_AUDIENCE');
  const jwksUrl = url('ATHENA_OIDC_JWKS_URL', ['https:', 'http:']);
  const oidcSet = [read('ATHENA_OIDC_ISSUER'), audience, read('ATHENA_OIDC_JWKS_URL')].filter((v) => v !== undefined).length;
  if (oidcSet > 0 && oidcSet < 3) {
    problems.push('ATHENA_OIDC_ISSUER, ATHENA_OIDC_AUDIENCE and ATHENA_OIDC_JWKS_URL must be set together.');
  }

  const publicUrl = url('ATHENA_PUBLIC_URL', ['https:', 'http:'])?.replace(/\/+$/, '');

  const config: Config = {
    port,
    host,
    dataDir,
    databaseUrl,
    databaseSchema,
    databasePoolSize: integer('ATHENA_DATABASE_POOL_SIZE', 10, 1, 500),
    adminEmail: adminEmail?.toLowerCase(),
    adminPassword,
    encryptionKey,
    encryptionKeyPrevious,
    outboundAllow,
    outboundTimeoutMs: integer('ATHENA_OUTBOUND_TIMEOUT', 10, 1, 300) * 1000,
    model: {
      timeoutMs: integer('ATHENA_MODEL_TIMEOUT', 120, 1, 3600) * 1000,
      maxRetries: integer('ATHENA_MODEL_MAX_RETRIES', 3, 0, 10),
      retryBudgetMs: integer('ATHENA_MODEL_RETRY_BUDGET', 30, 0, 600) * 1000,
      maxSteps: integer('ATHENA_AGENT_MAX_STEPS', 20, 1, 100),
    },
    streamResumeWindowMs: integer('ATHENA_STREAM_RESUME_WINDOW', 10, 0, 600) * 1000,
    mediaMaxBytes: parseByteSize('ATHENA_MEDIA_MAX_BYTES', read('ATHENA_MEDIA_MAX_BYTES'), 10 * 1024 * 1024, problems),
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:']),
    workflows: {
      concurrency: integer('ATHENA_WORKFLOW_CONCURRENCY', 256, 1, 10_000),
      leaseMs: integer('ATHENA_WORKFLOW_LEASE_MS', 30_000, 1000, 3_600_000),
      pollMs: integer('ATHENA_WORKFLOW_POLL_MS', 1000, 50, 60_000),
      maxNodeRuns: integer('ATHENA_WORKFLOW_MAX_NODE_RUNS', 10_000, 1, 1_000_000),
      maxNodeDataBytes: parseByteSize('ATHENA_WORKFLOW_MAX_NODE_DATA', read('ATHENA_WORKFLOW_MAX_NODE_DATA'), 256 * 1024, problems),
      webhookTimeoutMs: integer('ATHENA_WEBHOOK_TIMEOUT', 30, 1, 300) * 1000,
      retentionDays: integer('ATHENA_EXECUTION_RETENTION_DAYS', 30, 1, 36_500),
      retentionCount: integer('ATHENA_EXECUTION_RETENTION_COUNT', 10_000, 1, 100_000_000),
      codeTimeoutMs: integer('ATHENA_CODE_TIMEOUT_MS', 5_000, 10, 300_000),
      codeMemoryBytes: parseByteSize('ATHENA_CODE_MEMORY', read('ATHENA_CODE_MEMORY'), 64 * 1024 * 1024, problems),
      codeWorkers: integer('ATHENA_CODE_WORKERS', 0, 0, 64),
    },
    registration: oneOf('ATHENA_REGISTRATION', ['open', 'closed'] as const, 'open'),
    oidc: issuer && audience && jwksUrl ? { issuer, audience, jwksUrl } : undefined,
    publicUrl,
    trustProxy: parseTrustProxy(read('ATHENA_TRUST_PROXY')),
    bodyLimit: parseByteSize('ATHENA_BODY_LIMIT', read('ATHENA_BODY_LIMIT'), 1024 * 1024, problems),
    rateLimit: {
      perToken: integer('ATHENA_RATE_LIMIT_PER_TOKEN', 600, 1, 10_000_000),
      perIp: integer('ATHENA_RATE_LIMIT_PER_IP', 1200, 1, 10_000_000),
      windowMs: integer('ATHENA_RATE_LIMIT_WINDOW', 60, 1, 86_400) * 1000,
    },
    signIn: {
      maxAttemptsPerAccount: integer('ATHENA_SIGNIN_MAX_ATTEMPTS', 5, 1, 1000),
      maxAttemptsPerIp: integer('ATHENA_SIGNIN_MAX_ATTEMPTS_PER_IP', 20, 1, 100_000),
      lockoutMs: integer('ATHENA_SIGNIN_LOCKOUT', 900, 1, 86_400) * 1000,
    },
    accessTokenTtlSeconds: integer('ATHENA_TOKEN_TTL', 7 * 24 * 3600, 60, 10 * 365 * 24 * 3600),
    authCacheTtlMs: integer('ATHENA_AUTH_CACHE_TTL', 5, 0, 300) * 1000,
    logLevel: oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    accessLog: oneOf('ATHENA_ACCESS_LOG', ['true', 'false'] as const, 'false') === 'true',
    metricsToken: read('ATHENA_METRICS_TOKEN'),
    shutdownTimeoutMs: integer('ATHENA_SHUTDOWN_TIMEOUT', 10, 1, 3600) * 1000,
    passwordHashCost: 16384,
  };

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

function parseEncryptionKey(raw: string | undefined, problems: string[]): Buffer | undefined {
  if (raw === undefined) return undefined;
  const key = decodeKey(raw);
  if (!key) {
    problems.push('ATHENA_ENCRYPTION_KEY must be 32 random bytes, written as 64 hex characters or in base64.');
  }
  return key;
}

function parsePreviousKeys(raw: string | undefined, problems: string[]): Buffer[] {
  if (raw === undefined) return [];
  const keys = raw.split(',').map((part) => part.trim()).filter(Boolean).map(decodeKey);
  if (keys.some((key) => key === undefined)) {
    problems.push('ATHENA_ENCRYPTION_KEY_PREVIOUS must be a comma-separated list of keys, each 64 hex characters or base64 of 32 bytes.');
    return [];
  }
  return keys as Buffer[];
}

const HOST_PATTERN = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

function parseOutboundAllow(raw: string | undefined, problems: string[]): string[] {
  if (raw === undefined) return [];
  const entries = raw.split(',').map((part) => part.trim().toLowerCase()).filter(Boolean);
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split('/');
    const version = isIP(address ?? '');
    const validPrefix =
      prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 6 ? 128 : 32) && version !== 0);
    if (extra !== undefined || !validPrefix || (version === 0 && !HOST_PATTERN.test(entry))) {
      problems.push('ATHENA_OUTBOUND_ALLOW must be a comma-separated list of host names, IP addresses or CIDR ranges.');
      return [];
    }
  }
  return entries;
}

/** Decodes a 256-bit key given as hex or base64; undefined when it is neither. */
export function decodeKey(raw: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(raw)) {
    const key = Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === 32) return key;
  }
  return undefined;
}

function parseTrustProxy(raw: string | undefined): boolean | number | string[] {
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  // A number is how many proxies sit in front (the hop count Fastify trusts).
  if (/^\d+$/.test(raw)) return Number(raw);
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

function parseByteSize(name: string, raw: string | undefined, fallback: number, problems: string[]): number {
  if (raw === undefined) return fallback;
  const match = /^(\d+)\s*(b|kb|mb)?$/i.exec(raw);
  if (!match) {
    problems.push(`${name} must be a size in bytes, optionally with kb or mb (for example 1mb).`);
    return fallback;
  }
  const units: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };
  const bytes = Number(match[1]) * units[(match[2] ?? 'b').toLowerCase()]!;
  if (bytes < 1024 || bytes > 1024 * 1024 * 1024) {
    problems.push(`${name} must be between 1kb and 1024mb.`);
    return fallback;
  }
  return bytes;
}
