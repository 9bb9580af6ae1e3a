import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { LanguageModel, ModelMessage, ToolSet } from 'ai';
import { describeModelFailure } from './model-errors.js';
import { ToolError, type RunTool } from './ports.js';
import { loadAi } from './sdk.js';

/** Token counts and their price, as the catalog quotes it. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

export interface Prices {
  inputPerMillion: number | null;
  outputPerMillion: number | null;
}

/** USD for a number of tokens at the catalog's prices per million (unknown prices count as 0). */
export function costOf(inputTokens: number, outputTokens: number, prices: Prices): number {
  const cost = (inputTokens * (prices.inputPerMillion ?? 0) + outputTokens * (prices.outputPerMillion ?? 0)) / 1_000_000;
  return Math.round(cost * 1e9) / 1e9;
}

export interface ToolCallRecord {
  id: string;
  name: string;
  input: unknown;
}

export interface ToolResultRecord {
  toolCallId: string;
  name: string;
  output: unknown;
  isError: boolean;
}

/** One model call of the loop and what came of it: the unit that is persisted. */
export interface StepRecord {
  /** Announced in events before the step is stored, so clients can follow deltas. */
  messageId: string;
  index: number;
  text: string;
  toolCalls: ToolCallRecord[];
  toolResults: ToolResultRecord[];
  usage: Usage;
  latencyMs: number;
  /** `incomplete`: cut off by a cancel, a timeout, an error or the client leaving. */
  status: 'completed' | 'incomplete';
  finishReason: string;
}

export type TurnStatus = 'completed' | 'incomplete' | 'failed' | 'cancelled';

export interface TurnResult {
  status: TurnStatus;
  /** `stop`, `length`, `step_limit`, `cancelled`, `abandoned`, `timeout`, `error`, … */
  finishReason: string;
  /** The last step's text: the reply. */
  text: string;
  error: string | null;
  /** The provider's HTTP status when it refused the call. */
  errorStatus: number | null;
  errorKind: 'provider' | 'unreachable' | 'timeout' | null;
  usage: Usage;
  steps: StepRecord[];
  toolCalls: number;
  ttftMs: number | null;
  latencyMs: number;
}

/** Receives the loop's progress; `onStepFinish` is awaited, so a step is stored before the next. */
export interface TurnObserver {
  newMessageId(): string;
  onStepStart?(messageId: string, index: number): void;
  onTextDelta?(messageId: string, delta: string): void;
  onToolCall?(messageId: string, call: ToolCallRecord): void;
  onToolResult?(messageId: string, result: ToolResultRecord): void;
  onStepFinish(step: StepRecord): Promise<void>;
}

export interface TurnInput {
  model: Exclude<LanguageModel, string>;
  system?: string;
  messages: ModelMessage[];
  tools: RunTool[];
  maxSteps: number;
  temperature?: number | null;
  maxOutputTokens?: number | null;
  /** Ask for a JSON answer (providers' JSON mode). */
  json?: boolean;
  /** Limit of one step: the model call and the tools it asked for. */
  stepTimeoutMs: number;
  prices: Prices;
  /** Cancels the turn; its `reason` says why (`cancelled`, `abandoned`, …). */
  signal: AbortSignal;
  /** Masked out of error messages. */
  secrets?: ReadonlyArray<string | null>;
}

const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false });
addFormats.default(ajv);
const validators = new WeakMap<object, ValidateFunction>();

function validatorOf(schema: Record<string, unknown>): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    validators.set(schema, validate);
  }
  return validate;
}

