import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { compileExpression, evaluateCompiled } from '../../src/engine/expressions/compile.js';
import {
  ExpressionError,
  type ExpressionScope,
  checkExpressionSyntax,
  evaluateExpression,
  expressionIssues,
  expressionsIn,
  hasExpression,
  resolveParameters,
  resolveValue,
} from '../../src/engine/expressions/index.js';

const scope = (overrides: Partial<ExpressionScope> = {}): ExpressionScope => ({
  trigger: { body: { order_id: 7 }, query: { q: 'shoes' }, headers: { 'x-source': 'shop' }, method: 'POST' },
  input: {
    name: 'Ada',
    count: 3,
    price: 0.1,
    active: true,
    nothing: null,
    tags: ['a', 'b'],
    items: [
      { sku: 'x1', qty: 2, price: 10 },
      { sku: 'y2', qty: 1, price: 5.5 },
    ],
    address: { city: 'Paris', zip: '75001' },
  },
  nodes: {
    'http-1': { output: { status: 200, body: { id: 'abc', list: [1, 2, 3] } } },
    set1: { output: { total: 25.5 } },
  },
  vars: { token: 'tok-123', 'api-key': 'k-9', limit: 10 },
  execution: { uuid: '01980000-0000-7000-8000-000000000001', started_at: '2025-01-15T10:30:00.000Z' },
  ...overrides,
});

const resolve = (params: Record<string, unknown>, raw?: string[]) =>
  resolveParameters(params, scope(), { nodeId: 'node1', raw });

async function expressionError(promise: Promise<unknown>): Promise<ExpressionError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ExpressionError);
  return error as ExpressionError;
}

describe('a parameter that is exactly one expression', () => {
  it('keeps the type of the value', async () => {
    const out = await resolve({
      number: '{{ input.count }}',
      fraction: '{{ input.count * 1.5 }}',
      boolean: '{{ input.active }}',
      string: '{{ input.name }}',
      object: '{{ input.address }}',
      array: '{{ input.tags }}',
      computed_array: '{{ input.items.sku }}',
      computed_object: '{{ {"n": input.count, "city": input.address.city} }}',
      nil: '{{ input.nothing }}',
      comparison: '{{ input.count > 2 }}',
    });
    expect(out).toEqual({
      number: 3,
      fraction: 4.5,
      boolean: true,
      string: 'Ada',
      object: { city: 'Paris', zip: '75001' },
      array: ['a', 'b'],
      computed_array: ['x1', 'y2'],
      computed_object: { n: 3, city: 'Paris' },
      nil: null,
      comparison: true,
    });
  });

  it('allows whitespace around the braces and inside them', async () => {
    expect(await resolve({ a: '  {{input.count}}\n', b: '{{   input.count   }}' })).toEqual({ a: 3, b: 3 });
  });

  it('gives null for an expression that yields nothing', async () => {
    expect(await resolve({ a: '{{ input.missing }}', b: '{{ input.items[qty > 5] }}', c: '{{ nodes.nope.output }}' })).toEqual({
      a: null,
      b: null,
      c: null,
    });
  });

  it('returns plain arrays and objects, not JSONata sequences or prototype-less objects', async () => {
    const out = await resolve({ list: '{{ input.items.qty }}', obj: '{{ {"a": [1, 2]} }}' });
    expect(Object.keys(out.list as object)).toEqual(['0', '1']);
    expect(Object.getPrototypeOf(out.obj)).toBe(Object.prototype);
    expect(Object.keys((out.obj as { a: unknown[] }).a)).toEqual(['0', '1']);
    expect(JSON.stringify(out)).toBe('{"list":[2,1],"obj":{"a":[1,2]}}');
  });

  it('returns the very object of the scope for a path (no copy)', async () => {
    const s = scope();
    const out = await resolveParameters({ a: '{{ input.address }}', b: '{{ input.items }}' }, s, { nodeId: 'n' });
    expect(out.a).toBe((s.input as { address: object }).address);
    expect(out.b).toBe((s.input as { items: object }).items);
  });

  it('reads every part of the scope', async () => {
    const out = await resolve({
      body: '{{ trigger.body.order_id }}',
      header: '{{ trigger.headers.`x-source` }}',
      node: '{{ nodes.`http-1`.output.body.id }}',
      node_sum: '{{ $sum(nodes.`http-1`.output.body.list) }}',
      plain_id: '{{ nodes.set1.output.total }}',
      dashed_var: '{{ vars.`api-key` }}',
      execution: '{{ execution.uuid }}',
      started: '{{ execution.started_at }}',
    });
    expect(out).toEqual({
      body: 7,
      header: 'shop',
      node: 'abc',
      node_sum: 6,
      plain_id: 25.5,
      dashed_var: 'k-9',
      execution: '01980000-0000-7000-8000-000000000001',
      started: '2025-01-15T10:30:00.000Z',
    });
  });

  it('runs JSONata functions, conditionals and string functions', async () => {
    const out = await resolve({
      total: '{{ $sum(input.items.(qty * price)) }}',
      doubled: '{{ $map(input.tags, function($t) { $uppercase($t) & $t }) }}',
      label: '{{ input.count > 2 ? "many" : "few" }}',
      joined: '{{ $join(input.items.sku, ", ") }}',
      trimmed: '{{ $substring("  hello  " ~> $trim, 0, 4) }}',
      contains: '{{ $contains(input.name, /^ad/i) }}',
      replaced: '{{ $replace(input.address.zip, /0+/, "-") }}',
      keys: '{{ $keys(input.address) }}',
    });
    expect(out).toEqual({
      total: 25.5,
      doubled: ['Aa', 'Bb'],
      label: 'many',
      joined: 'x1, y2',
      trimmed: 'hell',
      contains: true,
      replaced: '75-1',
      keys: ['city', 'zip'],
    });
  });
});

