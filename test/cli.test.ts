import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const CLI = ['--import', 'tsx', path.resolve('src/cli.ts')];

/** The `athena` command as users run it: a separate process, configured by its environment. */
describe('the athena command', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'athena-cli-'));
    env = { PATH: process.env.PATH, HOME: process.env.HOME, ATHENA_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  const athena = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    exec(process.execPath, [...CLI, ...args], { env: { ...env, ...extraEnv }, timeout: 30_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );

  it('prints its help', async () => {
    const result = await athena(['help']);
    expect(result.code).toBe(0);
    for (const command of ['start', 'migrate', 'user:create', 'token:create']) expect(result.stdout).toContain(command);
  });

  it('refuses bad configuration, naming every variable but never its value', async () => {
    const result = await athena(['migrate'], { PORT: 'eighty', ATHENA_REGISTRATION: 'sometimes', ATHENA_ENCRYPTION_KEY: 'hunter2-secret' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('PORT must be a whole number');
    expect(result.stderr).toContain('ATHENA_REGISTRATION must be one of: open, closed.');
    expect(result.stderr).toContain('ATHENA_ENCRYPTION_KEY must be 32 random bytes');
    expect(result.stderr).not.toContain('hunter2-secret');
  });

  it('migrates a fresh data dir and generates the encryption key once, readable by its owner only', async () => {
    const result = await athena(['migrate']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Database is up to date.');
    expect(fs.existsSync(path.join(dataDir, 'athena.sqlite'))).toBe(true);
    const keyFile = path.join(dataDir, 'encryption.key');
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    const key = fs.readFileSync(keyFile, 'utf8');

    expect((await athena(['migrate'])).code).toBe(0);
    expect(fs.readFileSync(keyFile, 'utf8')).toBe(key);
  });

  it('creates a user and a personal token that the server accepts', async () => {
    const created = await athena(['user:create', '--email', 'ops@example.test', '--password', 'operator-password', '--name', 'Ops Person', '--admin']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/Created user \d+ <ops@example.test> \(administrator\)/);

    const duplicate = await athena(['user:create', '--email', 'ops@example.test', '--password', 'operator-password']);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('The email has already been taken.');

    const token = await athena(['token:create', '--email', 'ops@example.test', '--name', 'deploy']);
    expect(token.code).toBe(0);
    expect(token.stdout.trim()).toMatch(/^ath_pat_[A-Za-z0-9_-]+$/);
    expect(token.stderr).toContain('shown only once');

    const unknown = await athena(['token:create', '--email', 'nobody@example.test']);
    expect(unknown.code).toBe(1);

    // The token works against the running server (next test reads it back).
    fs.writeFileSync(path.join(dataDir, 'token.txt'), token.stdout.trim());
  });

  describe('start', () => {
    let child: ChildProcess;
    let url: string;
    let output = '';

    beforeAll(async () => {
      child = spawn(process.execPath, [...CLI, 'start'], { env: { ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (chunk) => (output += chunk));
      child.stderr!.on('data', (chunk) => (output += chunk));
      url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 20_000);
        child.stdout!.on('data', () => {
          const match = /running at (http:\/\/\S+)/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
      });
    });
    afterAll(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });

    it('prints its URL and the docs URL, and serves the API', async () => {
      expect(output).toContain(`API reference: ${url}/docs`);
      expect((await fetch(`${url}/health`)).status).toBe(200);
      const token = fs.readFileSync(path.join(dataDir, 'token.txt'), 'utf8');
      const me = await fetch(`${url}/api/v1/user`, { headers: { 'x-api-key': token } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { data: { email: string } }).data.email).toBe('ops@example.test');
    });

    it('on SIGTERM finishes the request in flight, then exits cleanly with the database closed', async () => {
      // Sign-in hashes with the production scrypt cost, so it is still running when the signal lands.
      const inFlight = fetch(`${url}/api/v1/auth/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'ops@example.test', password: 'operator-password' }),
      });
      await new Promise((resolve) => setTimeout(resolve, 15));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');

      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(await exited).toBe(0);
      // A cleanly closed SQLite database has checkpointed and removed its write-ahead log.
      expect(fs.existsSync(path.join(dataDir, 'athena.sqlite-wal'))).toBe(false);
    });
  });
});
