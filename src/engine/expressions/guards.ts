/**
 * What JSONata's own time and depth limits cannot bound, because it happens inside one
 * built-in call: strings that grow past a limit, `$pad` to a huge width, `$distinct` (quadratic
 * in JSONata). Installed on every compiled expression; none of it reaches the host.
 */
import type jsonata from 'jsonata';
import { currentMaxStringLength } from './limits.js';

class ExpressionLimitError extends Error {
  override readonly name = 'ExpressionLimitError';
}

const tooLong = (length: number): ExpressionLimitError =>
  new ExpressionLimitError(
    `A string of ${length} characters exceeds the limit of ${currentMaxStringLength()} characters`,
  );

// Evaluation steps that can build a string larger than any in the scope (`&`, functions).
const BUILDING_STEPS = new Set(['binary', 'function', 'apply', 'partial']);

/** JSONata calls this after each evaluation step with its result. */
function checkStepResult(step: { type: string }, _input: unknown, _environment: unknown, result: unknown): void {
  if (typeof result === 'string' && result.length > currentMaxStringLength() && BUILDING_STEPS.has(step.type)) {
    throw tooLong(result.length);
  }
}

const codePoints = (text: string): number => {
  let count = 0;
  for (const _ of text) count++;
  return count;
};

/** `$pad` as JSONata defines it (widths in code points), refusing a result over the limit before building it. */
function pad(text: string | undefined, width: number, fill?: string): string | undefined {
  if (text === undefined) return undefined;
  const char = fill === undefined || fill.length === 0 ? ' ' : fill;
  const padLength = Math.abs(Math.trunc(width)) - codePoints(text);
  if (!(padLength > 0)) return text;
  if (text.length + padLength > currentMaxStringLength()) throw tooLong(text.length + padLength);
  // The first padLength code points of `char` repeated.
  const unit = Array.from(char);
  const padding = char.repeat(Math.floor(padLength / unit.length)) + unit.slice(0, padLength % unit.length).join('');
  return width > 0 ? text + padding : padding + text;
}

/** A key equal for values JSONata's deep equality calls equal. */
function equalityKey(value: unknown, functions: Map<unknown, number>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? '0' : String(value);
    case 'boolean':
      return String(value);
    case 'undefined':
      return 'undefined';
    case 'object':
      if (Array.isArray(value)) return `[${value.map((item) => equalityKey(item, functions)).join(',')}]`;
      return `{${Object.getOwnPropertyNames(value)
        .sort()
        .map((key) => `${JSON.stringify(key)}:${equalityKey((value as Record<string, unknown>)[key], functions)}`)
        .join(',')}}`;
    default: {
      // Functions are equal only to themselves.
      let id = functions.get(value);
      if (id === undefined) functions.set(value, (id = functions.size));
      return `#${id}`;
    }
  }
}

/** `$distinct` with JSONata's result (first occurrences, in order) in linear rather than quadratic time. */
function distinct(this: { createSequence(): unknown[] }, values: unknown): unknown {
  if (values === undefined) return undefined;
  if (!Array.isArray(values) || values.length <= 1) return values;
  const result = (values as { sequence?: boolean }).sequence === true ? this.createSequence() : [];
  const seen = new Set<string>();
  const functions = new Map<unknown, number>();
  for (const value of values) {
    const key = equalityKey(value, functions);
    if (!seen.has(key)) {
      seen.add(key);
      result.push(value);
    }
  }
  return result;
}

const EVALUATE_EXIT = Symbol.for('jsonata.__evaluate_exit');

/** Installs the guards on one compiled expression (its own environment; the scope stays the only input). */
export function installGuards(program: jsonata.Expression): void {
  (program.assign as (name: string | symbol, value: unknown) => void)(EVALUATE_EXIT, checkStepResult);
  program.registerFunction('pad', pad, '<s-ns?:s>');
  // JSONata calls built-ins with a focus that carries createSequence (not in its typings).
  program.registerFunction('distinct', distinct as (this: unknown, values: unknown) => unknown, '<x:x>');
}
