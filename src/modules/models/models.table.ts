import type { ColumnType, Selectable, SqlBool } from 'kysely';

type Bool = ColumnType<SqlBool, boolean | undefined, boolean>;

/** The model catalog: official rows (no workspace) and models a verified account's server listed. */
export interface ModelsTable {
  id: string;
  provider_id: string;
  workspace_id: string | null;
  account_id: string | null;
  model_id: string;
  name: string;
  description: string | null;
  context_window: number | null;
  max_output_tokens: number | null;
  input_price_per_million: number | null;
  output_price_per_million: number | null;
  supports_tools: Bool;
  supports_vision: Bool;
  supports_json: Bool;
  supports_streaming: Bool;
  is_official: Bool;
  created_at: string;
  updated_at: string;
}

export type ModelRow = Selectable<ModelsTable>;
