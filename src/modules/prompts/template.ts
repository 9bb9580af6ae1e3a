import { Liquid, Tag, type Template, type TagToken, type TopLevelToken } from 'liquidjs';

/**
 * Prompt templates: one LiquidJS engine, configured so a template can only read the variables
 * it is given. Liquid has no code execution; on top of that nothing reaches the file system
 * (the tags that load other templates are refused when parsing, and lookups go to an empty
 * in-memory map), only own properties of the values are readable, an unknown filter is a
 * parse error, and parsing and rendering are bounded in size, time and allocation.
 */
export const TEMPLATE_LIMITS = {
  /** Characters of one template (also the schema's `maxLength` for `content`). */
  maxLength: 100_000,
  /** Wall-clock milliseconds one render may take. */
  renderMs: 250,
  /** LiquidJS's allocation budget per render (characters of strings built, items of ranges). */
  memory: 10_000_000,
  /** Tags and outputs rendered in one render. */
  renders: 100_000,
  /** Characters of a rendered prompt. */
  maxOutput: 1_000_000,
} as const;

/** Names a variable may have when declared: an identifier, as Liquid reads it without brackets. */
export const VARIABLE_NAME_PATTERN = '^[a-zA-Z_][a-zA-Z0-9_]*$';

/** Why a template could not be used: `syntax` when saving, `render` when running. */
export class TemplateError extends Error {
  constructor(
    readonly kind: 'syntax' | 'render',
    message: string,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** Tags that would load another template (a file) by name. */
const FILE_TAGS = ['include', 'render', 'layout'] as const;

class RefusedTag extends Tag {
  constructor(token: TagToken, remainTokens: TopLevelToken[], liquid: Liquid) {
    super(token, remainTokens, liquid);
    throw new Error(`the ${token.name} tag is not allowed: prompt templates cannot load other templates or files`);
  }

  render(): void {}
}

/**
 * Objects and arrays print as JSON rather than Liquid's `[object Object]` / joined items, which
 * is what a model should read; every other value prints as Liquid prints it.
 */
function printValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

const engine = new Liquid({
  templates: {},
  relativeReference: false,
  dynamicPartials: false,
  strictFilters: true,
  strictVariables: false,
  ownPropertyOnly: true,
  jsTruthy: false,
  outputEscape: printValue,
  parseLimit: TEMPLATE_LIMITS.maxLength,
  renderLimit: TEMPLATE_LIMITS.renderMs,
  memoryLimit: TEMPLATE_LIMITS.memory,
  timezoneOffset: 0,
  cache: false,
});
for (const name of FILE_TAGS) engine.registerTag(name, RefusedTag);

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, ' ').trim();
}

/** Parses a template; a syntax error (or a refused tag or filter) throws `TemplateError('syntax')`. */
export function parseTemplate(content: string): Template[] {
  if (content.length > TEMPLATE_LIMITS.maxLength) {
    throw new TemplateError('syntax', `the template is longer than ${TEMPLATE_LIMITS.maxLength} characters`);
  }
  try {
    return engine.parse(content);
  } catch (error) {
    throw new TemplateError('syntax', messageOf(error));
  }
}

/**
 * The names a template expects from its caller, in order of first use: top-level names read by
 * outputs and tags, without loop variables and names the template assigns or captures itself.
 */
export function inferVariables(content: string | Template[]): string[] {
  const parsed = typeof content === 'string' ? parseTemplate(content) : content;
  try {
    return engine.globalVariablesSync(parsed);
  } catch (error) {
    throw new TemplateError('syntax', messageOf(error));
  }
}

/** Renders a template with the given variables; a failing filter or a limit throws `TemplateError('render')`. */
export async function renderTemplate(content: string | Template[], variables: Record<string, unknown>): Promise<string> {
  const parsed = typeof content === 'string' ? parseTemplate(content) : content;
  let output: unknown;
  try {
    output = await engine.render(parsed, variables, { templateLimit: TEMPLATE_LIMITS.renders });
  } catch (error) {
    throw new TemplateError('render', messageOf(error));
  }
  const text = String(output ?? '');
  if (text.length > TEMPLATE_LIMITS.maxOutput) {
    throw new TemplateError('render', `the rendered prompt is longer than ${TEMPLATE_LIMITS.maxOutput} characters`);
  }
  return text;
}
