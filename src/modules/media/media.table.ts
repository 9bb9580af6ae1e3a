import type { Selectable } from 'kysely';

export type MediaKind = 'image' | 'text';

/** An uploaded file, stored under `<data dir>/media/<storage_key>`. */
export interface MediaTable {
  id: string;
  workspace_id: string;
  user_id: number | null;
  filename: string;
  mime_type: string;
  size_bytes: number;
  kind: MediaKind;
  storage_key: string;
  sha256: string;
  created_at: string;
  updated_at: string;
}

export type MediaRow = Selectable<MediaTable>;
