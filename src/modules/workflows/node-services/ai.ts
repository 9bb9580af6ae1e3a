import type { AppContext } from '../../../context.js';
import { isUuid } from '../../../db/values.js';
import { NodeError } from '../../../engine/node-type.js';
import type { AgentRunSpec, PromptRunSpec } from '../../../engine/ports.js';
import { AppError } from '../../../errors.js';
import { prepareAgentRun } from '../../runs/agent-run.js';
import { preparePromptRunRequest } from '../../runs/prompt-run.js';
import type { RunResource } from '../../runs/run-resource.js';
import { startRun, type PreparedRun } from '../../runs/runs.service.js';
import type { WorkspaceScope } from '../../workspaces/workspaces.service.js';

/** Longest message an agent node may send (as `POST /agents/{uuid}/run` accepts). */
const MAX_AGENT_MESSAGE = 100_000;

export interface RunUsage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  cost: number;
}

export interface PromptNodeOutput {
  text: string;
  /** The reply parsed as JSON when the prompt asks for JSON output; null otherwise. */
  json: unknown;
  usage: RunUsage;
  run_uuid: string;
}

export interface AgentNodeOutput {
  text: string;
  thread_uuid: string;
  run_uuid: string;
  usage: RunUsage;
}

export interface AiServices {
  runPrompt(spec: PromptRunSpec, signal: AbortSignal): Promise<PromptNodeOutput>;
  runAgent(spec: AgentRunSpec, signal: AbortSignal): Promise<AgentNodeOutput>;
}

type Subject = { kind: 'prompt' | 'agent'; uuid: string };

/**
 * The prompt and agent nodes' services: a run through the same run contract as
 * `POST /prompts/{uuid}/run` and `POST /agents/{uuid}/run` (stored run, thread, tokens and cost),
 * acting as the execution's user, answered as JSON once it ends. The execution's cancel stops
 * the model call; refusals and model failures become the node's error.
 */
export function createAiServices(ctx: AppContext, scopeOf: () => Promise<WorkspaceScope>): AiServices {
  return {
    async runPrompt(spec, signal) {
      const subject: Subject = { kind: 'prompt', uuid: String(spec.prompt_uuid) };
      if (!isUuid(subject.uuid)) throw new NodeError(`The prompt uuid "${subject.uuid.slice(0, 100)}" is not a uuid.`);
      const scope = await scopeOf();
      const run = await runToEnd(ctx, scope, subject, signal, () =>
        preparePromptRunRequest(ctx, scope, subject.uuid, { variables: spec.variables ?? {} }),
      );
      return { text: run.output ?? '', json: run.output_json ?? null, usage: usageOf(run), run_uuid: run.uuid };
    },

    async runAgent(spec, signal) {
      const subject: Subject = { kind: 'agent', uuid: String(spec.agent_uuid) };
      if (!isUuid(subject.uuid)) throw new NodeError(`The agent uuid "${subject.uuid.slice(0, 100)}" is not a uuid.`);
      if (spec.thread_uuid !== null && !isUuid(String(spec.thread_uuid))) {
        throw new NodeError(`The thread uuid "${String(spec.thread_uuid).slice(0, 100)}" is not a uuid.`);
      }
      if (spec.message.trim() === '') throw new NodeError('The agent node has no message to send.');
      if (spec.message.length > MAX_AGENT_MESSAGE) {
        throw new NodeError(`The message to the agent is ${spec.message.length} characters long; at most ${MAX_AGENT_MESSAGE} are sent.`);
      }
      const scope = await scopeOf();
      const run = await runToEnd(ctx, scope, subject, signal, () =>
        prepareAgentRun(ctx, scope, subject.uuid, { input: spec.message, thread_uuid: spec.thread_uuid ?? undefined }),
      );
      return { text: run.output ?? '', thread_uuid: run.thread_uuid!, run_uuid: run.uuid, usage: usageOf(run) };
    },
  };
}

