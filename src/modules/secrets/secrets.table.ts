import type { Selectable } from 'kysely';

/** One data key per workspace, wrapped (AES-256-GCM) by the master key whose id it records. */
export interface WorkspaceKeysTable {
  /** The key id written into every secret it encrypts. */
  id: string;
  workspace_id: string;
  /** base64 of iv ‖ tag ‖ ciphertext of the 32-byte data key. */
  wrapped_key: string;
  /** `masterKeyId()` of the master key that wrapped it. */
  master_key_id: string;
  created_at: string;
  updated_at: string;
}

export type WorkspaceKeyRow = Selectable<WorkspaceKeysTable>;