describe('text around expressions', () => {
  it('makes a string', async () => {
    const out = await resolve({
      greeting: 'Hello {{ input.name }}, you have {{ input.count }} items',
      url: 'https://api.example.com/orders/{{ trigger.body.order_id }}?q={{ trigger.query.q }}',
      auth: 'Bearer {{ vars.token }}',
      computed: 'Total: {{ $sum(input.items.price) }}',
    });
    expect(out).toEqual({
      greeting: 'Hello Ada, you have 3 items',
      url: 'https://api.example.com/orders/7?q=shoes',
      auth: 'Bearer tok-123',
      computed: 'Total: 15.5',
    });
  });

  it('writes objects and arrays as JSON, null and nothing as empty, booleans and numbers as text', async () => {
    const out = await resolve({
      a: 'obj={{ input.address }} arr={{ input.tags }}',
      b: '[{{ input.nothing }}][{{ input.missing }}]',
      c: '{{ input.active }}/{{ input.count }}',
      d: 'sum={{ input.price + 0.2 }}',
      e: 'big={{ 9007199254740991 }}',
      f: 'computed={{ input.items.sku }}',
    });
    expect(out).toEqual({
      a: 'obj={"city":"Paris","zip":"75001"} arr=["a","b"]',
      b: '[][]',
      c: 'true/3',
      d: 'sum=0.3',
      e: 'big=9007199254740991',
      f: 'computed=["x1","y2"]',
    });
  });

  it('treats two expressions with nothing between them as text', async () => {
    expect(
      await resolve({
        a: '{{ input.count }}{{ input.count }}',
        b: '{{ input.count }} {{ input.name }}',
        c: '{{ $count(input.tags) }} of {{ input.name }}, {{ input.count - 1 }} left',
      }),
    ).toEqual({ a: '33', b: '3 Ada', c: '2 of Ada, 2 left' });
  });

  it('finds the end of an expression past braces and strings inside it', async () => {
    const out = await resolve({
      object: '{{ {"a": {"b": input.count}} }}',
      tight: '{{ {"a": {"b": 1}}}}',
      string: '{{ "}}" & input.name }}',
      quoted: "{{ '{{x}}' }}",
      backtick: '{{ nodes.`http-1`.output.status }}',
      comment: '{{ /* }} */ input.count }}',
      regex: '{{ $match("aa}}", /a\\}/).match }}',
      regex_braces: '{{ $contains("aa", /a{2}/) }}',
      division: '{{ input.count / 3 }} and {{ 6 / 2 }}',
      literal: 'a {{ "{{" }} b',
    });
    expect(out).toEqual({
      object: { a: { b: 3 } },
      tight: { a: { b: 1 } },
      string: '}}Ada',
      quoted: '{{x}}',
      backtick: 200,
      comment: 3,
      regex: 'a}',
      regex_braces: true,
      division: '1 and 3',
      literal: 'a {{ b',
    });
  });

  it('fails for a {{ that is never closed', async () => {
    const error = await expressionError(resolve({ url: 'https://x/{{ input.name' }));
    expect(error.message).toBe('Node "node1": parameter "url": expression "{{ input.name" failed: It has no closing "}}"');
  });

  it('leaves single braces alone', async () => {
    const params = { a: '{ "json": true }', b: 'function() { return {} }' };
    expect(await resolve(params)).toBe(await resolve(params));
    expect(await resolve(params)).toEqual(params);
  });
});

