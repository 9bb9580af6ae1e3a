import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { componentNames } from './schemas.js';

type Json = unknown;

/**
 * Replaces every titled schema that has a component name with a `$ref`, collecting the
 * components. Children are lifted first, so components refer to each other too.
 */
export function liftComponents(node: Json, names: ReadonlySet<string>, components: Record<string, Json>, root = true): Json {
  if (Array.isArray(node)) return node.map((child) => liftComponents(child, names, components, false));
  if (node === null || typeof node !== 'object') return node;
  const lifted: Record<string, Json> = {};
  for (const [key, value] of Object.entries(node)) lifted[key] = liftComponents(value, names, components, false);
  const title = lifted.title;
  if (!root && typeof title === 'string' && names.has(title)) {
    components[title] ??= lifted;
    return { $ref: `#/components/schemas/${title}` };
  }
  return lifted;
}

const TAGS = [
  { name: 'Authentication', description: 'Sign in, sign up, logout.' },
  { name: 'User', description: 'The authenticated user and their personal API tokens.' },
  { name: 'Workspace', description: 'Workspaces, members and roles.' },
  { name: 'Provider', description: 'The catalog of model vendors and tools, official and custom.' },
  { name: 'Account', description: 'Connected accounts: a user’s credentials for a provider, encrypted at rest and write-only.' },
  { name: 'Large Language Model', description: 'The model catalog: context windows, prices and capabilities.' },
  { name: 'Prompt', description: 'Prompt templates (LiquidJS) with variables, versions and a default model; runs render and call the model.' },
  { name: 'Agent', description: 'Agents: instructions, model, tools and memory; runs loop model and tool calls; sharing, training, generation and the leaderboard.' },
  { name: 'Thread', description: 'Conversations with an agent; runs append the user’s message and the agent’s reply, streamed on request.' },
  { name: 'Message', description: 'The messages of a thread, with tool calls, usage and feedback.' },
  { name: 'Run', description: 'Every model interaction with its status, tokens, cost and latency; its event stream can be resumed.' },
  { name: 'Memory', description: 'What agents remember: written by the memory tool and by training, retrieved into runs by full-text (and embedding) search.' },
  { name: 'Media', description: 'Uploaded files: images for vision models and text files inlined into messages.' },
  { name: 'Tool', description: 'Callable actions with a JSON Schema input: HTTP tools, MCP servers’ tools and built-in tools.' },
  { name: 'Workflow', description: 'Workflows: graphs of nodes and edges run step by step from a manual call, a webhook, a schedule or an agent; the node catalog.' },
  { name: 'Workflow Execution', description: 'Runs of workflows with each node’s input, output, error and timing; cancel, retry from the failed node, resume a wait.' },
  { name: 'Command Room Task', description: 'The workspace’s board of tasks: dense positions per status column, links to agents, threads, workflows and executions that tasks follow, and a resumable stream of every change.' },
  { name: 'Metrics', description: 'Totals and time series of agents, workflows, executions, threads and messages, in buckets aligned to a time zone.' },
  { name: 'Accounts', description: 'The customer-accounts API (`/v1`): customer accounts, attribute values, relationships, contacts, activities, notes and tasks.' },
  { name: 'Operations', description: 'Health, readiness and metrics.' },
];

/** `/openapi.json` (OpenAPI 3.1 from the route schemas) and `/docs` (interactive reference). */
export async function registerOpenApi(app: FastifyInstance, config: Config, version: string): Promise<void> {
  const serverUrl = config.publicUrl ?? `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${config.port}`;
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Athena API',
        version,
        description:
          'The platform API (`/api/v1`) and the customer-accounts API (`/v1`) of Athena, a self-hostable AI agent and workflow platform.',
        contact: { name: 'Athena', url: 'https://github.com/athena-platform/athena' },
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: serverUrl, description: 'This server' }],
      tags: TAGS,
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'Access token, personal API token or app access token (JWT).' },
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'Personal API token.' },
          basicAuth: { type: 'http', scheme: 'basic', description: 'base64(email:api_token).' },
        },
      },
      security: [{ bearerAuth: [] }, { apiKey: [] }, { basicAuth: [] }],
    },
    transformObject: (documentObject) => {
      const document = ('openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject) as Record<
        string,
        unknown
      > & { paths?: unknown; components?: { schemas?: Record<string, Json> } & Record<string, unknown> };
      const components: Record<string, Json> = {};
      const paths = liftComponents(document.paths ?? {}, componentNames(), components);
      const existing = document.components?.schemas ?? {};
      const schemas = liftComponents({ ...existing }, componentNames(), components) as Record<string, Json>;
      // Components may themselves hold other components: keep lifting until nothing changes.
      let previous = -1;
      while (Object.keys(components).length !== previous) {
        previous = Object.keys(components).length;
        for (const [name, schema] of Object.entries(components)) components[name] = liftComponents(schema, componentNames(), components);
      }
      const sorted = Object.fromEntries(Object.entries({ ...schemas, ...components }).sort(([a], [b]) => a.localeCompare(b)));
      return { ...document, paths, components: { ...document.components, schemas: sorted } } as never;
    },
  });

  app.get('/openapi.json', { config: { auth: 'none' }, schema: { hide: true } }, async () => app.swagger());

  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { url: '/openapi.json', docExpansion: 'list', deepLinking: true, persistAuthorization: true },
    staticCSP: true,
  });
}
