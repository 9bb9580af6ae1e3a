import type { AppContext } from '../../context.js';
import { newId } from '../../db/values.js';
import { fieldError } from '../../errors.js';
import { runTurn } from '../../ai/tool-loop.js';
import { preparePromptRun, type PromptRunInput } from '../prompts/prompts.service.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { languageModelFor } from './model-call.js';
import { resolveModelTarget } from './model-target.js';
import { startsEarly } from './run-link.js';
import type { PreparedRun } from './runs.service.js';

/** The model's JSON answer, tolerating a Markdown code fence around it. */
export function parseJsonReply(text: string): unknown {
  const trimmed = text.trim();
  const fenced = /^```(?:json)?\s*([\s\S]*?)\s*```$/i.exec(trimmed);
  try {
    return JSON.parse(fenced ? fenced[1]! : trimmed);
  } catch {
    return undefined;
  }
}

/**
 * `POST /prompts/{uuid}/run`: the rendered prompt sent to the model as one user message. The
 * prompt's saved model runs on its creator's account; a model named in the request runs on the
 * caller's.
 */
export async function preparePromptRunRequest(ctx: AppContext, scope: WorkspaceScope, promptId: string, body: PromptRunInput): Promise<PreparedRun> {
  const prepared = await preparePromptRun(ctx, scope, promptId.toLowerCase(), body);
  const { prompt, settings } = prepared;
  if (!prepared.model.llmId && !prepared.model.accountId) {
    throw fieldError('llm_uuid', 'The prompt has no default model: send llm_uuid and account_uuid.');
  }
  const owner = body.account_uuid
    ? { workspaceId: scope.workspaceId, userId: scope.userId }
    : { workspaceId: prompt.workspace_id, userId: prompt.user_id ?? scope.userId };
  const target = await resolveModelTarget(ctx, owner, prepared.model);
  if (settings.json_output && !target.capabilities.json) {
    throw fieldError('llm_uuid', `The model ${target.llm.name} does not support JSON output, which this prompt asks for.`);
  }
  const runId = newId();
  return {
    runId,
    kind: 'prompt',
    agentId: null,
    threadId: null,
    promptId: prompt.id,
    promptVersion: prepared.version,
    target,
    // A prompt run has no thread: its model call may start while the run is claimed.
    ...startsEarly(runId, async (link) => {
      const messageId = newId();
      const turn = await runTurn(
        {
          model: await languageModelFor(ctx, target),
          messages: [{ role: 'user', content: prepared.rendered }],
          tools: [],
          maxSteps: 1,
          temperature: settings.temperature,
          maxOutputTokens: settings.max_tokens,
          json: settings.json_output,
          stepTimeoutMs: ctx.config.model.timeoutMs,
          prices: target.prices,
          signal: link.signal,
          secrets: [target.apiKey],
        },
        {
          newMessageId: () => messageId,
          onTextDelta: (id, delta) => link.emit('message.delta', { message_uuid: id, delta }),
          onStepFinish: async (step) => {
            link.emit('message.completed', {
              message: null,
              usage: { input_tokens: step.usage.inputTokens, output_tokens: step.usage.outputTokens, cost: step.usage.cost, latency_ms: step.latencyMs },
              output: step.text,
            });
          },
        },
      );
      const output = turn.steps.length > 0 ? turn.text : null;
      return { turn, output, outputJson: settings.json_output && output !== null ? (parseJsonReply(output) ?? null) : undefined };
    }),
  };
}
