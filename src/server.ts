import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { buildApp } from './app.js';
import { LiveRunRegistry } from './ai/live-runs.js';
import type { Config } from './config.js';
import type { AppContext } from './context.js';
import { createDb } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { KEY_FILE, loadMasterKey } from './lib/master-key.js';
import { MasterKeyMismatchError, verifyMasterKeys } from './modules/secrets/secrets.service.js';
import { createOidcVerifier } from './modules/auth/oidc.js';
import { PrincipalCache } from './modules/auth/principal-cache.js';
import { bootstrapOwner } from './modules/users/users.service.js';
import { createLoggers } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { ExecutionRunner } from './modules/executions/runner.js';
import { startWorkflowRuntime } from './modules/executions/runtime.js';

export interface Server {
  app: FastifyInstance;
  ctx: AppContext;
}

/** Opens storage, applies migrations, bootstraps the first owner and builds the app. */
export interface ServerOptions {
  logStream?: DestinationStream;
  /** Run workflow executions in this process (default). `athena start --no-worker` turns it off in scale mode. */
  worker?: boolean;
}

export async function createServer(config: Config, options: ServerOptions = {}): Promise<Server> {
  const { logger, accessLog, flush } = createLoggers(config, options.logStream);
  const keyFile = path.join(config.dataDir, KEY_FILE);
  const keyFileExisted = config.encryptionKey !== undefined || fs.existsSync(keyFile);
  const masterKey = loadMasterKey(config);
  const db = await createDb(config);
  try {
    const applied = await migrateToLatest(db, config.databaseSchema);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
    // A wrong or lost master key stops the start here, not at the first secret read.
    try {
      await verifyMasterKeys(db.kysely, { current: masterKey, previous: config.encryptionKeyPrevious });
    } catch (error) {
      if (keyFileExisted || !(error instanceof MasterKeyMismatchError)) throw error;
      // The key file was missing and has just been generated: it protects nothing, so it goes,
      // and the operator learns that the original is what is needed.
      fs.rmSync(keyFile, { force: true });
      throw new MasterKeyMismatchError(error.unknownIds, `The key file ${keyFile} is missing, and stored secrets need it.`);
    }
    const metrics = createMetrics();
    const ctx = {
      config,
      db,
      log: logger,
      masterKey,
      oidc: config.oidc ? createOidcVerifier(config.oidc) : undefined,
      principals: new PrincipalCache(config.authCacheTtlMs),
      liveRuns: new LiveRunRegistry(),
      metrics,
    } as unknown as AppContext;
    // The runner needs the context it belongs to.
    Object.assign(ctx, { executions: new ExecutionRunner(ctx, { concurrency: config.workflows.concurrency, runsWork: options.worker !== false }) });
    metrics.observe(ctx);
    await bootstrapOwner(ctx);
    const app = await buildApp(ctx, { logger, accessLog, metrics });
    // Runs in flight are stopped and their partial output stored while the database is open,
    // which also ends their event streams, so the server can drain.
    app.addHook('preClose', async () => ctx.liveRuns.shutdown(Math.min(config.shutdownTimeoutMs, 5_000)));
    // Executions in flight are handed back to the queue for the next runner (or this one, restarted).
    app.addHook('preClose', async () => ctx.executions.stop(Math.min(config.shutdownTimeoutMs, 5_000)));
    await startWorkflowRuntime(ctx);
    app.addHook('onClose', async () => {
      await db.close();
      flush();
    });
    return { app, ctx };
  } catch (error) {
    await db.close();
    throw error;
  }
}
