import type { ColumnType, Selectable } from 'kysely';

type Json = ColumnType<unknown, string, string>;

export const MEMORY_TYPES = ['fact', 'example', 'document'] as const;
export type MemoryType = (typeof MEMORY_TYPES)[number];
export const MEMORY_SOURCES = ['tool', 'training', 'api'] as const;
export type MemorySource = (typeof MEMORY_SOURCES)[number];

export interface MemoriesTable {
  id: string;
  workspace_id: string;
  agent_id: string | null;
  /** null: the agent's own knowledge (training), retrieved for everyone who runs it. */
  user_id: number | null;
  thread_id: string | null;
  type: MemoryType;
  source: MemorySource;
  content: string;
  metadata: Json;
  /** Little-endian float32 vector (see encodeVector) when the workspace has an embedding model. */
  embedding: Buffer | null;
  embedding_model: string | null;
  created_at: string;
  updated_at: string;
}

export interface WorkspaceAiSettingsTable {
  workspace_id: string;
  embedding_account_id: string | null;
  embedding_model: string | null;
  updated_at: string;
}

/**
 * A memory as the module hands it out: `metadata` parsed, and the vector (large, and only
 * ever compared inside the module) left in the database; `has_embedding` says whether one is stored.
 */
export interface MemoryRow extends Omit<Selectable<MemoriesTable>, 'embedding' | 'metadata'> {
  metadata: Record<string, unknown>;
  has_embedding: boolean;
}

export type WorkspaceAiSettingsRow = Selectable<WorkspaceAiSettingsTable>;
