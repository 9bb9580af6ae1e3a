import { describe, expect, it } from 'vitest';
import { templateExpressions } from '../../src/engine/graph/index.js';

const expressions = (text: string) => templateExpressions(text).map(({ expression, closed }) => (closed ? expression : `${expression} (unclosed)`));

describe('templateExpressions', () => {
  it('finds no expression in plain text', () => {
    expect(templateExpressions('Hello { world }')).toEqual([]);
  });

  it('finds each expression with its offsets', () => {
    expect(templateExpressions('Hi {{ input.name }}, {{x}}!')).toEqual([
      { expression: 'input.name', start: 3, end: 19, closed: true },
      { expression: 'x', start: 21, end: 26, closed: true },
    ]);
  });

  it('does not end an expression at the braces of an object inside it', () => {
    expect(expressions('{{ {"a": {"b": 1}} }}')).toEqual(['{"a": {"b": 1}}']);
  });

  it('does not end an expression at braces inside its strings, names, comments or regular expressions', () => {
    expect(expressions(`{{ "}}" & '}}' & \`a}}b\` /* }} */ }} and {{ $match(x, /a\\}\\}/) }}`)).toEqual([
      `"}}" & '}}' & \`a}}b\` /* }} */`,
      '$match(x, /a\\}\\}/)',
    ]);
  });

  it('runs an expression whose string is never closed to the end, as the evaluator does', () => {
    expect(expressions('{{ a }} {{ "abc }} then {{ x }}')).toEqual(['a', '"abc }} then {{ x }} (unclosed)']);
  });

  it('reports an expression without closing braces', () => {
    expect(templateExpressions('a {{ input.b')).toEqual([{ expression: 'input.b', start: 2, end: 12, closed: false }]);
  });
});