function usageOf(run: RunResource): RunUsage {
  const { input_tokens, output_tokens, total_tokens, cost } = run.usage;
  return { input_tokens, output_tokens, total_tokens, cost };
}

/** A run started the way the API starts one, without a client: its stored result once it ends. */
async function runToEnd(
  ctx: AppContext,
  scope: WorkspaceScope,
  subject: Subject,
  signal: AbortSignal,
  prepare: () => Promise<PreparedRun>,
): Promise<RunResource> {
  if (signal.aborted) throw cancelled(subject);
  let runId: string | undefined;
  let reply: Awaited<ReturnType<typeof startRun>>;
  try {
    reply = await startRun(
      ctx,
      {
        scope,
        idempotencyKey: undefined,
        fingerprint: null,
        stream: false,
        lastEventId: 0,
        // A workflow does not wait for someone else's run on the same thread: the node fails (and may retry).
        multitask: 'reject',
        baseUrl: ctx.config.publicUrl ?? `http://${ctx.config.host === '0.0.0.0' || ctx.config.host === '::' ? 'localhost' : ctx.config.host}:${ctx.config.port}`,
      },
      async () => {
        const prepared = await prepare();
        runId = prepared.runId;
        return cancellable(prepared, signal);
      },
    );
  } catch (error) {
    throw nodeErrorOf(error, subject);
  }
  if (reply.kind !== 'json') throw new Error('A run started without a stream answered with one.');
  if (reply.status >= 400) {
    const message = (reply.body as { message?: string } | null)?.message ?? 'The model call failed.';
    throw new NodeError(`The ${subject.kind} run failed: ${message}`, runId ? { run_uuid: runId } : undefined);
  }
  const run = (reply.body as { data: RunResource }).data;
  if (run.status === 'cancelled' || signal.aborted) throw cancelled(subject, run.uuid);
  return run;
}

/** The run's model work, stopped (and stored as cancelled) when the execution is. */
function cancellable(prepared: PreparedRun, signal: AbortSignal): PreparedRun {
  return {
    ...prepared,
    execute: (run) => {
      const stop = () => run.live.abort('cancelled');
      if (signal.aborted) stop();
      else {
        signal.addEventListener('abort', stop, { once: true });
        void run.live.done.then(() => signal.removeEventListener('abort', stop));
      }
      return prepared.execute(run);
    },
  };
}

function cancelled(subject: Subject, runId?: string): NodeError {
  return new NodeError(`The ${subject.kind} run was cancelled.`, runId ? { run_uuid: runId } : undefined);
}

const LABEL: Record<Subject['kind'], string> = { prompt: 'Prompt', agent: 'Agent' };

/** What the API would answer with, as the node's error; anything that is not a refusal is the platform's. */
function nodeErrorOf(error: unknown, subject: Subject): unknown {
  if (!(error instanceof AppError)) return error;
  const label = `${LABEL[subject.kind]} ${subject.uuid}`;
  switch (error.code) {
    case 'NOT_FOUND':
      return new NodeError(`${label} was not found, or the workflow's user may not see it.`);
    case 'FORBIDDEN':
      return new NodeError(
        subject.kind === 'agent'
          ? `The workflow's user may not run agent ${subject.uuid} (a run needs the member role and the agent's run permission).`
          : `The workflow's user may not run prompts in this workspace (a run needs the member role).`,
      );
    case 'VALIDATION': {
      const fields = error.fields ?? {};
      const details = Object.entries(fields).map(([field, messages]) => `${field}: ${messages.join(' ')}`);
      return new NodeError(`${label} could not run: ${details.length > 0 ? details.join('; ') : error.message}`, { fields });
    }
    case 'CONFLICT':
    case 'BAD_GATEWAY':
    case 'GATEWAY_TIMEOUT':
    case 'BAD_REQUEST':
      return new NodeError(`${label} could not run: ${error.message}`);
    default:
      return error;
  }
}
