/**
 * Node parameters with their `{{ }}` expressions evaluated. A string that is exactly one
 * expression takes the expression's value with its type (`undefined` → null); text around
 * expressions makes a string. Objects and arrays are resolved deeply with keys unchanged, and
 * anything without `{{` is returned as the same object, so the common case costs a scan.
 */
import { type CompiledExpression, EvaluationFailed, compileExpression, evaluateCompiled } from './compile.js';
import { ExpressionError, type ExpressionFailure } from './errors.js';
import { setOwn } from './objects.js';
import { hasExpression, parseTemplate } from './template.js';

/** What expressions see: the trigger, the previous output, earlier nodes' outputs, the variables, the execution. */
export interface ExpressionScope {
  trigger: unknown;
  input: unknown;
  nodes: Record<string, { output: unknown }>;
  vars: Record<string, unknown>;
  execution: { uuid: string; started_at: string };
}

/** Where an expression is written, for error messages. */
export interface ExpressionLocation {
  nodeId: string;
  /** Dotted path of the parameter (`headers.Authorization`, `items.0`). */
  parameter: string;
}

const failed = (at: ExpressionLocation | null, written: string, failure: ExpressionFailure): ExpressionError =>
  new ExpressionError(
    at?.nodeId ?? null,
    at?.parameter ?? null,
    written,
    failure.reason,
    failure.code,
    failure.position,
  );

async function settle(pending: Promise<unknown>, at: ExpressionLocation | null, written: string): Promise<unknown> {
  try {
    return await pending;
  } catch (error) {
    if (error instanceof EvaluationFailed) throw failed(at, written, error.failure);
    throw error;
  }
}

/** Evaluates one expression of a template: the value, or a promise of it when JSONata runs. */
function evaluateOne(
  compiled: CompiledExpression,
  scope: unknown,
  at: ExpressionLocation | null,
  written: string,
): unknown {
  const value = evaluateCompiled(compiled, scope);
  return value instanceof Promise ? settle(value, at, written) : value;
}

/** Number text as JSONata's `$string` gives it for fractions (15 significant digits); integers exactly. */
const numberText = (n: number): string => (Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(15))));

const jsonReplacer = (_key: string, v: unknown): unknown =>
  typeof v === 'number' && !Number.isInteger(v) && Number.isFinite(v) ? Number(v.toPrecision(15)) : v;

/** How a value reads inside text: strings as they are, null and undefined as nothing, objects as JSON. */
export function interpolationText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return numberText(value);
  if (typeof value === 'boolean') return String(value);
  return JSON.stringify(value, jsonReplacer) ?? '';
}

async function interpolateRest(
  texts: readonly string[],
  expressions: readonly CompiledExpression[],
  written: readonly string[],
  scope: unknown,
  at: ExpressionLocation | null,
  from: number,
  first: Promise<unknown>,
  done: string,
): Promise<string> {
  let result = done + interpolationText(await first) + texts[from + 1];
  for (let i = from + 1; i < expressions.length; i++) {
    result += interpolationText(await evaluateOne(expressions[i]!, scope, at, written[i]!)) + texts[i + 1];
  }
  return result;
}

/** One string with `{{`: its value, or a promise of it when JSONata has to run. */
function resolveString(text: string, scope: unknown, at: ExpressionLocation | null): unknown {
  const template = parseTemplate(text);
  if (template.unclosed !== null) {
    throw failed(at, template.unclosed, { reason: 'It has no closing "}}"', code: null, position: null });
  }
  const { texts, expressions, written } = template;
  if (template.single) {
    const value = evaluateOne(expressions[0]!, scope, at, written[0]!);
    return value instanceof Promise ? value.then((v) => v ?? null) : (value ?? null);
  }
  let result = texts[0]!;
  for (let i = 0; i < expressions.length; i++) {
    const value = evaluateOne(expressions[i]!, scope, at, written[i]!);
    if (value instanceof Promise) return interpolateRest(texts, expressions, written, scope, at, i, value, result);
    result += interpolationText(value) + texts[i + 1];
  }
  return result;
}

const childPath = (parent: string, key: string | number): string => (parent === '' ? String(key) : `${parent}.${key}`);

/**
 * A value with its expressions evaluated; the same object when it holds none. Synchronous
 * while every expression is a simple path (no promise per value), a promise from the first
 * expression JSONata has to run.
 */
