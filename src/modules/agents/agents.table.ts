import type { ColumnType, Selectable } from 'kysely';

type Json = ColumnType<unknown, string, string>;

export const AGENT_VISIBILITIES = ['private', 'workspace', 'public'] as const;
export type AgentVisibility = (typeof AGENT_VISIBILITIES)[number];

export interface AgentsTable {
  id: string;
  workspace_id: string;
  user_id: number | null;
  name: string;
  description: string | null;
  instructions: string;
  llm_id: string | null;
  account_id: string | null;
  /** Tool uuids (JSON array), in the order the model sees them. */
  tools: Json;
  /** {enabled, retrieve_limit} */
  memory: Json;
  /** {temperature, max_tokens, max_steps} */
  settings: Json;
  profile_photo_url: string | null;
  profile_photo_config: Json;
  visibility: AgentVisibility;
  metadata: Json;
  created_at: string;
  updated_at: string;
}

export type AgentRow = Selectable<AgentsTable>;
