import type { ColumnType, Selectable, SqlBool } from 'kysely';

type Json = ColumnType<unknown, string, string>;
type Bool = ColumnType<SqlBool, boolean | undefined, boolean>;

export const PROMPT_VISIBILITIES = ['private', 'workspace', 'public'] as const;
export type PromptVisibility = (typeof PROMPT_VISIBILITIES)[number];

export interface PromptsTable {
  id: string;
  workspace_id: string;
  user_id: number | null;
  name: string;
  description: string | null;
  /** A LiquidJS template. */
  content: string;
  /** [{name, description, default, required}] */
  variables: Json;
  /** false: the variables were inferred from the template. */
  variables_declared: Bool;
  llm_id: string | null;
  account_id: string | null;
  /** {temperature, max_tokens, json_output} */
  settings: Json;
  visibility: PromptVisibility;
  /** The current version number; every change to content or settings adds one. */
  version: number;
  profile_photo_config: Json;
  created_at: string;
  updated_at: string;
}

export interface PromptVersionsTable {
  id: string;
  prompt_id: string;
  workspace_id: string;
  version: number;
  content: string;
  variables: Json;
  llm_id: string | null;
  account_id: string | null;
  settings: Json;
  user_id: number | null;
  created_at: string;
}

export type PromptRow = Selectable<PromptsTable>;
export type PromptVersionRow = Selectable<PromptVersionsTable>;
