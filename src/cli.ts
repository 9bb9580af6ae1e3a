#!/usr/bin/env node
import { parseArgs } from 'node:util';
import closeWithGrace from 'close-with-grace';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createServer } from './server.js';
import { VERSION } from './version.js';

const HELP = `athena ${VERSION}: self-hostable AI agent and workflow platform

Usage: athena <command> [options]

Commands:
  start [--no-worker]             run the server (migrates the database first); --no-worker (scale mode)
                                  serves the API only and leaves executions to \`athena worker\` processes
  worker                          scale mode: run workflow executions from the Redis queue, no HTTP
                                  server; needs REDIS_URL and DATABASE_URL (PostgreSQL), shared by
                                  every API and worker process
  migrate                         apply pending database migrations and exit
  user:create --email <email> --password <password> [--name <name>] [--admin]
                                  create a user with a primary workspace
  token:create --email <email> [--name <name>] [--expires-in-days <n>]
                                  create a personal API token for a user (printed once)
  keys:rotate                     re-wrap every workspace data key under ATHENA_ENCRYPTION_KEY, unwrapping
                                  with the old key given in ATHENA_ENCRYPTION_KEY_PREVIOUS (see
                                  docs/providers-and-accounts.md); running servers keep working
  keys:generate                   print a new random master key (64 hex characters)
  metrics:rebuild [--workspace <uuid>]
                                  recompute the metrics rollups from the stored executions, runs, threads
                                  and messages (every workspace, or one); see docs/architecture.md
  help                            show this help

Configuration comes from the environment; see README.md.`;

function fail(message: string): never {
  process.stderr.write(`athena: ${message}\n`);
  process.exit(1);
}

/** Scale mode needs storage and a queue that every process can reach. */
function requireScaleMode(config: Config, what: string): void {
  if (!config.redisUrl) fail(`${what} needs REDIS_URL: API and worker processes meet in the Redis queue.`);
  if (!config.databaseUrl) fail(`${what} needs DATABASE_URL (PostgreSQL): a SQLite file cannot be shared between processes on several machines.`);
}

async function start(config: Config, options: { worker: boolean }): Promise<void> {
  const started = performance.now();
  if (!options.worker) requireScaleMode(config, 'athena start --no-worker');
  const { app } = await createServer(config, { worker: options.worker });
  const closeListeners = closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down: draining requests');
    await app.close();
  });
  app.addHook('onClose', async () => closeListeners.uninstall());
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = config.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const storage = config.databaseUrl ? 'PostgreSQL' : `SQLite in ${config.dataDir}`;
  const mode = config.redisUrl ? (options.worker ? ', scale mode with a worker' : ', scale mode, API only') : '';
  process.stdout.write(
    `Athena ${VERSION} is running at ${url} (${storage}${mode}, ready in ${Math.round(performance.now() - started)} ms)\n` +
      `API reference: ${url}/docs\n`,
  );
}

/** `athena worker`: runs executions from the queue (and the database poll) until SIGTERM or SIGINT. */
async function worker(config: Config): Promise<void> {
  requireScaleMode(config, 'athena worker');
  const started = performance.now();
  // The app is built (the context and hooks come with it) but never listens.
  const { app } = await createServer(config, { worker: true });
  const closeListeners = closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down: handing executions in flight back to the queue');
    // Stops the runner (executions in flight go back to the queue), the queue worker, then the database.
    await app.close();
  });
  app.addHook('onClose', async () => closeListeners.uninstall());
  process.stdout.write(
    `Athena ${VERSION} worker is running (PostgreSQL, Redis, ${config.workflows.concurrency} executions at a time, ` +
      `ready in ${Math.round(performance.now() - started)} ms)\n`,
  );
}

