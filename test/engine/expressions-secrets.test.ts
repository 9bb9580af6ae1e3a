import { describe, expect, it } from 'vitest';
import { ALL_VARIABLES, SECRET_MASK, maskSecrets, referencedVariables } from '../../src/engine/expressions/index.js';

const names = (value: unknown): string[] => [...referencedVariables(value)].sort();

describe('referencedVariables', () => {
  it('names the variables read as vars.<name> or vars.`name`', () => {
    expect(names('Bearer {{ vars.token }}')).toEqual(['token']);
    expect(names('{{ vars.`api-key` & vars.other_1 }}')).toEqual(['api-key', 'other_1']);
    expect(names('{{ $$.vars.root }} {{ $.vars.dollar }} {{ vars . spaced }}')).toEqual(['dollar', 'root', 'spaced']);
    expect(names('{{ `vars`.quoted }}')).toEqual(['quoted']);
    expect(names('{{ $uppercase(vars.a) = vars.b ? vars.c.deep : "no" }}')).toEqual(['a', 'b', 'c']);
  });

  it('looks through objects and arrays and ignores text outside expressions', () => {
    expect(
      names({
        headers: { Authorization: 'Bearer {{ vars.token }}', Note: 'vars.not_this' },
        list: ['{{ vars.one }}', { deep: ['{{ vars.two }}'] }],
        n: 5,
      }),
    ).toEqual(['one', 'token', 'two']);
  });

  it('finds nothing where no variable is read', () => {
    expect(names('{{ input.a + 1 }}')).toEqual([]);
    expect(names('{{ $sum(input.items.price) * 2 }}')).toEqual([]);
    expect(names('{{ $myvars.x }}')).toEqual([]);
    expect(names('plain text, vars.token outside braces')).toEqual([]);
    expect(names({ a: 1, b: null })).toEqual([]);
  });

  it('says every variable may be read when an expression reaches them without naming one', () => {
    for (const expression of [
      '{{ $lookup(vars, "token") }}',
      '{{ $keys(vars) }}',
      '{{ vars.* }}',
      '{{ vars.($k) }}',
      '{{ vars }}',
      '{{ $string($$) }}',
      '{{ $each($, function($v) { $v }) }}',
      '{{ $$.* }}',
      '{{ *.token }}',
      '{{ **.token }}',
      '{{ input.%.vars }}',
      '{{ input.% }}',
      '{{ $eval("va" & "rs.token") }}',
      '{{ ($v := vars; $v.token) }}',
    ]) {
      expect(referencedVariables(expression).has(ALL_VARIABLES), expression).toBe(true);
    }
  });

  it('does not take multiplication for a wildcard', () => {
    expect(names('{{ input.a * 2 }} {{ (input.b)*3 }} {{ vars.x*vars.y }}')).toEqual(['x', 'y']);
  });
});

describe('maskSecrets', () => {
  it('replaces every occurrence of each secret in strings at any depth', () => {
    const data = {
      headers: { Authorization: 'Bearer tok-123', 'X-Key': 'k-9' },
      body: ['tok-123 and tok-123', { note: 'key=k-9;' }, 42, null, true],
      untouched: 'nothing secret',
    };
    expect(maskSecrets(data, ['tok-123', 'k-9'])).toEqual({
      headers: { Authorization: `Bearer ${SECRET_MASK}`, 'X-Key': SECRET_MASK },
      body: [`${SECRET_MASK} and ${SECRET_MASK}`, { note: `key=${SECRET_MASK};` }, 42, null, true],
      untouched: 'nothing secret',
    });
  });

  it('copies what it changes and leaves the original alone', () => {
    const untouched = { a: 'b' };
    const data = { secret: 'x s3cr3t', untouched, list: ['plain'] };
    const masked = maskSecrets(data, ['s3cr3t']) as typeof data;
    expect(data.secret).toBe('x s3cr3t');
    expect(masked).not.toBe(data);
    expect(masked.untouched).toBe(untouched);
    expect(masked.list).toBe(data.list);
  });

  it('returns the same value when nothing needs masking', () => {
    const data = { a: ['b', { c: 'd' }], n: 1 };
    expect(maskSecrets(data, ['zzz'])).toBe(data);
    expect(maskSecrets(data, [])).toBe(data);
    expect(maskSecrets(data, [''])).toBe(data);
    expect(maskSecrets('plain', ['zzz'])).toBe('plain');
    expect(maskSecrets(null, ['zzz'])).toBeNull();
  });

  it('masks a secret that contains another whole, and treats secrets as text, not patterns', () => {
    expect(maskSecrets('abc-long abc', ['abc', 'abc-long'])).toBe(`${SECRET_MASK} ${SECRET_MASK}`);
    expect(maskSecrets('a.b a+b (x) axb', ['a.b', 'a+b', '(x)'])).toBe(`${SECRET_MASK} ${SECRET_MASK} ${SECRET_MASK} axb`);
    expect(maskSecrets('pa$$w0rd\\n', ['pa$$w0rd\\n'])).toBe(SECRET_MASK);
  });

  it('masks one-character secrets too', () => {
    expect(maskSecrets('a-b-a', ['a'])).toBe(`${SECRET_MASK}-b-${SECRET_MASK}`);
  });

  it('leaves keys alone and keeps "__proto__" an own key', () => {
    const data = JSON.parse('{"tok": "tok", "__proto__": {"x": "tok"}}') as Record<string, unknown>;
    const masked = maskSecrets(data, ['tok']) as Record<string, unknown>;
    expect(JSON.stringify(masked)).toBe(`{"tok":"${SECRET_MASK}","__proto__":{"x":"${SECRET_MASK}"}}`);
    expect(Object.getPrototypeOf(masked)).toBe(Object.prototype);
  });

  it('gives the same result called again with other secrets in between', () => {
    expect(maskSecrets('a1 b2', ['a1'])).toBe(`${SECRET_MASK} b2`);
    expect(maskSecrets('a1 b2', ['b2'])).toBe(`a1 ${SECRET_MASK}`);
    expect(maskSecrets('a1 b2', ['a1'])).toBe(`${SECRET_MASK} b2`);
  });
});
