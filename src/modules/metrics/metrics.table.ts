import type { AGENT_RUN_COUNTERS, CONVERSATION_COUNTERS, EXECUTION_COUNTERS } from './series.js';

/** Key columns every rollup table shares (see series.ts). */
interface RollupKey {
  workspace_id: string;
  dim: string;
  owner_id: number;
  bucket: number;
}

export type ExecutionRollupsTable = RollupKey & Record<(typeof EXECUTION_COUNTERS)[number], number>;
export type AgentRunRollupsTable = RollupKey & Record<(typeof AGENT_RUN_COUNTERS)[number], number>;
export type ConversationRollupsTable = RollupKey & Record<(typeof CONVERSATION_COUNTERS)[number], number>;
