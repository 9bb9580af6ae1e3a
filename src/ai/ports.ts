import type { AppContext } from '../context.js';
import type { WorkspaceScope } from '../modules/workspaces/workspaces.service.js';

/** A JSON Schema object describing a tool's input. */
export type JsonSchemaObject = Record<string, unknown>;

/** What a tool sees of the call it serves. */
export interface ToolCallContext {
  /** Aborted when the run is cancelled, times out or its client goes away. */
  signal: AbortSignal;
  toolCallId: string;
}

/**
 * One tool as the tool loop offers it to a model. Input is validated against `inputSchema`
 * before `execute` is called. Whatever `execute` throws is handed back to the model as the
 * tool's error: a failing tool does not end the run.
 */
export interface RunTool {
  /** The tool's uuid (built-in tools have fixed ones). */
  uuid: string;
  /** The function name the model calls; unique within one run. */
  name: string;
  description: string;
  inputSchema: JsonSchemaObject;
  execute(input: unknown, call: ToolCallContext): Promise<unknown>;
}

/** The run a tool call belongs to: who runs it, where, for which agent and thread. */
export interface RunScope {
  ctx: AppContext;
  /** The workspace the run acts in and the caller's standing there. */
  scope: WorkspaceScope;
  runId: string;
  agentId: string | null;
  threadId: string | null;
  /**
   * Whose catalog and credentials the agent's HTTP and MCP tools use: the agent's creator in the
   * agent's workspace (an agent shared elsewhere keeps its own tools). Built-in tools always act
   * as the caller in `scope`. Defaults to `scope`.
   */
  toolOwner?: { workspaceId: string; userId: number };
}

/**
 * A tool implemented by Athena itself (memory, customer accounts). Its uuid is fixed, so agents
 * list it in `tools` like any other.
 */
export interface BuiltinToolDefinition {
  uuid: string;
  name: string;
  displayName: string;
  description: string;
  /** Catalog grouping: `memory`, `customer_accounts`. */
  group: string;
  inputSchema: JsonSchemaObject;
  execute(input: unknown, run: RunScope, call: ToolCallContext): Promise<unknown>;
}

/** Thrown by a tool to tell the model what went wrong, in words it can act on. */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}
