import jsonata from 'jsonata';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_EXPRESSION_LIMITS,
  ExpressionError,
  evaluateExpression,
  getExpressionLimits,
  resolveParameters,
  setExpressionLimits,
} from '../../src/engine/expressions/index.js';
import { backtrackingRisk } from '../../src/engine/expressions/regex-guard.js';

const scope = {
  trigger: {},
  input: { a: 1, name: 'Ada', list: [3, 1, 3, 2], nested: { b: { c: 2 } } },
  nodes: { n1: { output: { x: 1 } } },
  vars: { token: 'secret-token' },
  execution: { uuid: 'u-1', started_at: '2025-01-15T10:30:00.000Z' },
};

async function failure(expression: string): Promise<{ error: ExpressionError; ms: number }> {
  const started = performance.now();
  const error = await evaluateExpression(expression, scope).then(
    (value) => {
      throw new Error(`expected ${expression} to fail, got ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ExpressionError);
  return { error: error as ExpressionError, ms: performance.now() - started };
}

afterEach(() => {
  setExpressionLimits(DEFAULT_EXPRESSION_LIMITS);
});

describe('the time limit', () => {
  it('is 1000 ms by default and stops an endless tail recursion', async () => {
    expect(getExpressionLimits().timeoutMs).toBe(1000);
    const { error, ms } = await failure('($f := function($n){ $f($n + 1) }; $f(0))');
    expect(error.code).toBe('D1012');
    expect(error.reason).toBe('Evaluation took longer than 1000 ms: check for a loop that does not end');
    expect(ms).toBeGreaterThanOrEqual(990);
    expect(ms).toBeLessThan(3000);
  });

  it('follows a lowered limit, also for expressions compiled before', async () => {
    const expression = '($f := function($n){ $n > 100000000 ? $n : $f($n + 1) }; $f(0))';
    await failure(expression);
    setExpressionLimits({ timeoutMs: 100 });
    const { error, ms } = await failure(expression);
    expect(error.code).toBe('D1012');
    expect(ms).toBeLessThan(1000);
  });

  it('applies to each evaluation on its own', async () => {
    setExpressionLimits({ timeoutMs: 300 });
    const slow = failure('($f := function($n){ $f($n + 1) }; $f(0))');
    const fast = evaluateExpression('$sum([1..1000])', scope);
    expect(await fast).toBe(500500);
    expect((await slow).error.code).toBe('D1012');
  });

  it('covers $eval, which evaluates within the same limits', async () => {
    setExpressionLimits({ timeoutMs: 100 });
    const { error } = await failure('$eval("($f := function($n){ $f($n + 1) }; $f(0))")');
    expect(error.reason).toContain('took longer than 100 ms');
  });
});

describe('the depth limit', () => {
  it('stops a recursion that does not end', async () => {
    const { error, ms } = await failure('($f := function($n){ 1 + $f($n + 1) }; $f(0))');
    expect(error.code).toBe('D1011');
    expect(error.reason).toBe(
      'Evaluation nested deeper than 1000 steps: check for a recursive function that does not end (a tail call does not nest)',
    );
    expect(ms).toBeLessThan(1000);
  });

  it('lets a bounded recursion finish', async () => {
    expect(await evaluateExpression('($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100))', scope)).toBe(100);
  });
});

describe('the size limits', () => {
  it('refuse a huge range at once', async () => {
    const { error, ms } = await failure('[1..10000000]');
    expect(error.code).toBe('D2015');
    expect(error.reason).toBe('A sequence grew beyond the limit of 1000000 items');
    expect(ms).toBeLessThan(500);
  });

  it('refuse a sequence grown step by step', async () => {
    setExpressionLimits({ maxSequence: 1000 });
    expect((await failure('[1..40].([1..40])')).error.code).toBe('D2015');
    expect(await evaluateExpression('$count([1..20].([1..20]))', scope)).toBe(400);
  });

  it('refuse a string doubled past the limit before anything slow reads it', async () => {
    const { error, ms } = await failure(
      '($f := function($s, $n){ $n = 0 ? $s : $f($s & $s, $n - 1) }; $substring($f("x", 28), 0, 3))',
    );
    expect(error.reason).toBe('A string of 16777216 characters exceeds the limit of 10000000 characters');
    expect(ms).toBeLessThan(1000);
  });

  it('refuse $pad to a huge width before building it', async () => {
    const { error, ms } = await failure('$pad("x", 100000000)');
    expect(error.reason).toContain('exceeds the limit of 10000000 characters');
    expect(ms).toBeLessThan(200);
  });

  it('keep $pad as JSONata defines it', async () => {
    const cases = [
      '$pad("abc", 6)',
      '$pad("abc", -6)',
      '$pad("abc", 8, "-+")',
      '$pad("abc", -8, "xyz")',
      '$pad("abc", 2)',
      '$pad("日本", 5, "語")',
      '$pad("a", 4, "😀b")',
      '$pad("x", 0)',
      '$pad("", 3, "ab")',
    ];
    for (const expression of cases) {
      expect(await evaluateExpression(expression, scope), expression).toBe(await jsonata(expression).evaluate({}));
    }
  });

  it('let data larger than the string limit be read, just not built', async () => {
    setExpressionLimits({ maxStringLength: 10 });
    const big = { ...scope, input: { text: 'x'.repeat(50) } };
    expect(await evaluateExpression('input.text', big)).toHaveLength(50);
    expect(await evaluateExpression('$length(input.text)', big)).toBe(50);
    await expect(evaluateExpression('input.text & "!"', big)).rejects.toThrow(/exceeds the limit of 10 characters/);
  });

  it('run $distinct in linear time with JSONata’s result', async () => {
    const started = performance.now();
    expect(await evaluateExpression('$count($distinct([1..200000]))', scope)).toBe(200000);
    expect(performance.now() - started).toBeLessThan(1500);
    const cases = [
      '$distinct([1, 2, 1, "1", true, true, null, null])',
      '$distinct([{"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1}, [1, 2], [1, 2], [2, 1]])',
      '$distinct(input.list)',
      '$distinct([0, -0, 1.5, 1.50])',
      '$distinct("a")',
      '$distinct([])',
    ];
    for (const expression of cases) {
      expect(await evaluateExpression(expression, scope), expression).toEqual(
        await jsonata(expression).evaluate(scope),
      );
    }
  });
});

describe('regular expressions', () => {
  it('run a catastrophic pattern in linear time', async () => {
    const started = performance.now();
    expect(await evaluateExpression('$contains("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /(a+)+$/)', scope)).toBe(false);
    expect(await evaluateExpression('$match("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", /(x+x+)+y/)', scope)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('refuse nested repetition where the linear engine cannot run the pattern', async () => {
    const { error, ms } = await failure('$contains("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /(a+)+$/i)');
    expect(error.reason).toMatch(/^The regular expression \/\(a\+\)\+\$\/i repeats a group that itself repeats/);
    expect(ms).toBeLessThan(500);
  });

  it('keep working for ordinary patterns, flags included', async () => {
    expect(await evaluateExpression('$match("Order A-17, order b-3", /order ([a-z])-(\\d+)/i).groups', scope)).toEqual([
      'A',
      '17',
      'b',
      '3',
    ]);
    expect(await evaluateExpression('$replace("a1b22c333", /\\d+/, "#")', scope)).toBe('a#b#c#');
    expect(await evaluateExpression('$split("a, b,c", /,\\s*/)', scope)).toEqual(['a', 'b', 'c']);
    expect(await evaluateExpression('$contains("line1\\nline2", /^line2$/m)', scope)).toBe(true);
    expect(await evaluateExpression('$match("abab", /(ab)\\1/).match', scope)).toBe('abab');
    expect(await evaluateExpression('$contains("foobar", /foo(?=bar)/)', scope)).toBe(true);
  });

  it('find nested or alternated repetition in a pattern', () => {
    expect(backtrackingRisk('(a+)+$')).not.toBeNull();
    expect(backtrackingRisk('(a*)*')).not.toBeNull();
    expect(backtrackingRisk('(a|aa)+b')).not.toBeNull();
    expect(backtrackingRisk('((ab)+c)*')).not.toBeNull();
    expect(backtrackingRisk('(\\w+\\s?){2,}')).not.toBeNull();
    expect(backtrackingRisk('(a+){5}')).not.toBeNull();
    expect(backtrackingRisk('^(\\w+)@(\\w+)\\.com$')).toBeNull();
    expect(backtrackingRisk('(ab)+c')).toBeNull();
    expect(backtrackingRisk('[(a+)+]+')).toBeNull();
    expect(backtrackingRisk('(a+)?b')).toBeNull();
    expect(backtrackingRisk('(a|b)c{1,1}')).toBeNull();
    expect(backtrackingRisk('\\(a+\\)+')).toBeNull();
  });
});

describe('no host access', () => {
  it('exposes no prototype members of the scope’s values', async () => {
    for (const expression of [
      'input.constructor',
      'input.__proto__',
      'input.toString',
      'input.hasOwnProperty',
      'input.name.constructor',
      'input.list.constructor',
      'input.a.constructor',
      '$.constructor',
      '$$.constructor',
      '$lookup(input, "constructor")',
      '$lookup(input, "__proto__")',
      'input.constructor.constructor',
      '$sum.constructor',
      '$sum.implementation',
      '$lookup($sum, "implementation")',
      '$keys($sum)',
      '/a/.constructor',
    ]) {
      expect(await evaluateExpression(expression, scope), expression).toBeUndefined();
    }
  });

  it('cannot reach Function, process or require', async () => {
    for (const expression of [
      'input.constructor.constructor("return process")()',
      '($F := input.constructor.constructor; $F("return process")())',
      '$process',
      '$require("fs")',
      '$Function("return 1")()',
      '$eval("input.constructor.constructor(\\"return process\\")()")',
      '$globalThis.process',
    ]) {
      const result = await evaluateExpression(expression, scope).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      if ('error' in result) {
        expect(result.error, expression).toBeInstanceOf(ExpressionError);
      } else {
        expect(result.value, expression).toBeUndefined();
      }
    }
    for (const name of ['process', 'require', 'globalThis', 'global', 'module', 'Function']) {
      expect(await evaluateExpression(name, scope), name).toBeUndefined();
      expect(await evaluateExpression(`$type($${name})`, scope), name).toBeUndefined();
    }
  });

  it('binds the scope and nothing else', async () => {
    expect(await evaluateExpression('$keys($$)', scope)).toEqual(['trigger', 'input', 'nodes', 'vars', 'execution']);
    expect(await evaluateExpression('$keys($)', scope)).toEqual(['trigger', 'input', 'nodes', 'vars', 'execution']);
    expect(await evaluateExpression('$type($eval)', scope)).toBe('function');
    expect(await evaluateExpression('$eval("input.a + 1")', scope)).toBe(2);
  });

  it('cannot pollute prototypes', async () => {
    await evaluateExpression('$merge([{}, {"__proto__": {"polluted": true}}])', scope);
    await evaluateExpression('{"__proto__": {"polluted": true}}', scope);
    await resolveParameters(
      { a: '{{ $merge([{"constructor": {"prototype": {"polluted": true}}}]) }}' },
      scope,
      { nodeId: 'n' },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('does not change the scope it reads', async () => {
    const before = JSON.stringify(scope);
    await evaluateExpression('input ~> |$|{"a": 99}|', scope);
    await evaluateExpression('($x := input; $x.a := 5; input.a)', scope).catch(() => undefined);
    expect(JSON.stringify(scope)).toBe(before);
  });
});

describe('setExpressionLimits', () => {
  it('refuses a limit that is not a positive integer and keeps the old ones', () => {
    expect(() => setExpressionLimits({ timeoutMs: 0 })).toThrow(RangeError);
    expect(() => setExpressionLimits({ maxDepth: 1.5 })).toThrow(RangeError);
    expect(getExpressionLimits()).toEqual(DEFAULT_EXPRESSION_LIMITS);
  });

  it('returns the limits it replaced', () => {
    expect(setExpressionLimits({ maxDepth: 50 })).toEqual(DEFAULT_EXPRESSION_LIMITS);
    expect(getExpressionLimits().maxDepth).toBe(50);
  });
});
