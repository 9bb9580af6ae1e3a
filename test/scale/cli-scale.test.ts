import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, SCALE_ENABLED } from './cluster.js';

const exec = promisify(execFile);
const CLI = ['--import', 'tsx', path.resolve('src/cli.ts')];
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'athena-scale-cli-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const athena = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  exec(process.execPath, [...CLI, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ATHENA_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
    timeout: 60_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );

describe('the scale mode commands', () => {
  it('are in the help', async () => {
    const result = await athena(['help']);
    expect(result.stdout).toContain('start [--no-worker]');
    expect(result.stdout).toMatch(/\n {2}worker {2,}/);
  });

  it('refuse to run without the Redis and the PostgreSQL that every process must share', async () => {
    const noRedis = await athena(['worker']);
    expect(noRedis.code).toBe(1);
    expect(noRedis.stderr).toContain('athena worker needs REDIS_URL');

    const sqlite = await athena(['worker'], { REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(sqlite.code).toBe(1);
    expect(sqlite.stderr).toContain('athena worker needs DATABASE_URL (PostgreSQL)');

    const apiOnly = await athena(['start', '--no-worker']);
    expect(apiOnly.code).toBe(1);
    expect(apiOnly.stderr).toContain('athena start --no-worker needs REDIS_URL');
  });

  it.skipIf(!SCALE_ENABLED)(
    'stop starting when Redis does not answer, naming the variable but not its value',
    async () => {
      const schema = `scale_cli_${process.pid}_${Date.now().toString(36)}`;
      try {
        // Nothing listens on this port.
        const port = await freePort();
        const started = Date.now();
        const result = await athena(['worker'], {
          REDIS_URL: `redis://:hunter2-secret@127.0.0.1:${port}`,
          DATABASE_URL: process.env.TEST_DATABASE_URL,
          ATHENA_DATABASE_SCHEMA: schema,
        });
        expect(result.code).toBe(1);
        expect(result.stderr).toContain('Redis at REDIS_URL did not answer within 10 s.');
        expect(result.stderr + result.stdout).not.toContain('hunter2-secret');
        // Bounded: the start-up wait, not a hang.
        expect(Date.now() - started).toBeLessThan(50_000);
      } finally {
        const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
        await client.connect();
        await client.query(`drop schema if exists "${schema}" cascade`).finally(() => client.end());
      }
    },
    70_000,
  );
});
