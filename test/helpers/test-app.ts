import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../src/config.js';
import type { AppContext } from '../../src/context.js';
import { createServer } from '../../src/server.js';
import { testDatabase, type TestDialect } from './databases.js';

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  body?: unknown;
  /** A raw payload, sent as is (for malformed bodies). */
  payload?: string | Buffer;
  headers?: Record<string, string>;
  remoteAddress?: string;
}

export interface TestResponse<T = any> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
}

export interface SignedUp {
  token: string;
  user: any;
  email: string;
  password: string;
}

export interface TestApp {
  app: FastifyInstance;
  ctx: AppContext;
  config: Config;
  dialect: TestDialect;
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
  request<T = any>(options: RequestOptions): Promise<TestResponse<T>>;
  /** Signs up user number n of this app (deterministic name, email and password). */
  signUp(overrides?: Partial<{ name: string; email: string; password: string }>): Promise<SignedUp>;
  close(): Promise<void>;
}

export const TEST_PASSWORD = 'correct-horse-battery';

/** Builds the real app on a fresh database, with its logs captured. */
export async function createTestApp(dialect: TestDialect, env: Record<string, string> = {}, configOverrides: Partial<Config> = {}): Promise<TestApp> {
  const database = testDatabase(dialect, {
    // Limits high enough that only tests about limits reach them.
    ATHENA_RATE_LIMIT_PER_IP: '100000',
    ATHENA_RATE_LIMIT_PER_TOKEN: '100000',
    ...env,
  });
  const config = { ...database.config, ...configOverrides };
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const { app, ctx } = await createServer(config, { logStream });
  await app.ready();
  let users = 0;

  const request = async <T>(options: RequestOptions): Promise<TestResponse<T>> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const response = await app.inject({
      method: options.method ?? 'GET',
      url: options.url,
      headers,
      ...(options.payload !== undefined ? { payload: options.payload } : options.body !== undefined ? { payload: options.body as object } : {}),
      ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
    });
    let body: unknown = undefined;
    if (response.body) {
      try {
        body = JSON.parse(response.body);
      } catch {
        body = response.body;
      }
    }
    return { status: response.statusCode, body: body as T, headers: response.headers, text: response.body };
  };

  return {
    app,
    ctx,
    config,
    dialect,
    logs,
    request,
    async signUp(overrides = {}) {
      users += 1;
      const input = {
        name: overrides.name ?? `Test User${users}`,
        email: overrides.email ?? `user${users}@example.test`,
        password: overrides.password ?? TEST_PASSWORD,
      };
      const response = await request<any>({ method: 'POST', url: '/api/v1/auth/sign-up', body: input });
      if (response.status !== 201) throw new Error(`sign-up failed: ${response.status} ${response.text}`);
      return { token: response.body.data.token, user: response.body.data.user, email: input.email, password: input.password };
    },
    async close() {
      await app.close();
      await database.drop();
    },
  };
}

/** Rows in a table, to check that a rejected request wrote nothing. */
export async function countRows(test: TestApp, table: 'users' | 'workspaces' | 'workspace_members' | 'access_tokens'): Promise<number> {
  const row = await test.ctx.db.kysely
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
