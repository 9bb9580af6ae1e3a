import { Ajv } from 'ajv';
import type { AppContext } from '../../context.js';
import { AppError, fieldError } from '../../errors.js';
import { getAgentAccessOrThrow } from '../agents/access.js';
import { createAgent } from '../agents/agents.service.js';
import type { AgentResource } from '../agents/agents.schemas.js';
import { loadHistory } from '../threads/messages.service.js';
import { getThreadForRunOrThrow, renameThread, toThreadResource } from '../threads/threads.service.js';
import type { ThreadResource } from '../threads/threads.schemas.js';
import { listTools, SORT_COLUMNS as TOOL_SORT } from '../tools/tools.service.js';
import { authorize } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { generateOnce } from './generation.js';
import { resolveModelTarget } from './model-target.js';
import { parseJsonReply } from './prompt-run.js';

const ajv = new Ajv({ allErrors: true });

/** What a model must answer when asked to draft an agent. */
const AGENT_DRAFT_SCHEMA = {
  type: 'object',
  required: ['name', 'instructions'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 80 },
    emoji: { type: 'string', maxLength: 16 },
    description: { type: 'string', maxLength: 500 },
    instructions: { type: 'string', minLength: 20, maxLength: 20_000 },
    tools: { type: 'array', maxItems: 20, items: { type: 'string', maxLength: 100 } },
  },
} as const;
const validateDraft = ajv.compile(AGENT_DRAFT_SCHEMA);

/** The enabled tools the caller can give an agent (the first 100 by name), as the model reads them. */
async function toolCatalogOf(ctx: AppContext, scope: WorkspaceScope): Promise<Array<{ uuid: string; name: string; description: string }>> {
  const page = await listTools(ctx, scope, { page: 1, perPage: 100, cursor: undefined, sort: { column: TOOL_SORT.name, direction: 'asc' } }, {});
  return page.items.filter((t) => t.is_enabled).map((t) => ({ uuid: t.uuid, name: t.name, description: t.description }));
}

export interface AgentDraft {
  name: string;
  emoji?: string;
  description?: string;
  instructions: string;
  tools?: string[];
}

export interface GenerateAgentInput {
  description: string;
  llm_uuid: string;
  account_uuid: string;
  visibility?: 'private' | 'workspace' | 'public';
}

