import type { ModelMessage } from 'ai';
import type { AppContext } from '../../context.js';
import { newId } from '../../db/values.js';
import { AppError, fieldError } from '../../errors.js';
import { runTurn, type StepRecord } from '../../ai/tool-loop.js';
import { ToolError, type RunScope, type RunTool } from '../../ai/ports.js';
import { agentCredentialOwner, agentMemoryOf, agentSettingsOf, agentToolIdsOf, getAgentAccessOrThrow, type AgentRow } from '../agents/access.js';
import { attachmentParts, loadAttachments } from '../media/media.service.js';
import { retrieveMemories } from '../memories/memories.service.js';
import type { MemoryRow } from '../memories/memories.table.js';
import { parseTemplate, renderTemplate } from '../prompts/template.js';
import { appendMessages, loadHistory, toMessageResources, type NewMessage } from '../threads/messages.service.js';
import { createThread, getThreadForRunOrThrow } from '../threads/threads.service.js';
import type { ThreadRow } from '../threads/threads.table.js';
import { resolveRunTools } from '../tools/tools.service.js';
import { can } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { toModelConversation, userMessageOf, type HistoryMessage, type UserPart } from './conversation.js';
import { languageModelFor } from './model-call.js';
import { resolveModelTarget, type ModelTarget } from './model-target.js';
import { linkOfRun, startsEarly, type RunLink } from './run-link.js';
import type { PreparedRun, RunOutcome } from './runs.service.js';

/** Messages of the thread sent back to the model with each run. */
const HISTORY_LIMIT = 50;

export interface AgentRunInput {
  /** The user's message; a thread run may omit it to answer the conversation as it stands. */
  input?: string;
  attachments?: string[];
  /** Values for `{{ }}` in the agent's instructions. */
  variables?: Record<string, unknown>;
}

/** Where the run goes: a thread of the caller's, or a new one the run starts. */
export type ThreadChoice = { kind: 'existing'; thread: ThreadRow } | { kind: 'new' };

/** `POST /agents/{uuid}/run`: the agent, and the thread named or a new one. */
export async function prepareAgentRun(
  ctx: AppContext,
  scope: WorkspaceScope,
  agentId: string,
  body: AgentRunInput & { thread_uuid?: string },
): Promise<PreparedRun> {
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  const { agent } = await getAgentAccessOrThrow(ctx, scope, agentId.toLowerCase(), 'run');
  let choice: ThreadChoice = { kind: 'new' };
  if (body.thread_uuid) {
    const thread = await threadOrFieldError(ctx, scope, body.thread_uuid);
    if (thread.agent_id !== null && thread.agent_id !== agent.id) throw fieldError('thread_uuid', 'The selected thread belongs to another agent.');
    choice = { kind: 'existing', thread };
  }
  return prepareConversationRun(ctx, scope, agent, choice, body, 'agent');
}

/** `POST /threads/{uuid}/run`: the thread's agent answers it. */
export async function prepareThreadRun(ctx: AppContext, scope: WorkspaceScope, threadId: string, body: AgentRunInput): Promise<PreparedRun> {
  const thread = await getThreadForRunOrThrow(ctx, scope, threadId.toLowerCase());
  if (!thread.agent_id) throw fieldError('agent_uuid', 'The thread has no agent to answer it: set its agent_uuid first.');
  let agent: AgentRow;
  try {
    ({ agent } = await getAgentAccessOrThrow(ctx, scope, thread.agent_id, 'run'));
  } catch (error) {
    if (error instanceof AppError && error.code === 'NOT_FOUND') throw fieldError('agent_uuid', 'The thread’s agent is no longer available to you.');
    throw error;
  }
  if (!body.input && !body.attachments?.length && thread.message_count === 0) {
    throw fieldError('content', 'The content field is required when the thread has no messages yet.');
  }
  return prepareConversationRun(ctx, scope, agent, { kind: 'existing', thread }, body, 'thread');
}

async function threadOrFieldError(ctx: AppContext, scope: WorkspaceScope, threadId: string): Promise<ThreadRow> {
  try {
    return await getThreadForRunOrThrow(ctx, scope, threadId.toLowerCase());
  } catch (error) {
    if (error instanceof AppError && error.code === 'NOT_FOUND') throw fieldError('thread_uuid', 'The selected thread uuid is invalid.');
    throw error;
  }
}