async function withServer<T>(config: Config, work: (server: Awaited<ReturnType<typeof createServer>>) => Promise<T>): Promise<T> {
  // One-off commands run no workflow executions (a running server may own them).
  const server = await createServer({ ...config, logLevel: 'warn' }, { worker: false });
  try {
    return await work(server);
  } finally {
    await server.app.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      email: { type: 'string' },
      password: { type: 'string' },
      name: { type: 'string' },
      admin: { type: 'boolean', default: false },
      'expires-in-days': { type: 'string' },
      'no-worker': { type: 'boolean', default: false },
      workspace: { type: 'string' },
    },
    strict: true,
  });
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const config = loadConfig();

  switch (command) {
    case 'start':
      return start(config, { worker: !values['no-worker'] });

    case 'worker':
      return worker(config);

    case 'migrate':
      // createServer applies the migrations; nothing else to do.
      await withServer(config, async () => undefined);
      process.stdout.write('Database is up to date.\n');
      return;

    case 'user:create': {
      if (!values.email || !values.password) fail('user:create needs --email and --password.');
      if (values.password.length < 8) fail('the password must be at least 8 characters long.');
      const { registerUser } = await import('./modules/users/users.service.js');
      const { hashPassword } = await import('./modules/auth/passwords.js');
      const user = await withServer(config, async ({ ctx }) =>
        registerUser(ctx, {
          name: values.name ?? values.email!.split('@')[0]!,
          email: values.email!,
          passwordHash: await hashPassword(values.password!, config.passwordHashCost),
          isAdmin: values.admin,
        }),
      );
      process.stdout.write(`Created user ${user.id} <${user.email}>${values.admin ? ' (administrator)' : ''}.\n`);
      return;
    }

    case 'token:create': {
      if (!values.email) fail('token:create needs --email.');
      const days = values['expires-in-days'] === undefined ? undefined : Number(values['expires-in-days']);
      if (days !== undefined && (!Number.isInteger(days) || days < 1)) fail('--expires-in-days must be a whole number of days.');
      const { findUserByEmail } = await import('./modules/users/users.repository.js');
      const { createPersonalToken } = await import('./modules/auth/auth.service.js');
      const token = await withServer(config, async ({ ctx }) => {
        const user = await findUserByEmail(ctx.db.kysely, values.email!);
        if (!user) fail(`no user has the email ${values.email}.`);
        return createPersonalToken(ctx, user, {
          name: values.name ?? 'cli',
          expires_at: days ? new Date(Date.now() + days * 86_400_000).toISOString() : null,
        });
      });
      process.stdout.write(`${token.token}\n`);
      process.stderr.write('Keep this token: it is shown only once.\n');
      return;
    }

    case 'keys:rotate': {
      const { rotateMasterKey } = await import('./modules/secrets/secrets.service.js');
      if (config.encryptionKeyPrevious.length === 0) {
        process.stderr.write('Note: ATHENA_ENCRYPTION_KEY_PREVIOUS is not set, so only keys already wrapped by the current key can be read.\n');
      }
      const rotated = await withServer(config, async ({ ctx }) =>
        rotateMasterKey(ctx.db.kysely, { current: ctx.masterKey, previous: config.encryptionKeyPrevious }),
      );
      process.stdout.write(`Re-wrapped ${rotated} workspace key${rotated === 1 ? '' : 's'} under the current master key.\n`);
      return;
    }

    case 'keys:generate': {
      const { randomBytes } = await import('node:crypto');
      process.stdout.write(`${randomBytes(32).toString('hex')}\n`);
      return;
    }

    case 'metrics:rebuild': {
      const { isUuid } = await import('./db/values.js');
      if (values.workspace !== undefined && !isUuid(values.workspace)) fail('--workspace takes a workspace uuid.');
      const { rebuildRollups } = await import('./modules/metrics/rebuild.js');
      const started = performance.now();
      const rebuilt = await withServer(config, async ({ ctx }) => {
        const workspaceId = values.workspace?.toLowerCase();
        if (workspaceId !== undefined && !(await ctx.db.kysely.selectFrom('workspaces').select('id').where('id', '=', workspaceId).executeTakeFirst())) {
          fail(`no workspace has the uuid ${workspaceId}.`);
        }
        return rebuildRollups(ctx.db, workspaceId);
      });
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      process.stdout.write(`Rebuilt the metrics of ${rebuilt.workspaces} workspace${rebuilt.workspaces === 1 ? '' : 's'} in ${seconds} s.\n`);
      return;
    }

    default:
      fail(`unknown command "${command}". Run "athena help".`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) fail(error.message);
  const message = error instanceof Error ? error.message : String(error);
  fail(message);
});
