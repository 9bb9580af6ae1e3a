import { describe, expect, it } from 'vitest';
import { TEMPLATE_LIMITS, TemplateError, inferVariables, parseTemplate, renderTemplate } from '../../src/modules/prompts/template.js';

function syntaxErrorOf(content: string): TemplateError {
  try {
    parseTemplate(content);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError);
    expect((error as TemplateError).kind).toBe('syntax');
    return error as TemplateError;
  }
  throw new Error(`expected a syntax error for ${content}`);
}

async function renderErrorOf(content: string, variables: Record<string, unknown> = {}): Promise<TemplateError> {
  try {
    await renderTemplate(content, variables);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError);
    expect((error as TemplateError).kind).toBe('render');
    return error as TemplateError;
  }
  throw new Error(`expected a render error for ${content}`);
}

describe('prompt templates: inference', () => {
  it('finds top-level names of outputs and tags, in order of first use, without duplicates', () => {
    const content = [
      'Dear {{ customer.name | capitalize }},',
      '{% if vip %}Thanks for being with us since {{ since }}.{% endif %}',
      '{% for item in items %}- {{ item.title }} ({{ forloop.index }}) {{ currency }}{% endfor %}',
      '{{ customer.email }} {{ items[index] }} {{ greeting | append: suffix }}',
    ].join('\n');
    expect(inferVariables(content)).toEqual(['customer', 'vip', 'since', 'items', 'currency', 'index', 'greeting', 'suffix']);
  });

  it('leaves out loop variables and names the template assigns or captures', () => {
    const content = [
      '{% assign total = price | times: quantity %}{{ total }}',
      '{% capture heading %}{{ title }}{% endcapture %}{{ heading }}',
      '{% for row in rows %}{% tablerow cell in row %}{{ cell }}{% endtablerow %}{% endfor %}',
      '{% liquid\n assign shout = word | upcase\n echo shout %}',
      '{% case tier %}{% when "gold" %}{{ perk }}{% endcase %}',
    ].join('\n');
    expect(inferVariables(content)).toEqual(['price', 'quantity', 'title', 'rows', 'word', 'tier', 'perk']);
  });

  it('treats a name read before it is assigned as expected from the caller', () => {
    expect(inferVariables('{{ topic }}{% assign topic = "x" %}{{ topic }}')).toEqual(['topic']);
  });

  it('finds nothing in plain text', () => {
    expect(inferVariables('Summarise the text below in three bullet points.')).toEqual([]);
  });
});

describe('prompt templates: syntax', () => {
  it('reports the parser’s message with its position', () => {
    expect(syntaxErrorOf('{% if ready %}go').message).toBe('tag {% if ready %} not closed, line:1, col:1');
    expect(syntaxErrorOf('Hello {{ name').message).toMatch(/^output "\{\{ name" not closed, line:1, col:7$/);
    expect(syntaxErrorOf('{% frobnicate %}').message).toMatch(/tag "frobnicate" not found/);
  });

  it('refuses unknown filters when saving rather than skipping them', () => {
    expect(syntaxErrorOf('{{ name | shout }}').message).toMatch(/undefined filter: shout/);
  });
});

describe('prompt templates: safety', () => {
  it.each(["{% include '/etc/passwd' %}", "{% render 'secrets' %}", "{% layout 'base' %}", "{% liquid\n include 'x' %}"])(
    'refuses %j when parsing: templates cannot load files',
    (content) => {
      expect(syntaxErrorOf(content).message).toMatch(/tag is not allowed: prompt templates cannot load other templates or files/);
    },
  );

  it('reads only own properties of the values it is given', async () => {
    const rendered = await renderTemplate('[{{ user.constructor }}][{{ user.__proto__ }}][{{ list.constructor.name }}][{{ user.name }}]', {
      user: { name: 'Ada' },
      list: [1],
    });
    expect(rendered).toBe('[][][][Ada]');
  });

  it('does not reach the process or the file system through filters or tags', async () => {
    expect(await renderTemplate('{{ process.env.HOME }}{{ global }}{{ require }}', {})).toBe('');
  });
});

describe('prompt templates: rendering', () => {
  it('prints strings, numbers and booleans as Liquid does, objects and arrays as JSON, missing values as nothing', async () => {
    const rendered = await renderTemplate('{{ s }}|{{ n }}|{{ b }}|{{ o }}|{{ a }}|{{ a | join: ", " }}|{{ o.k }}|{{ missing }}|', {
      s: 'text',
      n: 2.5,
      b: false,
      o: { k: [1, 2] },
      a: ['x', 'y'],
    });
    expect(rendered).toBe('text|2.5|false|{"k":[1,2]}|["x","y"]|x, y|[1,2]||');
  });

  it('does not escape HTML: prompts are plain text', async () => {
    expect(await renderTemplate('{{ q }}', { q: '<b>"A & B"</b>' })).toBe('<b>"A & B"</b>');
  });
});

describe('prompt templates: limits', () => {
  it('refuses a template longer than the limit', () => {
    expect(syntaxErrorOf('x'.repeat(TEMPLATE_LIMITS.maxLength + 1)).message).toMatch(/longer than 100000 characters/);
  });

  it('stops a render that allocates too much', async () => {
    expect((await renderErrorOf('{% for i in (1..100000000) %}x{% endfor %}')).message).toMatch(/memory alloc limit exceeded/);
    const doubling = "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}";
    expect((await renderErrorOf(doubling)).message).toMatch(/memory alloc limit exceeded/);
  });

  it('stops a render that takes too long', async () => {
    const started = Date.now();
    const error = await renderErrorOf('{% for i in (1..3000) %}{% for j in (1..3000) %}{% endfor %}{% endfor %}');
    expect(error.message).toMatch(/render limit exceeded/);
    expect(Date.now() - started).toBeLessThan(TEMPLATE_LIMITS.renderMs * 8);
  });

  it('refuses an output longer than the limit', async () => {
    const error = await renderErrorOf('{% for i in (1..30) %}{{ chunk }}{% endfor %}', { chunk: 'y'.repeat(50_000) });
    expect(error.message).toMatch(/rendered prompt is longer than 1000000 characters/);
  });
});
