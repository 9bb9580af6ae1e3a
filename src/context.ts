import type { FastifyBaseLogger } from 'fastify';
import type { Config } from './config.js';
import type { LiveRunRegistry } from './ai/live-runs.js';
import type { Db } from './db/database.js';
import type { ExecutionRunner } from './modules/executions/runner.js';
import type { OidcVerifier } from './modules/auth/oidc.js';
import type { PrincipalCache } from './modules/auth/principal-cache.js';
import type { Metrics } from './observability/metrics.js';

/**
 * The infrastructure services are handed: configuration, storage, the logger and the identity
 * provider. Services take it as their first argument; routes, workers and the CLI build it once.
 */
export interface AppContext {
  readonly config: Config;
  readonly db: Db;
  readonly log: FastifyBaseLogger;
  /** Master key for secrets at rest (ATHENA_ENCRYPTION_KEY or the generated key file). */
  readonly masterKey: Buffer;
  readonly oidc: OidcVerifier | undefined;
  /** Recently authenticated principals (see PrincipalCache for what evicts them). */
  readonly principals: PrincipalCache;
  /** Agent, thread and prompt runs in flight in this process (streams, cancels, resumes). */
  readonly liveRuns: LiveRunRegistry;
  /** Workflow executions: this process's runner (and, in scale mode, its queue). */
  readonly executions: ExecutionRunner;
  /** This server's Prometheus registry and the instruments modules record into (`/metrics`). */
  readonly metrics: Metrics;
}