async function prepareConversationRun(
  ctx: AppContext,
  scope: WorkspaceScope,
  agent: AgentRow,
  choice: ThreadChoice,
  body: AgentRunInput,
  kind: 'agent' | 'thread',
): Promise<PreparedRun> {
  const db = ctx.db.kysely;
  if (!agent.llm_id || !agent.account_id) {
    throw fieldError('llm_uuid', 'The agent has no model: set its llm_uuid and account_uuid.');
  }
  // What the model call needs that depends on neither the model nor the claim is read meanwhile;
  // a run refused later (422, 409, a replay) leaves it unused.
  const memory = agentMemoryOf(agent);
  const memories = memory.enabled && body.input ? handled(recall(ctx, scope, agent, body.input, memory.retrieve_limit)) : undefined;
  // The agent runs on its creator's model account, whoever runs it (sharing an agent shares that).
  const target = await resolveModelTarget(ctx, agentCredentialOwner(agent, scope.userId), { llmId: agent.llm_id, accountId: agent.account_id });
  const media = body.attachments?.length ? await loadAttachments(db, scope, body.attachments, 'attachments') : [];
  const inputParts = media.length > 0 ? await attachmentParts(ctx, media, { vision: target.capabilities.vision, name: target.llm.name }, 'attachments') : [];
  const instructions = await renderInstructions(agent.instructions, body.variables ?? {});
  const runId = newId();
  const isNew = choice.kind === 'new';
  const hasInput = Boolean(body.input) || media.length > 0;
  const runScope: RunScope = {
    ctx,
    scope,
    runId,
    agentId: agent.id,
    threadId: choice.kind === 'existing' ? choice.thread.id : null,
    toolOwner: agentCredentialOwner(agent, scope.userId),
  };
  const tools = handled(target.capabilities.tools ? resolveRunTools(runScope, agentToolIdsOf(agent)) : Promise.resolve<RunTool[]>([]));

  return {
    runId,
    kind,
    agentId: agent.id,
    threadId: runScope.threadId,
    promptId: null,
    promptVersion: null,
    target,
    beforeClaim: isNew
      ? async (trx) => {
          const thread = await createThread(trx, {
            workspaceId: scope.workspaceId,
            userId: scope.userId,
            agentId: agent.id,
            name: null,
            messageCount: hasInput ? 1 : 0,
          });
          runScope.threadId = thread.id;
          return thread.id;
        }
      : undefined,
    afterClaim: hasInput
      ? async (trx, run) => {
          await appendMessages(trx, { id: run.thread_id!, workspaceId: scope.workspaceId, createdWithThem: isNew }, [
            {
              role: 'user',
              content: body.input ?? '',
              runId: run.id,
              userId: scope.userId,
              agentId: agent.id,
              attachments: media.map((m) => m.id),
            },
          ]);
        }
      : undefined,
    ...conversationStarts(ctx, scope, agent, target, runId, {
      instructions,
      inputText: body.input ?? '',
      inputParts,
      newThread: isNew,
      tools,
      memories,
    }),
  };
}

/**
 * A run in a new thread has a conversation of its input alone: its model turn may start while the
 * run is claimed (see startsEarly). A run in an existing thread reads the thread after the claim.
 */
function conversationStarts(
  ctx: AppContext,
  scope: WorkspaceScope,
  agent: AgentRow,
  target: ModelTarget,
  runId: string,
  turn: ConversationTurn,
): Pick<PreparedRun, 'startEarly' | 'abandon' | 'execute'> {
  const start = (link: RunLink) => conversationTurn(ctx, scope, agent, target, turn, link);
  if (turn.newThread) return startsEarly(runId, start);
  return { execute: (run) => start(linkOfRun(run)) };
}

/** A promise whose failure is reported where it is awaited, not as an unhandled rejection. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/**
 * Instructions are a LiquidJS template over the run's `variables` (`{{ customer | default: … }}`).
 * Instructions that do not parse as a template are plain text and go to the model as written.
 */
async function renderInstructions(instructions: string, variables: Record<string, unknown>): Promise<string> {
  if (!instructions.includes('{')) return instructions;
  let parsed: ReturnType<typeof parseTemplate>;
  try {
    parsed = parseTemplate(instructions);
  } catch {
    return instructions;
  }
  try {
    return await renderTemplate(parsed, variables);
  } catch (error) {
    throw fieldError('variables', `The agent's instructions could not be rendered: ${(error as Error).message}`);
  }
}

