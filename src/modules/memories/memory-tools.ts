import { ToolError, type BuiltinToolDefinition, type RunScope } from '../../ai/ports.js';
import { can } from '../workspaces/permissions.js';
import { findSameMemory } from './memories.repository.js';
import { searchMemories, storeMemories } from './memories.service.js';

export const MEMORY_SAVE_TOOL_ID = '01980000-0000-7000-8002-000000000001';
export const MEMORY_SEARCH_TOOL_ID = '01980000-0000-7000-8002-000000000002';
const MAX_TOOL_MEMORY_LENGTH = 4_000;
const MAX_SEARCH_RESULTS = 20;

interface SaveInput {
  content: string;
  type?: 'fact';
}

interface SearchInput {
  query: string;
  limit?: number;
}

/** Input arrives validated against `inputSchema`; this only guards against a caller that skipped it. */
function textOf(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ToolError(`${field} must be a non-empty string.`);
  if (value.length > max) throw new ToolError(`${field} must not be longer than ${max} characters.`);
  return value.trim();
}

const memorySave: BuiltinToolDefinition = {
  uuid: MEMORY_SAVE_TOOL_ID,
  name: 'memory_save',
  displayName: 'Save a memory',
  description:
    'Remember a fact about the user or the task for later conversations with this agent (a preference, a decision, a name). Write it as one self-contained sentence.',
  group: 'memory',
  inputSchema: {
    type: 'object',
    properties: {
      content: { type: 'string', minLength: 1, maxLength: MAX_TOOL_MEMORY_LENGTH, description: 'The fact, as one self-contained sentence.' },
      type: { type: 'string', enum: ['fact'], description: 'Only facts are saved by this tool.' },
    },
    required: ['content'],
    additionalProperties: false,
  },
  async execute(input: unknown, run: RunScope) {
    const { content: raw } = (input ?? {}) as SaveInput;
    const content = textOf(raw, 'content', MAX_TOOL_MEMORY_LENGTH);
    const { scope } = run;
    if (!can(scope.role, 'write')) throw new ToolError('Memories cannot be saved: the user only has read access to this workspace.');
    const owner = { workspaceId: scope.workspaceId, agentId: run.agentId, userId: scope.userId };
    // A model tends to save the same fact again; the first copy is kept.
    const existing = await findSameMemory(run.ctx.db.kysely, owner, content);
    if (existing) return { saved: true, memory_uuid: existing };
    const [row] = await storeMemories(run.ctx, [
      { ...owner, threadId: run.threadId, type: 'fact', source: 'tool', content, metadata: { run_uuid: run.runId } },
    ]);
    return { saved: true, memory_uuid: row!.id };
  },
};

const memorySearch: BuiltinToolDefinition = {
  uuid: MEMORY_SEARCH_TOOL_ID,
  name: 'memory_search',
  displayName: 'Search memories',
  description:
    'Search what this agent remembers about the user and what it was trained with. Returns the best matches with a relevance score (higher is better).',
  group: 'memory',
  inputSchema: {
    type: 'object',
    properties: {
      query: { type: 'string', minLength: 1, maxLength: 1_000, description: 'Words to look for.' },
      limit: { type: 'integer', minimum: 1, maximum: MAX_SEARCH_RESULTS, description: 'At most this many matches (default 5).' },
    },
    required: ['query'],
    additionalProperties: false,
  },
  async execute(input: unknown, run: RunScope) {
    const { query: raw, limit } = (input ?? {}) as SearchInput;
    const query = textOf(raw, 'query', 1_000);
    const count = Number.isInteger(limit) ? Math.min(Math.max(limit!, 1), MAX_SEARCH_RESULTS) : 5;
    const found = await searchMemories(run.ctx, {
      workspaceId: run.scope.workspaceId,
      agentId: run.agentId,
      userId: run.scope.userId,
      text: query,
      limit: count,
    });
    return { matches: found.map(({ row, score }) => ({ uuid: row.id, content: row.content, type: row.type, score })) };
  },
};

/** The built-in memory tools, for the tool registry. */
export const memoryTools: BuiltinToolDefinition[] = [memorySave, memorySearch];
