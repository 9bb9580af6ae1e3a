/**
 * One expression body (the text between `{{ }}`), compiled once and cached by its text. Simple
 * dotted paths (`input.name`, `nodes.\`http-1\`.output.body`, `vars.token`) are looked up
 * directly, which returns exactly what JSONata would for objects; anything else, or a path
 * that meets an array on the way, is evaluated by JSONata within the limits.
 */
import jsonata from 'jsonata';
import { LRUCache } from 'lru-cache';
import { type ExpressionFailure, toFailure } from './errors.js';
import { installGuards } from './guards.js';
import { jsonataOptions } from './limits.js';
import { setOwn } from './objects.js';
import { GuardedRegExp } from './regex-guard.js';

export interface CompiledExpression {
  /** The body, trimmed. */
  readonly source: string;
  /** Field names of a simple path, or null. */
  readonly path: readonly string[] | null;
  /** Why it does not parse, or null. */
  readonly syntaxError: ExpressionFailure | null;
  /** The JSONata program; built on first need for a path (most never need it). */
  program: jsonata.Expression | null;
}

const options = Object.assign(jsonataOptions, { RegexEngine: GuardedRegExp as unknown as RegExpConstructor });

const cache = new LRUCache<string, CompiledExpression>({ max: 5000 });

// A name JSONata reads as a field: not a keyword or literal, not a `$variable`.
const NAME = '[A-Za-z_][A-Za-z0-9_]*';
const QUOTED = '`[^`]+`';
const SIMPLE_PATH = new RegExp(`^(?:${NAME}|${QUOTED})(?:\\.(?:${NAME}|${QUOTED}))*$`);
const NOT_FIELDS = new Set(['and', 'or', 'in', 'true', 'false', 'null', 'function']);

function simplePath(source: string): string[] | null {
  if (!SIMPLE_PATH.test(source)) return null;
  const fields: string[] = [];
  // Split on dots outside backticks.
  for (const match of source.matchAll(/`([^`]+)`|([^.`]+)/g)) {
    if (match[1] !== undefined) fields.push(match[1]);
    else if (NOT_FIELDS.has(match[2]!)) return null;
    else fields.push(match[2]!);
  }
  return fields;
}

function buildProgram(source: string): jsonata.Expression {
  const program = jsonata(source, options);
  installGuards(program);
  return program;
}

/** The compiled form of an expression body, from the cache when it was seen before. */
export function compileExpression(body: string): CompiledExpression {
  const source = body.trim();
  const cached = cache.get(source);
  if (cached) return cached;
  let compiled: CompiledExpression;
  const path = simplePath(source);
  if (path) {
    compiled = { source, path, syntaxError: null, program: null };
  } else {
    try {
      compiled = { source, path: null, syntaxError: null, program: buildProgram(source) };
    } catch (error) {
      compiled = { source, path: null, syntaxError: toFailure(error), program: null };
    }
  }
  cache.set(source, compiled);
  return compiled;
}

/** Marks a path the direct lookup cannot answer (an array on the way). */
const NEEDS_JSONATA = Symbol('needs-jsonata');

function lookUp(scope: unknown, path: readonly string[]): unknown {
  let value = scope;
  for (const field of path) {
    if (Array.isArray(value)) return NEEDS_JSONATA;
    if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, field)) {
      return undefined;
    }
    value = (value as Record<string, unknown>)[field];
  }
  return value;
}

/** Thrown by `evaluateCompiled`; the caller says where the expression was. */
export class EvaluationFailed extends Error {
  constructor(readonly failure: ExpressionFailure) {
    super(failure.reason);
  }
}

const LIMIT_CODES = new Set(['D1011', 'D1012', 'D2015']);

