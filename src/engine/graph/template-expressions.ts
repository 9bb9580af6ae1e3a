import { findClose } from '../expressions/template.js';

/** One `{{ … }}` in a parameter string. */
export interface TemplateExpression {
  /** The text between the braces, trimmed. */
  expression: string;
  /** Offsets of the opening `{{` and just past the closing `}}` (the end of the text when unclosed). */
  start: number;
  end: number;
  closed: boolean;
}

/**
 * The `{{ expr }}` spans of a string, left to right, split where the evaluator splits them
 * (`findClose`), so what passes the check on save is what runs: a `}}` inside the expression's
 * strings, names, comments, regular expressions or braces does not end it. An unclosed span
 * runs to the end of the text and ends the list.
 */
export function templateExpressions(text: string): TemplateExpression[] {
  const found: TemplateExpression[] = [];
  let from = 0;
  for (;;) {
    const start = text.indexOf('{{', from);
    if (start === -1) return found;
    const close = findClose(text, start + 2);
    if (close === -1) {
      found.push({ expression: text.slice(start + 2).trim(), start, end: text.length, closed: false });
      return found;
    }
    found.push({ expression: text.slice(start + 2, close).trim(), start, end: close + 2, closed: true });
    from = close + 2;
  }
}
