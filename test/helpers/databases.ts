import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config.js';

export type TestDialect = 'sqlite' | 'postgres';

/**
 * SQLite always; PostgreSQL too when TEST_DATABASE_URL is set. CI sets it, and a PostgreSQL
 * that does not answer then fails the suites rather than skipping them.
 */
export const DIALECTS: TestDialect[] = process.env.TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];

let counter = 0;

export interface TestDatabase {
  config: Config;
  /** Removes the data dir and, on PostgreSQL, the schema. */
  drop(): Promise<void>;
}

/** A fresh, empty database for one test app: a temp dir for SQLite, a new schema on PostgreSQL. */
export function testDatabase(dialect: TestDialect, env: Record<string, string> = {}): TestDatabase {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'athena-test-'));
  const schema = `test_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const url = process.env.TEST_DATABASE_URL;
  const config: Config = {
    ...loadConfig({
      ATHENA_DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      PORT: '0',
      ...(dialect === 'postgres' ? { DATABASE_URL: url!, ATHENA_DATABASE_SCHEMA: schema, ATHENA_DATABASE_POOL_SIZE: '4' } : {}),
      ...env,
    }),
    // Cheaper password hashing keeps the suites quick; the same code runs with the real cost.
    passwordHashCost: 1024,
  };
  return {
    config,
    async drop() {
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (dialect === 'postgres') {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`drop schema if exists "${schema}" cascade`);
        } finally {
          await client.end();
        }
      }
    },
  };
}