/** Checks a model's draft; the problem in words the model can fix on a second try. */
export function checkAgentDraft(text: string): { draft: AgentDraft } | { problem: string } {
  const value = parseJsonReply(text);
  if (value === undefined) return { problem: 'the answer was not a JSON object' };
  if (!validateDraft(value)) {
    const problems = (validateDraft.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || 'the object'} ${e.message}`);
    return { problem: problems.join('; ') };
  }
  return { draft: value as AgentDraft };
}

/**
 * `POST /agents/generate`: a model drafts an agent (name, emoji, description, instructions and
 * tools from the catalog the caller can use); the draft is validated (one retry with the
 * problem named), then saved like any created agent, which validates it again.
 */
export async function generateAgent(
  ctx: AppContext,
  scope: WorkspaceScope,
  input: GenerateAgentInput,
): Promise<{ agent: AgentResource; runId: string; suggestedTools: string[]; ignoredTools: string[] }> {
  authorize(scope.role, 'write');
  const target = await resolveModelTarget(ctx, scope, { llmId: input.llm_uuid, accountId: input.account_uuid });
  const catalog = await toolCatalogOf(ctx, scope);
  const system = [
    'You design AI agents for Athena, an agent platform. Given what the user wants, answer with one JSON object and nothing else:',
    '{"name": short name, "emoji": one emoji, "description": one sentence, "instructions": the complete system prompt for the agent, written to the agent in the second person, "tools": names of tools from the catalog the agent needs (may be empty)}.',
    catalog.length > 0 ? `Tool catalog (name: what it does):\n${catalog.map((t) => `- ${t.name}: ${t.description}`).join('\n')}` : 'No tools are available.',
  ].join('\n\n');
  let prompt = `Design an agent for this: ${input.description}`;
  let runId = '';
  let draft: AgentDraft | undefined;
  let problem = '';
  for (let attempt = 0; attempt < 2 && !draft; attempt++) {
    const result = await generateOnce(ctx, scope, target, { system, prompt, json: true, maxOutputTokens: 4_000 });
    runId = result.runId;
    const checked = checkAgentDraft(result.text);
    if ('draft' in checked) draft = checked.draft;
    else {
      problem = checked.problem;
      prompt = `${prompt}\n\nYour previous answer was not usable: ${problem}. Answer again with the JSON object only.`;
    }
  }
  if (!draft) throw new AppError('BAD_GATEWAY', `The model did not draft a valid agent: ${problem}.`);

  const byName = new Map(catalog.map((t) => [t.name.toLowerCase(), t.uuid]));
  const byUuid = new Set(catalog.map((t) => t.uuid));
  const suggested = draft.tools ?? [];
  const toolIds = [...new Set(suggested.map((name) => (byUuid.has(name) ? name : byName.get(name.toLowerCase()))).filter((id): id is string => id !== undefined))];
  const agent = await createAgent(ctx, scope, {
    name: draft.name.trim(),
    description: draft.description?.trim() || null,
    instructions: draft.instructions.trim(),
    llm_uuid: input.llm_uuid,
    account_uuid: input.account_uuid,
    tools: toolIds,
    profile_photo_config: draft.emoji ? { emoji: draft.emoji, preference: 'emoji' } : undefined,
    visibility: input.visibility,
  });
  return { agent, runId, suggestedTools: suggested, ignoredTools: suggested.filter((name) => !byUuid.has(name) && !byName.has(name.toLowerCase())) };
}

/** A short title from a model's answer: first line, no quotes, no trailing period, ≤ 80 chars. */
export function cleanTitle(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line
    .replace(/^(title|name)\s*:\s*/i, '')
    .replace(/^["'“”‘’*#\s]+|["'“”‘’*\s]+$/g, '')
    .replace(/[.。]+$/, '')
    .slice(0, 80)
    .trim();
}

/** `POST /threads/{uuid}/generate-name`: a model names the thread from its first messages. */
export async function generateThreadName(
  ctx: AppContext,
  scope: WorkspaceScope,
  threadId: string,
  input: { llm_uuid?: string; account_uuid?: string },
): Promise<ThreadResource> {
  const db = ctx.db.kysely;
  const thread = await getThreadForRunOrThrow(ctx, scope, threadId.toLowerCase());
  let target;
  if (input.llm_uuid || input.account_uuid) {
    target = await resolveModelTarget(ctx, scope, { llmId: input.llm_uuid, accountId: input.account_uuid });
  } else {
    if (!thread.agent_id) throw fieldError('llm_uuid', 'The llm uuid field is required when the thread has no agent.');
    const { agent } = await getAgentAccessOrThrow(ctx, scope, thread.agent_id, 'run');
    if (!agent.llm_id || !agent.account_id) throw fieldError('llm_uuid', 'The llm uuid field is required: the thread’s agent has no model.');
    target = await resolveModelTarget(ctx, { workspaceId: agent.workspace_id, userId: agent.user_id ?? scope.userId }, { llmId: agent.llm_id, accountId: agent.account_id });
  }
  const history = (await loadHistory(db, thread.id, 12)).filter((m) => (m.role === 'user' || m.role === 'assistant') && m.content.trim() !== '');
  if (history.length === 0) throw fieldError('thread', 'The thread has no messages to name it from.');
  const transcript = history.map((m) => `${m.role}: ${m.content.slice(0, 1_000)}`).join('\n');
  const result = await generateOnce(
    ctx,
    scope,
    target,
    {
      system: 'You name conversations. Answer with a title of at most six words that says what the conversation is about. No quotes, no final period.',
      prompt: transcript,
      maxOutputTokens: 30,
    },
    { agentId: thread.agent_id },
  );
  const name = cleanTitle(result.text);
  if (!name) throw new AppError('BAD_GATEWAY', 'The model answered with an empty name.');
  return toThreadResource(db, await renameThread(db, scope.workspaceId, thread.id, name), scope.userId);
}
