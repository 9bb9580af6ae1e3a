import { isNoObjectGeneratedError, loadAi } from '../../ai/sdk.js';
import type { AppContext } from '../../context.js';
import { newId, now, toJson } from '../../db/values.js';
import { AppError } from '../../errors.js';
import { describeModelFailure } from '../../ai/model-errors.js';
import { costOf } from '../../ai/tool-loop.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { languageModelFor } from './model-call.js';
import type { ModelTarget } from './model-target.js';
import * as repo from './runs.repository.js';

export interface GenerationRequest {
  system: string;
  prompt: string;
  json?: boolean;
  maxOutputTokens?: number;
}

export interface GenerationResult {
  text: string;
  runId: string;
}

/**
 * One model call on the caller's behalf outside a conversation (drafting an agent, naming a
 * thread), recorded as a `generate` run with its tokens and cost. A provider failure is a 502
 * (504 on timeout) with the provider's reason.
 */
export async function generateOnce(
  ctx: AppContext,
  scope: WorkspaceScope,
  target: ModelTarget,
  request: GenerationRequest,
  links: { agentId?: string | null; threadId?: string | null } = {},
): Promise<GenerationResult> {
  const db = ctx.db.kysely;
  const at = now();
  const run = await repo.insertRun(db, {
    id: newId(),
    workspace_id: scope.workspaceId,
    user_id: scope.userId,
    kind: 'generate',
    agent_id: links.agentId ?? null,
    thread_id: null,
    prompt_id: null,
    prompt_version: null,
    llm_id: target.llm.id,
    account_id: target.account.id,
    provider_slug: target.provider.slug,
    model_id: target.llm.model_id,
    status: 'running',
    finish_reason: null,
    error: null,
    idempotency_key: null,
    request_hash: null,
    output: null,
    output_json: null,
    response: null,
    latency_ms: null,
    ttft_ms: null,
    lease_expires_at: null,
    cancel_requested: false,
    started_at: at,
    finished_at: null,
    created_at: at,
    updated_at: at,
  });
  const started = performance.now();
  try {
    const { generateText, Output } = await loadAi();
    const result = await generateText({
      model: await languageModelFor(ctx, target),
      system: request.system,
      prompt: request.prompt,
      maxRetries: 0,
      maxOutputTokens: request.maxOutputTokens,
      abortSignal: AbortSignal.timeout(ctx.config.model.timeoutMs),
      ...(request.json && target.capabilities.json ? { output: Output.json() } : {}),
    }).catch((error: unknown) => {
      // JSON mode's parse failure still carries the answer: the caller judges it.
      if (isNoObjectGeneratedError(error) && error.text !== undefined && error.usage) {
        return { text: error.text, usage: error.usage, finishReason: error.finishReason ?? 'stop' };
      }
      throw error;
    });
    const inputTokens = result.usage.inputTokens ?? 0;
    const outputTokens = result.usage.outputTokens ?? 0;
    const cost = costOf(inputTokens, outputTokens, target.prices);
    const end = now();
    await repo.finishRun(db, run.id, {
      status: 'completed',
      finish_reason: result.finishReason,
      output: result.text,
      input_tokens: inputTokens,
      output_tokens: outputTokens,
      cost,
      latency_ms: Math.round(performance.now() - started),
      steps: 1,
      finished_at: end,
      updated_at: end,
    });
    ctx.metrics.runFinished(target, { kind: 'generate', status: 'completed', input_tokens: inputTokens, output_tokens: outputTokens, cost });
    return { text: result.text, runId: run.id };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    const seconds = Math.round(ctx.config.model.timeoutMs / 100) / 10;
    const message = timedOut
      ? `The model did not answer within ${seconds} second${seconds === 1 ? '' : 's'}.`
      : describeModelFailure(error, [target.apiKey]).message;
    const end = now();
    await repo.finishRun(db, run.id, {
      status: 'failed',
      finish_reason: timedOut ? 'timeout' : 'error',
      error: message,
      latency_ms: Math.round(performance.now() - started),
      response: toJson({ status: timedOut ? 504 : 502, body: { message } }),
      finished_at: end,
      updated_at: end,
    });
    ctx.metrics.runFinished(target, { kind: 'generate', status: 'failed', input_tokens: 0, output_tokens: 0, cost: 0 });
    throw new AppError(timedOut ? 'GATEWAY_TIMEOUT' : 'BAD_GATEWAY', message, { cause: error });
  }
}
