/**
 * What the engine needs from the outside, as interfaces the modules implement: storage of an
 * execution's progress, and the services IO nodes call (HTTP, models, other workflows,
 * customer accounts). The engine imports no Fastify, Kysely or BullMQ.
 */

export interface HttpRequestSpec {
  method: string;
  url: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  /** JSON-encoded unless a string. */
  body: unknown;
  /** A connected account whose credentials sign the request. */
  account_uuid: string | null;
  timeout_ms: number;
  /** `auto` parses JSON responses and returns text otherwise. */
  response_format: 'auto' | 'json' | 'text';
}

export interface HttpResponseData {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface PromptRunSpec {
  prompt_uuid: string;
  variables: Record<string, unknown>;
}

export interface AgentRunSpec {
  agent_uuid: string;
  message: string;
  /** Continue this thread; absent: a new thread. */
  thread_uuid: string | null;
}

export interface SubWorkflowSpec {
  workflow_uuid: string;
  input: unknown;
  /** Wait for the sub-workflow to finish and return its output (else its execution uuid). */
  wait: boolean;
}

/** The services IO nodes call, bound to one execution's workspace and user. */
export interface NodeServices {
  http(request: HttpRequestSpec, signal: AbortSignal): Promise<HttpResponseData>;
  runPrompt(spec: PromptRunSpec, signal: AbortSignal): Promise<unknown>;
  runAgent(spec: AgentRunSpec, signal: AbortSignal): Promise<unknown>;
  runWorkflow(spec: SubWorkflowSpec, signal: AbortSignal): Promise<unknown>;
  /** One customer-accounts action (the built-in customer-accounts tools, by name). */
  customerAccounts(action: string, input: Record<string, unknown>, signal: AbortSignal): Promise<unknown>;
  /** Runs JavaScript in the sandbox with the configured limits. */
  runCode(code: string, input: unknown, context: Record<string, unknown>, signal: AbortSignal): Promise<unknown>;
}