/** The system prompt: the agent's instructions, then what it remembers and its reference material. */
export function systemPromptOf(instructions: string, threadSystem: string[], facts: MemoryRow[], documents: MemoryRow[]): string {
  const sections = [instructions.trim(), ...threadSystem.map((s) => s.trim())].filter(Boolean);
  if (facts.length > 0) {
    sections.push(`Things you remember (from earlier conversations and training):\n${facts.map((m) => `- ${m.content}`).join('\n')}`);
  }
  if (documents.length > 0) {
    const blocks = documents.map((m) => {
      const title = m.metadata.title;
      return `${title ? `[${String(title)}]\n` : ''}${m.content}`;
    });
    sections.push(`Reference material:\n${blocks.join('\n\n')}`);
  }
  return sections.join('\n\n');
}

/** Few-shot examples from training, as user/assistant pairs before the conversation. */
export function exampleMessages(examples: MemoryRow[]): ModelMessage[] {
  return examples.flatMap((m): ModelMessage[] => {
    const { input, output } = m.metadata;
    if (typeof input !== 'string' || typeof output !== 'string') return [];
    return [
      { role: 'user', content: input },
      { role: 'assistant', content: output },
    ];
  });
}

async function historyParts(ctx: AppContext, message: HistoryMessage, target: ModelTarget): Promise<UserPart[]> {
  if (message.attachments.length === 0) return [];
  // Earlier images go to a model that cannot see them as a note instead of a refusal.
  const visible = target.capabilities.vision ? message.attachments : message.attachments.filter((m) => m.kind !== 'image');
  const parts: UserPart[] = visible.length > 0 ? await attachmentParts(ctx, visible, { vision: target.capabilities.vision, name: target.llm.name }) : [];
  const hidden = message.attachments.length - visible.length;
  if (hidden > 0) parts.push({ type: 'text', text: `[${hidden} image${hidden === 1 ? '' : 's'} not shown: this model does not accept images]` });
  return parts;
}

interface ConversationTurn {
  instructions: string;
  inputText: string;
  inputParts: UserPart[];
  newThread: boolean;
  tools: Promise<RunTool[]>;
  /** Started before the claim when there was input to recall with. */
  memories: Promise<Recalled> | undefined;
}

async function conversationTurn(
  ctx: AppContext,
  scope: WorkspaceScope,
  agent: AgentRow,
  target: ModelTarget,
  turn: ConversationTurn,
  link: RunLink,
): Promise<RunOutcome> {
  const db = ctx.db.kysely;
  const settings = agentSettingsOf(agent);
  const memory = agentMemoryOf(agent);

  // A thread the run just started holds only the message it wrote: its history is not read back.
  const history = turn.newThread ? Promise.resolve([]) : link.claimed.then((run) => loadHistory(db, run.threadId!, HISTORY_LIMIT));
  // Without input, the memories to recall are those of the conversation's last user message.
  const recalled = turn.memories ?? (memory.enabled ? history.then((past) => recall(ctx, scope, agent, lastUserText(past), memory.retrieve_limit)) : undefined);
  const [past, resolvedTools, memories] = await Promise.all([history, turn.tools, recalled]);
  // Tools act on the world (and the memory tool writes to the run's thread): none runs before
  // the run is claimed, even when the model asks early.
  const tools = resolvedTools.map((tool): RunTool => ({
    ...tool,
    execute: async (input, call) => {
      await link.claimed.catch(() => {
        throw new ToolError('The run was cancelled before the tool could run.');
      });
      return tool.execute(input, call);
    },
  }));
  // The input's own attachments are already parts; history re-reads files only for older messages.
  const partsByMessage = new Map<string, UserPart[]>();
  for (const message of past) {
    if (message.role === 'user' && message.run_id === link.runId) partsByMessage.set(message.id, turn.inputParts);
    else if (message.role === 'user') partsByMessage.set(message.id, await historyParts(ctx, message, target));
  }
  const conversation = turn.newThread
    ? { system: [], messages: [userMessageOf(turn.inputText, turn.inputParts)] }
    : toModelConversation(past, (message) => partsByMessage.get(message.id) ?? []);
  const system = systemPromptOf(turn.instructions, conversation.system, memories?.facts ?? [], memories?.documents ?? []);
  const messages = [...exampleMessages(memories?.examples ?? []), ...conversation.messages];

  const result = await runTurn(
    {
      model: await languageModelFor(ctx, target),
      system: system || undefined,
      messages,
      tools,
      maxSteps: Math.min(settings.max_steps, ctx.config.model.maxSteps),
      temperature: settings.temperature,
      maxOutputTokens: settings.max_tokens,
      stepTimeoutMs: ctx.config.model.timeoutMs,
      prices: target.prices,
      signal: link.signal,
      secrets: [target.apiKey],
    },
    {
      newMessageId: () => newId(),
      onTextDelta: (messageId, delta) => link.emit('message.delta', { message_uuid: messageId, delta }),
      onToolCall: (messageId, call) => link.emit('tool.call', { message_uuid: messageId, tool_call_id: call.id, name: call.name, input: call.input }),
      onToolResult: (messageId, result) =>
        link.emit('tool.result', { message_uuid: messageId, tool_call_id: result.toolCallId, name: result.name, output: result.output, is_error: result.isError }),
      onStepFinish: async (step) => {
        // Steps are stored in the claimed run's thread; a turn started early waits for it here.
        const run = await link.claimed;
        const thread = { id: run.threadId!, workspaceId: scope.workspaceId };
        const rows = await db.transaction().execute((trx) => appendMessages(trx, thread, stepMessages(step, run.id, agent.id, target)));
        const [message] = await toMessageResources(db, rows.slice(0, 1), run.baseUrl);
        run.emit('message.completed', { message, usage: message?.usage ?? null });
      },
    },
    { onUnexpectedToolError: (tool, error) => ctx.log.error({ err: error, tool: tool.uuid, run: link.runId }, 'a tool failed unexpectedly') },
  );
  return { turn: result, output: result.text };
}

