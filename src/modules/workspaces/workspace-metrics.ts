import type { Executor } from '../../db/database.js';
import { countMembersByWorkspace } from './workspaces.repository.js';

/**
 * Counts per workspace for `GET /api/v1/workspaces/metrics`. Each module that owns countable
 * things adds its counter here; a counter sees only what the user may see.
 */
export type WorkspaceCounter = (db: Executor, userId: number, workspaceIds: readonly string[]) => Promise<Map<string, number>>;

export const WORKSPACE_COUNTERS = {
  members: (db, _userId, workspaceIds) => countMembersByWorkspace(db, workspaceIds),
} satisfies Record<string, WorkspaceCounter>;

export type WorkspaceCounterName = keyof typeof WORKSPACE_COUNTERS;
