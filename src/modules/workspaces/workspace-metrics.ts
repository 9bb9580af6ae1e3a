import type { Executor } from '../../db/database.js';
import { countMembersByWorkspace } from './workspaces.repository.js';
import { countCustomProvidersByWorkspace } from '../providers/providers.repository.js';
import { countUsableAccountsByWorkspace } from '../accounts/accounts.repository.js';
import { countVisibleAgentsByWorkspace } from '../agents/agents.repository.js';
import { countAccountsByWorkspace, countContactsByWorkspace } from '../customer-accounts/customer-accounts.repository.js';
import { countVisibleMediaByWorkspace } from '../media/media.repository.js';
import { countVisibleMemoriesByWorkspace } from '../memories/memories.repository.js';
import { countVisibleMessagesByWorkspace, countVisibleThreadsByWorkspace } from '../threads/threads.repository.js';
import { countVisiblePromptsByWorkspace } from '../prompts/prompts.repository.js';
import { countVisibleExecutionsByWorkspace, countVisibleWorkflowsByWorkspace } from '../metrics/metrics.repository.js';

/**
 * Counts per workspace for `GET /api/v1/workspaces/metrics`. Each module that owns countable
 * things adds its counter here; a counter sees only what the user may see.
 */
export type WorkspaceCounter = (db: Executor, userId: number, workspaceIds: readonly string[]) => Promise<Map<string, number>>;

export const WORKSPACE_COUNTERS = {
  members: (db, _userId, workspaceIds) => countMembersByWorkspace(db, workspaceIds),
  /** Custom providers of the workspace the user sees (the official catalog is not counted). */
  providers: (db, userId, workspaceIds) => countCustomProvidersByWorkspace(db, userId, workspaceIds),
  /** Connected accounts the user may use: their own and the public ones. */
  accounts: (db, userId, workspaceIds) => countUsableAccountsByWorkspace(db, userId, workspaceIds),
  /** Customer accounts (`/v1`): every member sees all of them. */
  customer_accounts: (db, _userId, workspaceIds) => countAccountsByWorkspace(db, workspaceIds),
  customer_contacts: (db, _userId, workspaceIds) => countContactsByWorkspace(db, workspaceIds),
  /** Agents of the workspace the user sees there: by role and visibility, or shared with them. */
  agents: (db, userId, workspaceIds) => countVisibleAgentsByWorkspace(db, userId, workspaceIds),
  /** Uploaded files the user sees in the media list: their own; all of them where they are an admin. */
  media: (db, userId, workspaceIds) => countVisibleMediaByWorkspace(db, userId, workspaceIds),
  /** Memories the user sees: their own, and the agent-wide ones of agents they can see (admins: all). */
  memories: (db, userId, workspaceIds) => countVisibleMemoriesByWorkspace(db, userId, workspaceIds),
  /** Threads the user may read (their own and the workspace-visible ones), and their messages. */
  threads: (db, userId, workspaceIds) => countVisibleThreadsByWorkspace(db, userId, workspaceIds),
  messages: (db, userId, workspaceIds) => countVisibleMessagesByWorkspace(db, userId, workspaceIds),
  /** Prompts the user sees: every non-private one and their own private ones. */
  prompts: (db, userId, workspaceIds) => countVisiblePromptsByWorkspace(db, userId, workspaceIds),
  /** Workflows the user sees there, as the workflows list shows them (role, visibility, shares). */
  workflows: (db, userId, workspaceIds) => countVisibleWorkflowsByWorkspace(db, userId, workspaceIds),
  /** Executions the user sees in the executions list: all for admins and owners, else those of workflows not private to another. */
  executions: (db, userId, workspaceIds) => countVisibleExecutionsByWorkspace(db, userId, workspaceIds),
} satisfies Record<string, WorkspaceCounter>;

export type WorkspaceCounterName = keyof typeof WORKSPACE_COUNTERS;