/** One step as stored: the assistant's message (text and calls), then each tool result. */
function stepMessages(step: StepRecord, runId: string, agentId: string, target: ModelTarget): NewMessage[] {
  const assistant: NewMessage = {
    id: step.messageId,
    role: 'assistant',
    content: step.text,
    runId,
    agentId,
    toolCalls: step.toolCalls.length > 0 ? step.toolCalls.map((c) => ({ id: c.id, name: c.name, input: c.input })) : null,
    status: step.status,
    llmId: target.llm.id,
    modelId: target.llm.model_id,
    inputTokens: step.usage.inputTokens,
    outputTokens: step.usage.outputTokens,
    cost: step.usage.cost,
    latencyMs: step.latencyMs,
    metadata: { finish_reason: step.finishReason },
  };
  const results = step.toolResults.map(
    (r): NewMessage => ({
      role: 'tool',
      content: typeof r.output === 'string' ? r.output : JSON.stringify(r.output ?? null),
      runId,
      agentId,
      toolResult: { tool_call_id: r.toolCallId, name: r.name, output: r.output, is_error: r.isError },
      status: 'completed',
    }),
  );
  return [assistant, ...results];
}

function lastUserText(history: HistoryMessage[]): string {
  return [...history].reverse().find((m) => m.role === 'user')?.content ?? '';
}

/**
 * Memories for this turn: the caller's own with this agent (in the workspace the run acts in)
 * and the agent's training (in the agent's workspace, which differs for a shared agent).
 */
interface Recalled {
  facts: MemoryRow[];
  examples: MemoryRow[];
  documents: MemoryRow[];
}

async function recall(ctx: AppContext, scope: WorkspaceScope, agent: AgentRow, text: string, limit: number): Promise<Recalled> {
  const own = await retrieveMemories(ctx, { workspaceId: scope.workspaceId, agentId: agent.id, userId: scope.userId, text, limit });
  if (agent.workspace_id === scope.workspaceId) return { facts: own.facts.map((m) => m.row), examples: own.examples.map((m) => m.row), documents: own.documents.map((m) => m.row) };
  const trained = await retrieveMemories(ctx, { workspaceId: agent.workspace_id, agentId: agent.id, userId: 0, text, limit });
  const merge = (a: Array<{ row: MemoryRow; score: number }>, b: Array<{ row: MemoryRow; score: number }>) =>
    [...a, ...b].sort((x, y) => y.score - x.score).slice(0, limit).map((m) => m.row);
  return { facts: merge(own.facts, trained.facts), examples: merge(own.examples, trained.examples), documents: merge(own.documents, trained.documents) };
}