/** `$eval` wraps the errors of what it evaluates; a limit reached in there is reported as itself. */
function limitInsideEval(error: unknown): unknown {
  let current = error as { code?: unknown; error?: unknown } | null;
  while (current && typeof current === 'object' && current.code === 'D3121' && current.error) {
    current = current.error as { code?: unknown; error?: unknown };
    if (LIMIT_CODES.has(current.code as string)) return current;
  }
  return error;
}

/** JSONata's messages for its guardrails, with the limit that was reached. */
function explainLimit(failure: ExpressionFailure): ExpressionFailure {
  switch (failure.code) {
    case 'D1011':
      return {
        ...failure,
        reason:
          `Evaluation nested deeper than ${jsonataOptions.stack} steps: ` +
          'check for a recursive function that does not end (a tail call does not nest)',
      };
    case 'D1012':
      return {
        ...failure,
        reason: `Evaluation took longer than ${jsonataOptions.timeout} ms: check for a loop that does not end`,
      };
    case 'D2015':
      return { ...failure, reason: `A sequence grew beyond the limit of ${jsonataOptions.sequence} items` };
    default:
      return failure;
  }
}

async function runProgram(compiled: CompiledExpression, scope: unknown): Promise<unknown> {
  if (compiled.syntaxError) throw new EvaluationFailed(compiled.syntaxError);
  let result: unknown;
  try {
    compiled.program ??= buildProgram(compiled.source);
    // The scope is the input document and the only thing bound: no host functions are registered.
    result = await compiled.program.evaluate(scope);
  } catch (error) {
    throw new EvaluationFailed(explainLimit(toFailure(limitInsideEval(error))));
  }
  if (isJsonataFunction(result)) {
    throw new EvaluationFailed({ reason: 'It returned a function, not a value', code: null, position: null });
  }
  return toPlain(result);
}

/**
 * The expression's value over `scope`: synchronous for a simple path, a promise otherwise.
 * `undefined` when the expression yields nothing. Rejects with `EvaluationFailed`.
 */
export function evaluateCompiled(compiled: CompiledExpression, scope: unknown): unknown {
  if (compiled.path) {
    const value = lookUp(scope, compiled.path);
    if (value !== NEEDS_JSONATA) return value;
  }
  return runProgram(compiled, scope);
}

// Properties JSONata sets on the arrays it builds.
const SEQUENCE_MARKERS = ['sequence', 'keepSingleton', 'outerWrapper', 'tupleStream'];

/** JSONata's functions: built-ins and lambdas are marked objects, regex matchers are closures. */
export function isJsonataFunction(value: unknown): boolean {
  if (typeof value === 'function') return true;
  if (value === null || typeof value !== 'object') return false;
  const marked = value as { _jsonata_function?: unknown; _jsonata_lambda?: unknown };
  return marked._jsonata_function === true || marked._jsonata_lambda === true;
}

/**
 * A JSONata result as plain data: its sequences (arrays with marker properties) copied into
 * plain arrays, its objects (built without a prototype) into plain objects, and functions
 * dropped from objects and nulled in arrays as JSON would. Values that need nothing (data read
 * from the scope) are returned as they are.
 */
export function toPlain(value: unknown): unknown {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return value;
  if (isJsonataFunction(value)) return undefined;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = SEQUENCE_MARKERS.some((marker) => Object.hasOwn(value, marker)) ? value.slice() : null;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const plain = toPlain(item) ?? null;
      if (plain !== item) (copy ??= value.slice())[i] = plain;
    }
    return copy ?? value;
  }
  const source = value as Record<string, unknown>;
  let copy: Record<string, unknown> | null = Object.getPrototypeOf(source) === null ? {} : null;
  const keys = Object.keys(source);
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    const item = source[key];
    const plain = toPlain(item);
    if (plain === item && copy === null) continue;
    if (copy === null) {
      // Copy the keys before this one as they are.
      copy = {};
      for (let j = 0; j < k; j++) setOwn(copy, keys[j]!, source[keys[j]!]);
    }
    if (plain !== undefined) setOwn(copy, key, plain);
  }
  return copy ?? value;
}