function resolveDeep(value: unknown, scope: unknown, nodeId: string, parameter: string): unknown {
  if (typeof value === 'string') {
    return value.includes('{{') ? resolveString(value, scope, { nodeId, parameter }) : value;
  }
  if (value === null || typeof value !== 'object' || !hasExpression(value)) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = resolveDeep(value[i], scope, nodeId, childPath(parameter, i));
      if (item instanceof Promise) return finishArray(value, out, i, item, scope, nodeId, parameter);
      out[i] = item;
    }
    return out;
  }
  const entries = Object.entries(value);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < entries.length; i++) {
    const [key, item] = entries[i]!;
    const resolved = resolveDeep(item, scope, nodeId, childPath(parameter, key));
    if (resolved instanceof Promise) return finishObject(entries, out, i, resolved, scope, nodeId, parameter);
    setOwn(out, key, resolved);
  }
  return out;
}

async function finishArray(
  value: unknown[],
  out: unknown[],
  from: number,
  pending: Promise<unknown>,
  scope: unknown,
  nodeId: string,
  parameter: string,
): Promise<unknown[]> {
  out[from] = await pending;
  for (let i = from + 1; i < value.length; i++) {
    out[i] = await resolveDeep(value[i], scope, nodeId, childPath(parameter, i));
  }
  return out;
}

async function finishObject(
  entries: Array<[string, unknown]>,
  out: Record<string, unknown>,
  from: number,
  pending: Promise<unknown>,
  scope: unknown,
  nodeId: string,
  parameter: string,
): Promise<Record<string, unknown>> {
  setOwn(out, entries[from]![0], await pending);
  for (let i = from + 1; i < entries.length; i++) {
    const [key, item] = entries[i]!;
    setOwn(out, key, await resolveDeep(item, scope, nodeId, childPath(parameter, key)));
  }
  return out;
}

/**
 * Node parameters with every `{{ }}` evaluated, except the top-level keys listed in `raw`,
 * which stay as written. Rejects with `ExpressionError` naming the node, parameter and expression.
 */
export async function resolveParameters(
  params: Record<string, unknown>,
  scope: ExpressionScope,
  options: { nodeId: string; raw?: readonly string[] },
): Promise<Record<string, unknown>> {
  let resolved: Record<string, unknown> | null = null;
  for (const key of Object.keys(params)) {
    if (options.raw?.includes(key)) continue;
    const value = params[key];
    if (!hasExpression(value)) continue;
    resolved ??= { ...params };
    setOwn(resolved, key, await resolveDeep(value, scope, options.nodeId, key));
  }
  return resolved ?? params;
}

/**
 * One value (a raw parameter a node evaluates itself, per item) resolved like a parameter:
 * `{{ }}` replaced, deeply, with `at` naming it in errors.
 */
export async function resolveValue(
  value: unknown,
  scope: ExpressionScope | Record<string, unknown>,
  at: ExpressionLocation,
): Promise<unknown> {
  return resolveDeep(value, scope, at.nodeId, at.parameter);
}

/**
 * The value of one expression written without braces over `scope` (`undefined` when it yields
 * nothing). Rejects with `ExpressionError`, naming the node and parameter when `at` is given.
 */
export async function evaluateExpression(
  expression: string,
  scope: ExpressionScope | Record<string, unknown>,
  at?: ExpressionLocation,
): Promise<unknown> {
  const compiled = compileExpression(expression);
  return evaluateOne(compiled, scope, at ?? null, `{{ ${compiled.source} }}`);
}

/** Null when the expression (without braces) parses; JSONata's message otherwise. */
export function checkExpressionSyntax(expression: string): string | null {
  const compiled = compileExpression(expression);
  return compiled.syntaxError?.reason ?? null;
}

/** One problem with the expressions of a parameter, found without running them. */
export interface ExpressionIssue {
  /** Dotted path of the parameter. */
  parameter: string;
  /** The expression as written, braces included. */
  expression: string;
  message: string;
}

/**
 * The syntax errors and unclosed `{{` in node parameters (raw ones skipped), for checking a
 * graph on save.
 */
export function expressionIssues(
  params: Record<string, unknown>,
  options: { raw?: readonly string[] } = {},
): ExpressionIssue[] {
  const issues: ExpressionIssue[] = [];
  const visit = (value: unknown, parameter: string): void => {
    if (typeof value === 'string') {
      if (!value.includes('{{')) return;
      const template = parseTemplate(value);
      template.expressions.forEach((compiled, i) => {
        if (compiled.syntaxError) {
          issues.push({ parameter, expression: template.written[i]!, message: compiled.syntaxError.reason });
        }
      });
      if (template.unclosed !== null) {
        issues.push({ parameter, expression: template.unclosed, message: 'It has no closing "}}"' });
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => visit(item, childPath(parameter, i)));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) visit(item, childPath(parameter, key));
    }
  };
  for (const [key, value] of Object.entries(params)) {
    if (!options.raw?.includes(key)) visit(value, key);
  }
  return issues;
}