describe('parameters resolved deeply', () => {
  it('resolves objects and arrays at any depth with keys unchanged', async () => {
    const out = await resolve({
      headers: { Authorization: 'Bearer {{ vars.token }}', '{{ not-a-key }}': 'kept' },
      body: { order: { id: '{{ trigger.body.order_id }}', lines: [{ sku: '{{ input.items[0].sku }}' }, 'plain', 5] } },
      matrix: [['{{ input.count }}', 1], [true]],
    });
    expect(out).toEqual({
      headers: { Authorization: 'Bearer tok-123', '{{ not-a-key }}': 'kept' },
      body: { order: { id: 7, lines: [{ sku: 'x1' }, 'plain', 5] } },
      matrix: [[3, 1], [true]],
    });
  });

  it('returns the same objects for values without expressions', async () => {
    const static_headers = { Accept: 'application/json' };
    const list = [1, 2, { a: 'b' }];
    const params = { method: 'GET', headers: static_headers, list, body: { id: '{{ input.count }}', fixed: list } };
    const out = await resolve(params);
    expect(out).not.toBe(params);
    expect(out.headers).toBe(static_headers);
    expect(out.list).toBe(list);
    expect((out.body as { fixed: unknown }).fixed).toBe(list);
    expect(params.body.id).toBe('{{ input.count }}');
  });

  it('returns the parameters object itself when nothing has an expression', async () => {
    const params = { method: 'GET', url: 'https://example.com', headers: { a: 'b' }, n: 1, none: null };
    expect(await resolve(params)).toBe(params);
  });

  it('leaves raw parameters as written', async () => {
    const params = { code: 'return {{ input.count }}', per_item: { when: '{{ item.qty > 1 }}' }, value: '{{ input.count }}' };
    const out = await resolve(params, ['code', 'per_item']);
    expect(out).toEqual({ code: 'return {{ input.count }}', per_item: { when: '{{ item.qty > 1 }}' }, value: 3 });
    expect(out.per_item).toBe(params.per_item);
  });

  it('does not fail on a raw parameter whose expression is broken', async () => {
    expect(await resolve({ code: '{{ input.a + }}' }, ['code'])).toEqual({ code: '{{ input.a + }}' });
  });

  it('keeps a "__proto__" key as an own key and pollutes nothing', async () => {
    const params = JSON.parse('{"__proto__": {"polluted": "{{ input.name }}"}, "a": "{{ input.count }}"}') as Record<string, unknown>;
    const out = await resolve(params);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"polluted":"Ada"},"a":3}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('expression errors', () => {
  it('name the node, the parameter path and the expression', async () => {
    const error = await expressionError(
      resolveParameters({ values: { total: '{{ input.a + }}' } }, scope(), { nodeId: 'set1' }),
    );
    expect(error.nodeId).toBe('set1');
    expect(error.parameter).toBe('values.total');
    expect(error.expression).toBe('{{ input.a + }}');
    expect(error.code).toBe('S0207');
    expect(error.message).toBe(
      'Node "set1": parameter "values.total": expression "{{ input.a + }}" failed: Unexpected end of expression',
    );
  });

  it('name header keys and array indexes in the path', async () => {
    const header = await expressionError(resolve({ headers: { Authorization: 'Bearer {{ $nosuch() }}' } }));
    expect(header.parameter).toBe('headers.Authorization');
    expect(header.expression).toBe('{{ $nosuch() }}');
    expect(header.message).toMatch(/^Node "node1": parameter "headers.Authorization": expression "\{\{ \$nosuch\(\) \}\}" failed: /);
    const item = await expressionError(resolve({ items: ['ok', { name: 'x {{ input.name + 1 }}' }] }));
    expect(item.parameter).toBe('items.1.name');
  });

  it('report evaluation errors with JSONata’s message and code', async () => {
    const error = await expressionError(resolve({ n: '{{ input.name * 2 }}' }));
    expect(error.code).toBe('T2001');
    expect(error.reason).toBe('The left side of the "*" operator must evaluate to a number');
  });

  it('report the first failing expression of a string', async () => {
    const error = await expressionError(resolve({ s: '{{ input.name }} {{ $error("first") }} {{ $error("second") }}' }));
    expect(error.expression).toBe('{{ $error("first") }}');
    expect(error.reason).toBe('first');
  });

  it('refuse an expression that returns a function', async () => {
    const error = await expressionError(resolve({ f: '{{ $uppercase }}' }));
    expect(error.reason).toBe('It returned a function, not a value');
    const lambda = await expressionError(resolve({ f: '{{ function($x) { $x } }}' }));
    expect(lambda.reason).toBe('It returned a function, not a value');
  });

  it('drop functions nested in a result as JSON would', async () => {
    expect(await resolve({ f: '{{ {"a": 1, "f": $sum, "l": [$sum, 2]} }}' })).toEqual({ f: { a: 1, l: [null, 2] } });
  });

  it('shorten a long expression in the message but keep it whole in the field', async () => {
    const long = `{{ ${'input.count + '.repeat(40)} }}`;
    const error = await expressionError(resolve({ x: long }));
    expect(error.expression).toBe(long);
    expect(error.message.length).toBeLessThan(320);
    expect(error.message).toContain('…');
  });
});

describe('evaluateExpression', () => {
  it('evaluates an expression without braces over any scope', async () => {
    expect(await evaluateExpression('input.count + 1', scope())).toBe(4);
    expect(await evaluateExpression('item.qty * 2', { ...scope(), item: { qty: 4 } })).toBe(8);
    expect(await evaluateExpression('input.missing', scope())).toBeUndefined();
    expect(await evaluateExpression('  $count(input.items)  ', scope())).toBe(2);
  });

  it('rejects with an ExpressionError, located when told where', async () => {
    const bare = await expressionError(evaluateExpression('input.count +', scope()));
    expect(bare.nodeId).toBeNull();
    expect(bare.message).toBe('expression "{{ input.count + }}" failed: Unexpected end of expression');
    const located = await expressionError(
      evaluateExpression('$error("no")', scope(), { nodeId: 'loop', parameter: 'condition' }),
    );
    expect(located.message).toBe('Node "loop": parameter "condition": expression "{{ $error("no") }}" failed: no');
  });
});

describe('resolveValue', () => {
  it('resolves a raw value later, over a scope with extra names', async () => {
    const s = { ...scope(), item: { qty: 2 } };
    expect(await resolveValue('{{ item.qty > 1 }}', s, { nodeId: 'filter', parameter: 'condition' })).toBe(true);
    expect(await resolveValue({ q: 'n={{ item.qty }}' }, s, { nodeId: 'f', parameter: 'p' })).toEqual({ q: 'n=2' });
    const error = await expressionError(resolveValue({ q: ['{{ item. }}'] }, s, { nodeId: 'f', parameter: 'p' }));
    expect(error.parameter).toBe('p.q.0');
  });
});

describe('checkExpressionSyntax and expressionIssues', () => {
  it('says null for a valid expression and why for an invalid one', () => {
    expect(checkExpressionSyntax('input.a + 1')).toBeNull();
    expect(checkExpressionSyntax('nodes.`http-1`.output')).toBeNull();
    expect(checkExpressionSyntax('input.a +')).toBe('Unexpected end of expression');
    expect(checkExpressionSyntax('input.(')).toBe('Expected ")" before end of expression');
    expect(checkExpressionSyntax('')).toBe('Unexpected end of expression');
  });

  it('lists broken and unclosed expressions of parameters with their paths, skipping raw ones', () => {
    const issues = expressionIssues(
      {
        ok: '{{ input.a }}',
        values: { total: '{{ input.a + }}' },
        list: ['x', 'y {{ input.b'],
        code: '{{ broken( }}',
      },
      { raw: ['code'] },
    );
    expect(issues).toEqual([
      { parameter: 'values.total', expression: '{{ input.a + }}', message: 'Unexpected end of expression' },
      { parameter: 'list.1', expression: '{{ input.b', message: 'It has no closing "}}"' },
    ]);
  });
});

describe('hasExpression and expressionsIn', () => {
  it('finds {{ in strings at any depth', () => {
    expect(hasExpression('a {{ b }}')).toBe(true);
    expect(hasExpression('a { b }')).toBe(false);
    expect(hasExpression({ a: [1, { b: 'x {{ y' }] })).toBe(true);
    expect(hasExpression({ a: [1, { b: 'x { y' }], c: null, d: true })).toBe(false);
    expect(hasExpression(42)).toBe(false);
    expect(hasExpression(null)).toBe(false);
  });

  it('lists every expression body in order, deep', () => {
    expect(
      expressionsIn({
        a: 'x {{ input.a }} y {{ vars.b }}',
        b: [{ c: '{{ {"k": 1} }}' }],
        d: 'none',
        e: 5,
      }),
    ).toEqual([' input.a ', ' vars.b ', ' {"k": 1} ']);
  });
});

describe('the fast path for simple paths', () => {
  it('is taken for dotted and backtick paths and answers synchronously', () => {
    const s = scope();
    for (const path of ['input.name', 'nodes.`http-1`.output.body.id', 'vars.token', 'input', 'execution.uuid']) {
      const compiled = compileExpression(path);
      expect(compiled.path, path).not.toBeNull();
      expect(evaluateCompiled(compiled, s), path).not.toBeInstanceOf(Promise);
    }
  });

  it('is not taken for keywords, variables and anything else', () => {
    for (const source of ['input.true', '$x.a', 'input.a[0]', 'input.a + 1', 'input.*', '$$.input', 'input..a', 'input.and']) {
      expect(compileExpression(source).path, source).toBeNull();
    }
  });

  it('hands over to JSONata when it meets an array on the way', async () => {
    const s = scope();
    const compiled = compileExpression('input.items.sku');
    expect(compiled.path).not.toBeNull();
    const value = evaluateCompiled(compiled, s);
    expect(value).toBeInstanceOf(Promise);
    expect(await value).toEqual(['x1', 'y2']);
  });

  it('returns what JSONata returns over plain objects', async () => {
    // Deterministic pseudo-random data and paths (a small linear congruential generator).
    let seed = 12345;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const names = ['a', 'b', 'c', 'http-1', 'constructor', 'toString', '__proto__', 'length', 'x_1'];
    const leaf = (): unknown => [null, 0, 1.5, '', 'text', true, false, [], [1, 2], [[1], [2]], [{ a: 1 }], [null]][next(12)];
    const build = (depth: number): unknown => {
      if (depth === 0 || next(4) === 0) return leaf();
      const object: Record<string, unknown> = {};
      const count = 1 + next(4);
      for (let i = 0; i < count; i++) {
        Object.defineProperty(object, names[next(names.length)]!, {
          value: build(depth - 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return next(6) === 0 ? [object, build(depth - 1)] : object;
    };
    const quote = (name: string): string => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `\`${name}\``);
    let compared = 0;
    for (let round = 0; round < 300; round++) {
      const data = { root: build(4) };
      for (let p = 0; p < 10; p++) {
        const length = 1 + next(4);
        const path = ['root', ...Array.from({ length }, () => names[next(names.length)]!)].map(quote).join('.');
        const compiled = compileExpression(path);
        expect(compiled.path, path).not.toBeNull();
        const ours = await evaluateCompiled(compiled, data);
        const theirs: unknown = await jsonata(path).evaluate(data);
        expect(ours, `${path} over ${JSON.stringify(data)}`).toEqual(theirs);
        if (theirs !== null && typeof theirs === 'object' && !Array.isArray(theirs)) expect(ours).toBe(theirs);
        compared++;
      }
    }
    expect(compared).toBe(3000);
  });
});
