/** The longest expression text a message repeats; the full text stays in `expression`. */
const MESSAGE_EXPRESSION_CHARS = 200;

/**
 * An expression that could not be evaluated. The message names the node, the parameter
 * (dotted path) and the expression as written, so the user can find it in the graph:
 * `Node "set1": parameter "values.total": expression "{{ input.a + }}" failed: …`.
 */
export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';

  constructor(
    /** The node whose parameter it is; null when evaluated outside a node's parameters. */
    readonly nodeId: string | null,
    /** Dotted path of the parameter (`headers.Authorization`, `items.0.name`); null outside parameters. */
    readonly parameter: string | null,
    /** The expression as written, braces included (`{{ input.a + }}`). */
    readonly expression: string,
    /** What went wrong, without the location (JSONata's message, or a limit's). */
    readonly reason: string,
    /** JSONata's error code (`S0201` syntax, `T2001` type, `D1012` time limit, …) when it gave one. */
    readonly code: string | null = null,
    /** Character offset in the expression JSONata points at, when it gave one. */
    readonly position: number | null = null,
  ) {
    super(formatMessage(nodeId, parameter, expression, reason));
  }
}

function formatMessage(nodeId: string | null, parameter: string | null, expression: string, reason: string): string {
  const shown =
    expression.length > MESSAGE_EXPRESSION_CHARS ? `${expression.slice(0, MESSAGE_EXPRESSION_CHARS)}…` : expression;
  let message = '';
  if (nodeId !== null) message += `Node "${nodeId}": `;
  if (parameter !== null) message += `parameter "${parameter}": `;
  return `${message}expression "${shown}" failed: ${reason}`;
}

/** What evaluating or compiling reports before the caller adds where the expression was. */
export interface ExpressionFailure {
  reason: string;
  code: string | null;
  position: number | null;
}

/** Reads JSONata's thrown objects (plain objects with code/message/position) and ordinary errors alike. */
export function toFailure(error: unknown): ExpressionFailure {
  if (error !== null && typeof error === 'object') {
    const e = error as { message?: unknown; code?: unknown; position?: unknown };
    const reason = typeof e.message === 'string' && e.message ? e.message : String(error);
    return {
      // JSONata pads a few messages with double spaces.
      reason: reason.replace(/\s{2,}/g, ' ').trim(),
      code: typeof e.code === 'string' ? e.code : null,
      position: typeof e.position === 'number' ? e.position : null,
    };
  }
  return { reason: String(error), code: null, position: null };
}
