import { Type } from 'typebox';
import { NodeError, output, type NodeTypeDefinition } from '../node-type.js';
import { isObject } from './flow.js';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

interface HttpParams {
  method?: (typeof HTTP_METHODS)[number];
  url: string;
  headers?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
  account_uuid?: string | null;
  timeout_ms?: number;
  response_format?: 'auto' | 'json' | 'text';
  fail_on_status?: boolean;
}

const stringRecord = Type.Record(Type.String({ maxLength: 256 }), Type.Unknown());

export const httpRequestNode: NodeTypeDefinition<HttpParams> = {
  type: 'http_request',
  category: 'action',
  label: 'HTTP request',
  description:
    'Calls an HTTP API through the outbound guard (private, loopback and link-local addresses are refused unless ATHENA_OUTBOUND_ALLOW opens them), signed with a connected account’s credentials when `account_uuid` is set. Output: `{ status, headers, body }`. A status of 400 or more fails the node unless `fail_on_status` is false.',
  parameters: Type.Object(
    {
      method: Type.Optional(Type.Union(HTTP_METHODS.map((method) => Type.Literal(method)), { default: 'GET' })),
      url: Type.String({ minLength: 1, maxLength: 8192 }),
      headers: Type.Optional(stringRecord),
      query: Type.Optional(stringRecord),
      body: Type.Optional(Type.Unknown()),
      account_uuid: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
      timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 300_000, default: 30_000 })),
      response_format: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('text')], { default: 'auto' })),
      fail_on_status: Type.Optional(Type.Boolean({ default: true })),
    },
    { additionalProperties: false },
  ),
  outputs: ['main'],
  run: async ({ params, services, signal, node }) => {
    const response = await services.http(
      {
        method: params.method ?? 'GET',
        url: String(params.url),
        headers: stringsOf(params.headers),
        query: stringsOf(params.query),
        body: params.body ?? null,
        account_uuid: params.account_uuid ?? null,
        timeout_ms: params.timeout_ms ?? 30_000,
        response_format: params.response_format ?? 'auto',
      },
      signal,
    );
    if (response.status >= 400 && params.fail_on_status !== false) {
      throw new NodeError(`Node "${node.id}": the request answered ${response.status}.`, { status: response.status, body: response.body });
    }
    return output(response);
  },
};

export const respondNode: NodeTypeDefinition<{ status?: number; headers?: Record<string, unknown>; body?: unknown }> = {
  type: 'respond',
  category: 'action',
  label: 'Respond to webhook',
  description:
    'Answers the webhook call that started the execution (when the webhook’s `respond` is `respond_node`): `status` (default 200), `headers`, `body` (default: the input). The execution goes on after it; the output is the input.',
  parameters: Type.Object(
    {
      status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599, default: 200 })),
      headers: Type.Optional(stringRecord),
      body: Type.Optional(Type.Unknown()),
    },
    { additionalProperties: false },
  ),
  outputs: ['main'],
  run: async ({ params, input, node }) => {
    const status = params.status ?? 200;
    if (!Number.isInteger(status) || status < 100 || status > 599) throw new NodeError(`Node "${node.id}": status must be an HTTP status code.`);
    const body = params.body === undefined ? input : params.body;
    return { kind: 'respond', output: input, response: { status, headers: stringsOf(params.headers), body } };
  },
};

export const subWorkflowNode: NodeTypeDefinition<{ workflow_uuid: string; input?: unknown; wait?: boolean }> = {
  type: 'workflow',
  category: 'action',
  label: 'Run a workflow',
  description:
    'Runs another workflow of the workspace with `input` (default: this node’s input). With `wait` (default), the output is the sub-workflow’s output and its failure fails this node; without, the output is `{ execution_uuid }`.',
  parameters: Type.Object(
    {
      workflow_uuid: Type.String({ format: 'uuid' }),
      input: Type.Optional(Type.Unknown()),
      wait: Type.Optional(Type.Boolean({ default: true })),
    },
    { additionalProperties: false },
  ),
  outputs: ['main'],
  run: async ({ params, input, services, signal }) =>
    output(await services.runWorkflow({ workflow_uuid: params.workflow_uuid, input: params.input === undefined ? input : params.input, wait: params.wait !== false }, signal)),
};

export const customerAccountsNode: NodeTypeDefinition<{ action: string; input?: Record<string, unknown> }> = {
  type: 'customer_accounts',
  category: 'customer_accounts',
  label: 'Customer accounts',
  description:
    'Acts on the customer-accounts API as the workflow’s user: `action` is one of the customer-accounts tools agents use (search, get, create and update accounts, contacts, notes, tasks, activities; see GET /api/v1/tools), `input` its arguments. Output: the action’s result.',
  parameters: Type.Object(
    {
      action: Type.String({ minLength: 1, maxLength: 64 }),
      input: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    },
    { additionalProperties: false },
  ),
  outputs: ['main'],
  run: async ({ params, services, signal, node }) => {
    if (params.input !== undefined && !isObject(params.input)) throw new NodeError(`Node "${node.id}": input must be an object.`);
    return output(await services.customerAccounts(params.action, params.input ?? {}, signal));
  },
};

/** Header and query values as strings (numbers and booleans from expressions are fine). */
function stringsOf(record: Record<string, unknown> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (!record) return result;
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined || value === null) continue;
    result[key] = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return result;
}
