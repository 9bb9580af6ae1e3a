/**
 * A parameter string split into text and `{{ }}` expressions. An expression ends at the first
 * `}}` outside its own strings, backtick names, comments, regular expressions and braces, so
 * `{{ {"a": {"b": 1}} }}` and `{{ "}}" }}` are one expression each.
 */
import { LRUCache } from 'lru-cache';
import { type CompiledExpression, compileExpression } from './compile.js';

export interface Template {
  /** Text around the expressions: `texts[i]` comes before `expressions[i]`; one more text than expressions. */
  readonly texts: readonly string[];
  readonly expressions: readonly CompiledExpression[];
  /** Each expression as written, braces included, for messages. */
  readonly written: readonly string[];
  /** Exactly one expression and only whitespace around it: the value keeps its type. */
  readonly single: boolean;
  /** A `{{` never closed (written from there to the end), or null. */
  readonly unclosed: string | null;
}

const cache = new LRUCache<string, Template>({
  max: 5000,
  // Bound memory by text size too: parameter strings can be long.
  maxSize: 8_000_000,
  sizeCalculation: (_template, key) => key.length + 64,
});

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v';
const isNameChar = (c: string): boolean => /[\p{L}\p{N}_$]/u.test(c);
// After these words a `/` starts a regular expression, as after an operator.
const OPERATOR_WORDS = new Set(['and', 'or', 'in']);

/**
 * Where the `}}` closing an expression that starts at `from` is, or -1. Mirrors JSONata's
 * tokenizer just enough to skip what may contain `}}`.
 */
export function findClose(text: string, from: number): number {
  let depth = 0;
  // Whether the last token ends an operand (then `/` divides; otherwise it opens a regex).
  let afterOperand = false;
  let i = from;
  while (i < text.length) {
    const c = text[i]!;
    if (isSpace(c)) {
      i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return -1;
      i = end + 2;
    } else if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
      if (i >= text.length) return -1;
      i++;
      afterOperand = true;
    } else if (c === '`') {
      const end = text.indexOf('`', i + 1);
      if (end < 0) return -1;
      i = end + 1;
      afterOperand = true;
    } else if (c === '/' && !afterOperand) {
      // A regular expression literal, ended as JSONata ends it: a `/` outside brackets, not escaped.
      let brackets = 0;
      i++;
      while (i < text.length && !(text[i] === '/' && brackets === 0)) {
        const r = text[i]!;
        if (r === '\\') i++;
        else if (r === '(' || r === '[' || r === '{') brackets++;
        else if (r === ')' || r === ']' || r === '}') brackets--;
        i++;
      }
      if (i >= text.length) return -1;
      i++;
      while (text[i] === 'i' || text[i] === 'm') i++;
      afterOperand = true;
    } else if (c === '{') {
      depth++;
      i++;
      afterOperand = false;
    } else if (c === '}') {
      if (depth === 0 && text[i + 1] === '}') return i;
      if (depth > 0) depth--;
      i++;
      afterOperand = true;
    } else if (c === ')' || c === ']') {
      i++;
      afterOperand = true;
    } else if (isNameChar(c)) {
      const start = i;
      while (i < text.length && isNameChar(text[i]!)) i++;
      afterOperand = !OPERATOR_WORDS.has(text.slice(start, i));
    } else {
      i++;
      afterOperand = false;
    }
  }
  return -1;
}

function parse(text: string): Template {
  const texts: string[] = [];
  const expressions: CompiledExpression[] = [];
  const written: string[] = [];
  let unclosed: string | null = null;
  let position = 0;
  for (;;) {
    const open = text.indexOf('{{', position);
    if (open < 0) break;
    const close = findClose(text, open + 2);
    if (close < 0) {
      unclosed = text.slice(open);
      break;
    }
    texts.push(text.slice(position, open));
    expressions.push(compileExpression(text.slice(open + 2, close)));
    written.push(text.slice(open, close + 2));
    position = close + 2;
  }
  texts.push(unclosed === null ? text.slice(position) : text.slice(position, text.length - unclosed.length));
  const single = expressions.length === 1 && unclosed === null && texts.every((t) => t.trim() === '');
  return { texts, expressions, written, single, unclosed };
}

/** The parsed form of a string that contains `{{`, from the cache when it was seen before. */
export function parseTemplate(text: string): Template {
  let template = cache.get(text);
  if (!template) {
    template = parse(text);
    cache.set(text, template);
  }
  return template;
}

/** Whether a value holds a `{{` anywhere (strings inside objects and arrays included). */
export function hasExpression(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{{');
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) {
    for (const item of value) if (hasExpression(item)) return true;
    return false;
  }
  for (const key in value) {
    if (Object.prototype.hasOwnProperty.call(value, key) && hasExpression((value as Record<string, unknown>)[key])) {
      return true;
    }
  }
  return false;
}

/** Every `{{ }}` body in a value (deep), in order, as written between the braces. */
export function expressionsIn(value: unknown): string[] {
  const bodies: string[] = [];
  const visit = (v: unknown): void => {
    if (typeof v === 'string') {
      if (!v.includes('{{')) return;
      for (const w of parseTemplate(v).written) bodies.push(w.slice(2, -2));
    } else if (Array.isArray(v)) {
      v.forEach(visit);
    } else if (v !== null && typeof v === 'object') {
      Object.values(v).forEach(visit);
    }
  };
  visit(value);
  return bodies;
}
