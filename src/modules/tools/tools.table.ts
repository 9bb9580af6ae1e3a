import type { ColumnType, Selectable, SqlBool } from 'kysely';

type Json = ColumnType<unknown, string, string>;
type Bool = ColumnType<SqlBool, boolean | undefined, boolean>;

export type StoredToolKind = 'http' | 'mcp';

/** HTTP tools of custom providers and the tools MCP servers listed; built-ins live in code. */
export interface ToolsTable {
  id: string;
  workspace_id: string;
  provider_id: string;
  /** mcp: the account whose server listed the tool (deleted with it). */
  account_id: string | null;
  /** http: the account whose credentials are injected (set null when it is deleted). */
  default_account_id: string | null;
  user_id: number | null;
  kind: StoredToolKind;
  /** The function name the model calls: ^[a-zA-Z][a-zA-Z0-9_-]{0,63}$ */
  name: string;
  display_name: string;
  description: string;
  input_schema: Json;
  /** http: {method, url, headers, query, body}; mcp: {name} (the server's own tool name). */
  config: Json;
  is_enabled: Bool;
  created_at: string;
  updated_at: string;
}

export type ToolRow = Selectable<ToolsTable>;
