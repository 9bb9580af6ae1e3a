/**
 * The bounds every expression runs within, so a pathological one fails with a clear error
 * instead of hanging the event loop or exhausting memory.
 */

export interface ExpressionLimits {
  /** Wall-clock time one evaluation may take (JSONata checks it at every step). */
  timeoutMs: number;
  /** Nesting depth of evaluation steps (recursion of user-defined functions adds ~5 per call). */
  maxDepth: number;
  /** Items one array (sequence) built while evaluating may hold; `[1..n]` included. */
  maxSequence: number;
  /** Characters a string built by an operator or function may hold (data read from the scope is not counted). */
  maxStringLength: number;
}

export const DEFAULT_EXPRESSION_LIMITS: Readonly<ExpressionLimits> = Object.freeze({
  timeoutMs: 1000,
  maxDepth: 1000,
  maxSequence: 1_000_000,
  maxStringLength: 10_000_000,
});

/**
 * The options object handed to every compiled JSONata expression. JSONata reads it at each
 * evaluation (not at compile time), so changing it here also changes cached expressions.
 */
export const jsonataOptions = {
  timeout: DEFAULT_EXPRESSION_LIMITS.timeoutMs,
  stack: DEFAULT_EXPRESSION_LIMITS.maxDepth,
  sequence: DEFAULT_EXPRESSION_LIMITS.maxSequence,
};

let maxStringLength = DEFAULT_EXPRESSION_LIMITS.maxStringLength;

export const currentMaxStringLength = (): number => maxStringLength;

/** The limits in force for this process. */
export function getExpressionLimits(): ExpressionLimits {
  return {
    timeoutMs: jsonataOptions.timeout,
    maxDepth: jsonataOptions.stack,
    maxSequence: jsonataOptions.sequence,
    maxStringLength,
  };
}

/** Changes the limits for this process (configuration at start, tests); returns the previous ones. */
export function setExpressionLimits(limits: Partial<ExpressionLimits>): ExpressionLimits {
  const previous = getExpressionLimits();
  for (const [name, value] of Object.entries(limits)) {
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
      throw new RangeError(`expression limit ${name} must be a positive integer`);
    }
  }
  if (limits.timeoutMs !== undefined) jsonataOptions.timeout = limits.timeoutMs;
  if (limits.maxDepth !== undefined) jsonataOptions.stack = limits.maxDepth;
  if (limits.maxSequence !== undefined) jsonataOptions.sequence = limits.maxSequence;
  if (limits.maxStringLength !== undefined) maxStringLength = limits.maxStringLength;
  return previous;
}
