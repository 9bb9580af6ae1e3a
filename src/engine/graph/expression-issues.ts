import type { NodeTypeDefinition } from '../node-type.js';
import type { GraphIssue, WorkflowNode } from '../types.js';
import { nodeLabel } from './graph-lookup.js';
import { templateExpressions } from './template-expressions.js';

/** Syntax check of one expression (without `{{ }}`): the error's message, or null when it parses. */
export type ExpressionChecker = (expression: string) => string | null;

const MAX_SHOWN = 80;

/**
 * Every `{{ expr }}` in a node's parameter strings (nested ones too) that does not parse, at
 * `nodes.<index>.parameters.<field>`. Raw parameters (code, per-item expressions) are kept as
 * written by the engine, so their braces are not expressions and are skipped.
 */
export function expressionIssues(
  node: WorkflowNode,
  index: number,
  definition: NodeTypeDefinition,
  checkExpression: ExpressionChecker,
): GraphIssue[] {
  const issues: GraphIssue[] = [];
  const raw = definition.rawParameters ?? [];

  const visit = (value: unknown, field: string) => {
    if (typeof value === 'string') {
      if (!value.includes('{{')) return;
      for (const span of templateExpressions(value)) {
        const shown = `{{ ${clip(span.expression)}${span.closed ? ' }}' : ''}`;
        const error = span.closed ? checkExpression(span.expression) : 'it has no closing "}}"';
        if (error !== null) {
          issues.push({
            path: `nodes.${index}.parameters.${field}`,
            message: `${nodeLabel(node)}, parameter "${field}": the expression "${shown}" is invalid: ${error}`,
          });
        }
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, position) => visit(item, `${field}.${position}`));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) visit(item, `${field}.${key}`);
    }
  };

  for (const [key, value] of Object.entries(node.parameters ?? {})) {
    if (!raw.includes(key)) visit(value, key);
  }
  return issues;
}

const clip = (text: string): string => (text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text);
