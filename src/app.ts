import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import fastJsonStringify from 'fast-json-stringify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import qs from 'qs';
import type { Logger } from 'pino';
import type { AppContext } from './context.js';
import { AppError } from './errors.js';
import { registerRequestGuard } from './http/auth.js';
import { registerErrorHandling, sendAppError } from './http/error-handler.js';
import { registerOpenApi } from './http/openapi.js';
import { createRateLimits } from './http/rate-limit.js';
import { lazily, validatorCompiler } from './http/validation.js';
import { authRoutes } from './modules/auth/auth.routes.js';
import { healthRoutes } from './modules/health/health.routes.js';
import { userRoutes } from './modules/users/users.routes.js';
import { workspaceRoutes } from './modules/workspaces/workspaces.routes.js';
import { providerRoutes } from './modules/providers/providers.routes.js';
import { accountRoutes } from './modules/accounts/accounts.routes.js';
import { modelRoutes } from './modules/models/models.routes.js';
import { agentRoutes } from './modules/agents/agents.routes.js';
import { customerAccountsApi } from './modules/customer-accounts/routes.js';
import { threadRoutes } from './modules/threads/threads.routes.js';
import { messageRoutes } from './modules/threads/messages.routes.js';
import { promptRoutes } from './modules/prompts/prompts.routes.js';
import { mediaRoutes } from './modules/media/media.routes.js';
import { memoryRoutes } from './modules/memories/memories.routes.js';
import { toolRoutes } from './modules/tools/tools.routes.js';
import { workflowRoutes } from './modules/workflows/workflows.routes.js';
import { runRoutes } from './modules/runs/runs.routes.js';
import { executionRoutes } from './modules/executions/executions.routes.js';
import { workflowTriggerRoutes } from './modules/workflows/triggers.routes.js';
import { workflowGenerateRoutes } from './modules/workflows/generate.routes.js';
import { commandRoomRoutes } from './modules/command-room/command-room.routes.js';
import { metricsRoutes } from './modules/metrics/metrics.routes.js';
import { redactUrl } from './observability/logger.js';
import type { Metrics } from './observability/metrics.js';
import { VERSION } from './version.js';

export interface BuildAppOptions {
  logger: Logger;
  accessLog: Logger;
  metrics: Metrics;
}

/** The HTTP application: plugins, modules, error and 404 handlers. Storage is already open and migrated. */
export async function buildApp(ctx: AppContext, options: BuildAppOptions): Promise<FastifyInstance> {
  const { config } = ctx;
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // One access line per request is written in onResponse; Fastify's two are turned off.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    // While closing, new requests get 503 in their surface's shape from the request guard.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    requestIdHeader: 'x-request-id',
    routerOptions: {
      maxParamLength: 200,
      querystringParser: (query: string) => qs.parse(query, { depth: 3, arrayLimit: 200, parameterLimit: 500 }),
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  // Error bodies are written by the error handler (JSON.stringify); their response schemas are
  // documentation for /openapi.json. Success serializers are built on a route's first use.
  app.setSerializerCompiler(({ schema, httpStatus }) => {
    if (/^[45]/.test(String(httpStatus))) return JSON.stringify;
    const serialize = lazily(() => fastJsonStringify(schema as Parameters<typeof fastJsonStringify>[0]));
    return (data: unknown) => serialize()(data);
  });
  registerErrorHandling(app);

  // A DELETE or POST sent with `Content-Type: application/json` and no body is not malformed.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    return parseJson(request, body as string, done);
  });

  // Only JSON bodies are read; anything else is 415 rather than a string that fails validation.
  app.removeContentTypeParser('text/plain');

  // A route that takes a body but received none validates `{}`, so the answer names the
  // required fields (and handlers of all-optional bodies never see undefined).
  app.addHook('onRoute', (route) => {
    if (!route.schema?.body) return;
    const existing = route.preValidation === undefined ? [] : Array.isArray(route.preValidation) ? route.preValidation : [route.preValidation];
    route.preValidation = [
      async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      ...existing,
    ];
  });

  // On shutdown, a keep-alive connection whose request is still in flight is closed as soon as
  // its response is written, instead of idling until the shutdown timeout.
  const lifecycle = { closing: false };
  app.addHook('preClose', async () => {
    lifecycle.closing = true;
    app.server.keepAliveTimeout = 1;
  });

  const limits = createRateLimits(config);
  app.addHook('onClose', async () => limits.close());
  registerRequestGuard(app, ctx, limits, lifecycle);
  registerRequestMetrics(app, options.metrics, options.accessLog);
  await registerOpenApi(app, config, VERSION);

  app.get('/metrics', { config: { auth: 'none', rateLimit: false }, schema: { hide: true } }, async (request, reply) => {
    if (config.metricsToken && request.headers.authorization !== `Bearer ${config.metricsToken}`) {
      throw new AppError('UNAUTHENTICATED');
    }
    return reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
  });

  await app.register(healthRoutes(ctx));
  await app.register(authRoutes(ctx));
  await app.register(userRoutes(ctx));
  await app.register(workspaceRoutes(ctx));
  await app.register(providerRoutes(ctx));
  await app.register(accountRoutes(ctx));
  await app.register(modelRoutes(ctx));
  await app.register(agentRoutes(ctx));
  await app.register(customerAccountsApi(ctx));
  await app.register(threadRoutes(ctx));
  await app.register(messageRoutes(ctx));
  await app.register(promptRoutes(ctx));
  await app.register(mediaRoutes(ctx));
  await app.register(memoryRoutes(ctx));
  await app.register(toolRoutes(ctx));
  await app.register(workflowRoutes(ctx));
  await app.register(runRoutes(ctx));
  await app.register(workflowTriggerRoutes(ctx));
  await app.register(executionRoutes(ctx));
  await app.register(workflowGenerateRoutes(ctx));
  await app.register(commandRoomRoutes(ctx));
  await app.register(metricsRoutes(ctx));

  app.setNotFoundHandler((request, reply) => sendAppError(new AppError('NOT_FOUND'), request, reply));
  return app;
}

/** Trusts the nearest `hops` proxies, like Express's numeric `trust proxy`. */
function trustHops(hops: number) {
  return (_address: string, hop: number) => hop < hops;
}

function registerRequestMetrics(app: FastifyInstance, metrics: Metrics, accessLog: Logger): void {
  const logAccess = accessLog.isLevelEnabled('info');
  app.addHook('onResponse', async (request, reply) => {
    const route = request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched');
    metrics.recordHttp(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    if (!logAccess) return;
    accessLog.info(
      {
        reqId: request.id,
        method: request.method,
        url: redactUrl(request.url),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ip: request.ip,
      },
      'request completed',
    );
  });
}