/** A schema's complaint about a tool input, in words the model can fix its call with. */
function inputProblems(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || 'input'} ${e.message ?? 'is invalid'}`)
    .join('; ');
}

function errorMessageOf(error: unknown): string {
  if (error instanceof ToolError) return error.message;
  if (error instanceof Error && error.name === 'AbortError') return 'The tool call was cancelled.';
  // Anything else is ours, not the tool author's: say little, the log has the rest.
  return 'The tool failed unexpectedly.';
}

/** The AI SDK tool set for the run's tools; input is validated before a tool runs. */
function toolSetOf(
  { tool, jsonSchema }: Pick<Awaited<ReturnType<typeof loadAi>>, 'tool' | 'jsonSchema'>,
  tools: RunTool[],
  errors: Map<string, boolean>,
  onUnexpected: (tool: RunTool, error: unknown) => void,
): ToolSet {
  const set: ToolSet = {};
  for (const runTool of tools) {
    set[runTool.name] = tool({
      description: runTool.description,
      inputSchema: jsonSchema(runTool.inputSchema as Parameters<typeof jsonSchema>[0]),
      execute: async (input: unknown, options: { toolCallId: string; abortSignal?: AbortSignal }) => {
        const validate = validatorOf(runTool.inputSchema);
        if (!validate(input)) {
          errors.set(options.toolCallId, true);
          return { error: `Invalid input for ${runTool.name}: ${inputProblems(validate)}.` };
        }
        try {
          return await runTool.execute(input, { signal: options.abortSignal ?? new AbortController().signal, toolCallId: options.toolCallId });
        } catch (error) {
          errors.set(options.toolCallId, true);
          if (!(error instanceof ToolError)) onUnexpected(runTool, error);
          return { error: errorMessageOf(error) };
        }
      },
    });
  }
  return set;
}

export interface TurnOptions {
  /** Logs a tool failure that is a bug rather than the tool's own error. */
  onUnexpectedToolError?: (tool: RunTool, error: unknown) => void;
}

/**
 * Runs one agent turn: model calls and tool calls looped until the model answers, the step
 * limit is reached, or the turn is cancelled. Every step is handed to the observer (and stored)
 * before the next begins; a step cut short is handed over as `incomplete`.
 */
export async function runTurn(input: TurnInput, observer: TurnObserver, options: TurnOptions = {}): Promise<TurnResult> {
  const started = performance.now();
  const stepTimeout = new AbortController();
  const signal = AbortSignal.any([input.signal, stepTimeout.signal]);
  let stepTimer: NodeJS.Timeout | undefined;
  const armStepTimer = () => {
    clearTimeout(stepTimer);
    stepTimer = setTimeout(() => stepTimeout.abort('timeout'), input.stepTimeoutMs);
  };

  const toolErrors = new Map<string, boolean>();
  const sdk = await loadAi();
  const { streamText, stepCountIs, Output } = sdk;
  const tools = toolSetOf(sdk, input.tools, toolErrors, options.onUnexpectedToolError ?? (() => undefined));
  const steps: StepRecord[] = [];
  let current: StepRecord | undefined;
  let stepStarted = started;
  let ttftMs: number | null = null;
  let failure: unknown;
  let aborted = false;

  const openStep = (): StepRecord => {
    const messageId = observer.newMessageId();
    current = {
      messageId,
      index: steps.length,
      text: '',
      toolCalls: [],
      toolResults: [],
      usage: { inputTokens: 0, outputTokens: 0, cost: 0 },
      latencyMs: 0,
      status: 'completed',
      finishReason: 'unknown',
    };
    stepStarted = performance.now();
    observer.onStepStart?.(messageId, current.index);
    return current;
  };
  const markFirstToken = () => {
    if (ttftMs === null) ttftMs = Math.round(performance.now() - started);
  };

  // The clock of a step runs from the request to its last chunk: a provider that never answers
  // is caught too. Each finished step restarts it for the next.
  armStepTimer();
  try {
    const result = streamText({
      model: input.model,
      system: input.system,
      messages: input.messages,
      tools: input.tools.length > 0 ? tools : undefined,
      stopWhen: stepCountIs(input.maxSteps),
      temperature: input.temperature ?? undefined,
      maxOutputTokens: input.maxOutputTokens ?? undefined,
      // Retries live in the provider's fetch (see retryingFetch), before any output exists.
      maxRetries: 0,
      abortSignal: signal,
      // Failures arrive as stream parts and are reported by Athena, not printed by the SDK.
      onError: () => undefined,
      ...(input.json ? { output: Output.json() } : {}),
    });

    for await (const part of result.fullStream) {
      switch (part.type) {
        case 'start-step':
          openStep();
          break;
        case 'text-delta': {
          const step = current ?? openStep();
          if (part.text === '') break;
          markFirstToken();
          step.text += part.text;
          observer.onTextDelta?.(step.messageId, part.text);
          break;
        }
        case 'tool-call': {
          const step = current ?? openStep();
          markFirstToken();
          const call = { id: part.toolCallId, name: part.toolName, input: part.input };
          step.toolCalls.push(call);
          observer.onToolCall?.(step.messageId, call);
          break;
        }
        case 'tool-result':
        case 'tool-error': {
          const step = current ?? openStep();
          const isError = part.type === 'tool-error' || toolErrors.get(part.toolCallId) === true;
          const output = part.type === 'tool-error' ? { error: errorMessageOf(part.error) } : part.output;
          const record = { toolCallId: part.toolCallId, name: part.toolName, output, isError };
          step.toolResults.push(record);
          observer.onToolResult?.(step.messageId, record);
          break;
        }
        case 'finish-step': {
          const step = current ?? openStep();
          armStepTimer();
          const inputTokens = part.usage.inputTokens ?? 0;
          const outputTokens = part.usage.outputTokens ?? 0;
          step.usage = { inputTokens, outputTokens, cost: costOf(inputTokens, outputTokens, input.prices) };
          step.latencyMs = Math.round(performance.now() - stepStarted);
          step.finishReason = part.finishReason;
          steps.push(step);
          current = undefined;
          await observer.onStepFinish(step);
          break;
        }
        case 'error':
          failure = part.error;
          break;
        case 'abort':
          aborted = true;
          break;
        default:
          break;
      }
    }
  } catch (error) {
    if (signal.aborted) aborted = true;
    else failure = error;
  } finally {
    clearTimeout(stepTimer);
  }
  if (signal.aborted) aborted = true;

  // A step cut short keeps what it produced, marked incomplete.
  if (current && (current.text !== '' || current.toolCalls.length > 0 || current.toolResults.length > 0)) {
    current.status = 'incomplete';
    current.latencyMs = Math.round(performance.now() - stepStarted);
    current.finishReason = aborted ? 'aborted' : 'error';
    steps.push(current);
    await observer.onStepFinish(current);
  }

  const usage = steps.reduce<Usage>(
    (sum, s) => ({
      inputTokens: sum.inputTokens + s.usage.inputTokens,
      outputTokens: sum.outputTokens + s.usage.outputTokens,
      cost: Math.round((sum.cost + s.usage.cost) * 1e9) / 1e9,
    }),
    { inputTokens: 0, outputTokens: 0, cost: 0 },
  );
  const last = steps.at(-1);
  const base = {
    text: last?.text ?? '',
    usage,
    steps,
    toolCalls: steps.reduce((n, s) => n + s.toolCalls.length, 0),
    ttftMs,
    latencyMs: Math.round(performance.now() - started),
  };

  if (aborted) {
    const timedOut = stepTimeout.signal.aborted && !input.signal.aborted;
    if (timedOut) {
      const seconds = Math.round(input.stepTimeoutMs / 100) / 10;
      return {
        ...base,
        status: 'failed',
        finishReason: 'timeout',
        error: `The model did not answer within ${seconds} second${seconds === 1 ? '' : 's'}.`,
        errorStatus: null,
        errorKind: 'timeout',
      };
    }
    const reason = typeof input.signal.reason === 'string' ? input.signal.reason : 'cancelled';
    return { ...base, status: 'cancelled', finishReason: reason, error: null, errorStatus: null, errorKind: null };
  }
  if (failure !== undefined) {
    const described = describeModelFailure(failure, input.secrets ?? []);
    return { ...base, status: 'failed', finishReason: 'error', error: described.message, errorStatus: described.status, errorKind: described.kind };
  }
  if (last && last.finishReason === 'tool-calls' && steps.length >= input.maxSteps) {
    return {
      ...base,
      status: 'incomplete',
      finishReason: 'step_limit',
      error: `The agent stopped after ${input.maxSteps} steps without a final answer (its step limit).`,
      errorStatus: null,
      errorKind: null,
    };
  }
  return { ...base, status: 'completed', finishReason: last?.finishReason ?? 'stop', error: null, errorStatus: null, errorKind: null };
}
