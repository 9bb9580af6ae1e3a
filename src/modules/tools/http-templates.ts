import { Liquid, Output, Tag, type TagToken, type Template, type TopLevelToken } from 'liquidjs';
import { LRUCache } from 'lru-cache';
import { ToolError } from '../../ai/ports.js';
import type { FieldErrors } from '../../errors.js';

/**
 * HTTP tool definitions: a method, a URL template and optional header, query and body templates
 * in LiquidJS (`{{ input.city }}`), checked when a tool is saved and rendered with the model's
 * input when it is called. Templates read only `input`; nothing reaches the file system (the
 * tags that load other templates are refused), only own properties are readable, an unknown
 * filter is a syntax error, and rendering is bounded in time and allocation.
 */

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** What an HTTP tool stores in `tools.config` and shows as `http`. */
export interface HttpToolConfig {
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  /** Query parameters (values are templates or fixed values); null: see `defaultQuery`. */
  query: Record<string, unknown> | null;
  /** A JSON value whose strings are templates; null: see `renderHttpRequest`. */
  body: unknown;
}

/** A URL that starts with this is relative to the account's (or provider's default) base URL. */
export const BASE_URL_PLACEHOLDER = '{base_url}';

export const TEMPLATE_LIMITS = {
  /** Characters of one template. */
  maxLength: 20_000,
  /** Wall-clock milliseconds one render may take. */
  renderMs: 250,
  /** LiquidJS's allocation budget per render. */
  memory: 5_000_000,
  /** Nesting of a body template. */
  bodyDepth: 10,
} as const;

/** Headers the HTTP client sets itself, or that would carry credentials in plain text. */
const FORBIDDEN_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'authorization',
  'cookie',
]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;

class RefusedTag extends Tag {
  constructor(token: TagToken, remainTokens: TopLevelToken[], liquid: Liquid) {
    super(token, remainTokens, liquid);
    throw new Error(`the ${token.name} tag is not allowed: tool templates cannot load other templates or files`);
  }

  render(): void {}
}

/** Objects and arrays print as JSON rather than Liquid's `[object Object]` or joined items. */
function printValue(value: unknown): any {
  return value !== null && typeof value === 'object' && !(value instanceof Date) ? JSON.stringify(value) : value;
}

function engineWith(options: { outputEscape?: (value: any) => string; keepOutputType?: boolean }): Liquid {
  const engine = new Liquid({
    templates: {},
    relativeReference: false,
    dynamicPartials: false,
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    jsTruthy: false,
    parseLimit: TEMPLATE_LIMITS.maxLength,
    renderLimit: TEMPLATE_LIMITS.renderMs,
    memoryLimit: TEMPLATE_LIMITS.memory,
    timezoneOffset: 0,
    cache: false,
    ...options,
  });
  for (const name of ['include', 'render', 'layout']) engine.registerTag(name, RefusedTag);
  return engine;
}

/** Headers and text: values as Liquid prints them, objects as JSON. */
const textEngine = engineWith({ outputEscape: printValue });
/** URLs: every rendered value is percent-encoded, so input cannot change the URL's structure. */
const urlEngine = engineWith({
  outputEscape: (value) => {
    const printed = printValue(value);
    return encodeURIComponent(printed === null || printed === undefined ? '' : String(printed));
  },
});
/** Body and query values that are exactly one `{{ expr }}` keep the value's JSON type. */
const typedEngine = engineWith({ keepOutputType: true });

const parsed = new LRUCache<string, Template[]>({ max: 2000 });

function parse(engine: Liquid, source: string): Template[] {
  const key = `${engine === urlEngine ? 'u' : engine === typedEngine ? 'k' : 't'}:${source}`;
  let templates = parsed.get(key);
  if (!templates) {
    templates = engine.parse(source);
    parsed.set(key, templates);
  }
  return templates;
}

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, ' ').trim().slice(0, 300);
}

/** The template's syntax problem, or undefined. */
function syntaxProblem(source: string): string | undefined {
  if (source.length > TEMPLATE_LIMITS.maxLength) return `must not be longer than ${TEMPLATE_LIMITS.maxLength} characters`;
  try {
    textEngine.parse(source);
    return undefined;
  } catch (error) {
    return `has a template syntax error: ${messageOf(error)}`;
  }
}

function hasMarkup(text: string): boolean {
  return text.includes('{{') || text.includes('{%');
}

/** The scheme and host part of a URL template, which must be fixed text. */
function fixedOrigin(url: string): string | undefined {
  const match = /^(https?:\/\/[^/?#]*)/i.exec(url);
  if (!match || hasMarkup(match[1]!)) return undefined;
  try {
    const parsedUrl = new URL(match[1]!);
    return parsedUrl.hostname === '' ? undefined : parsedUrl.origin;
  } catch {
    return undefined;
  }
}

/** Laravel names a nested field by its path: `The http.headers.X-Api-Key field`. */
function label(field: string): string {
  return `The ${field.replace(/_/g, ' ')} field`;
}

/**
 * Problems of an HTTP tool definition, by field (`http.url`, `http.headers.X-Key`,
 * `http.query.q`, `http.body.city`): the URL's scheme and host must be fixed text (or start
 * with `{base_url}`), every template must parse, headers must be ones the tool may set.
 */
export function httpConfigProblems(config: HttpToolConfig): FieldErrors {
  const errors: FieldErrors = {};
  const add = (field: string, message: string) => (errors[field] ??= []).push(message);

  if (config.url.startsWith(BASE_URL_PLACEHOLDER)) {
    const rest = config.url.slice(BASE_URL_PLACEHOLDER.length);
    if (rest !== '' && !/^[/?#]/.test(rest)) add('http.url', `${label('http.url')} must continue with /, ? or # after ${BASE_URL_PLACEHOLDER}.`);
  } else if (!/^https?:\/\//i.test(config.url)) {
    add('http.url', `${label('http.url')} must start with http://, https:// or ${BASE_URL_PLACEHOLDER}.`);
  } else if (fixedOrigin(config.url) === undefined) {
    add('http.url', `${label('http.url')} must name its scheme and host without template tags: only the path and query may use the input.`);
  }
  const urlProblem = syntaxProblem(config.url);
  if (urlProblem) add('http.url', `${label('http.url')} ${urlProblem}.`);

  for (const [name, value] of Object.entries(config.headers)) {
    const field = `http.headers.${name}`;
    if (!HEADER_NAME.test(name)) add(field, `${label(field)} is not a valid header name.`);
    else if (FORBIDDEN_HEADERS.has(name.toLowerCase())) {
      add(
        field,
        name.toLowerCase() === 'authorization' || name.toLowerCase() === 'cookie' || name.toLowerCase() === 'proxy-authorization'
          ? `${label(field)} is not allowed: credentials come from the account, injected as the provider's authentication config says.`
          : `${label(field)} is set by the HTTP client and cannot be given.`,
      );
    }
    const problem = syntaxProblem(value);
    if (problem) add(field, `${label(field)} ${problem}.`);
  }

  for (const [name, value] of Object.entries(config.query ?? {})) {
    if (typeof value !== 'string') continue;
    const field = `http.query.${name}`;
    const problem = syntaxProblem(value);
    if (problem) add(field, `${label(field)} ${problem}.`);
  }

  if (config.body !== null && config.body !== undefined) {
    if (config.method === 'GET') add('http.body', `${label('http.body')} is not allowed for GET requests: use http.query.`);
    const walk = (value: unknown, field: string, depth: number): void => {
      if (depth > TEMPLATE_LIMITS.bodyDepth) {
        add('http.body', `${label('http.body')} must not nest deeper than ${TEMPLATE_LIMITS.bodyDepth} levels.`);
        return;
      }
      if (typeof value === 'string') {
        const problem = syntaxProblem(value);
        if (problem) add(field, `${label(field)} ${problem}.`);
      } else if (Array.isArray(value)) {
        value.forEach((item, index) => walk(item, `${field}.${index}`, depth + 1));
      } else if (value !== null && typeof value === 'object') {
        for (const [key, item] of Object.entries(value as Record<string, unknown>)) walk(item, `${field}.${key}`, depth + 1);
      }
    };
    walk(config.body, 'http.body', 0);
  }
  return errors;
}

/** The request a call makes, before credentials are added. */
export interface RenderedHttpRequest {
  method: HttpMethod;
  url: URL;
  headers: Record<string, string>;
  body: string | undefined;
}

interface Scope {
  input: unknown;
}

async function renderText(engine: Liquid, source: string, scope: Scope, what: string): Promise<string> {
  try {
    const output: unknown = await engine.render(parse(engine, source), scope);
    return output === undefined || output === null ? '' : String(output);
  } catch (error) {
    throw new ToolError(`The tool's ${what} template could not be rendered: ${messageOf(error)}`);
  }
}

/** A string that is exactly one `{{ expr }}` keeps the value's type; any other renders to text. */
async function renderValue(source: string, scope: Scope, what: string): Promise<unknown> {
  try {
    const trimmed = source.trim();
    const typed = parse(typedEngine, trimmed);
    if (typed.length === 1 && typed[0] instanceof Output) return await typedEngine.render(typed, scope);
    return await renderText(textEngine, source, scope, what);
  } catch (error) {
    if (error instanceof ToolError) throw error;
    throw new ToolError(`The tool's ${what} template could not be rendered: ${messageOf(error)}`);
  }
}

async function renderJson(value: unknown, scope: Scope, what: string): Promise<unknown> {
  if (typeof value === 'string') return renderValue(value, scope, what);
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const item of value) items.push(await renderJson(item, scope, what));
    return items;
  }
  if (value !== null && typeof value === 'object') {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) result[key] = await renderJson(item, scope, `${what}.${key}`);
    return result;
  }
  return value;
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function appendParam(url: URL, name: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) appendParam(url, name, item);
    return;
  }
  url.searchParams.append(name, isScalar(value) ? String(value) : JSON.stringify(value));
}

/** Without a query template, GET and DELETE send the input's top-level scalars (and lists of them). */
function defaultQuery(input: unknown): Record<string, unknown> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return {};
  const query: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
    if (isScalar(value) || (Array.isArray(value) && value.every(isScalar))) query[name] = value;
  }
  return query;
}

/**
 * Renders a tool's request from the model's input. Values rendered into the URL are
 * percent-encoded, and the URL must keep the origin the definition names. Without a body
 * template, POST, PUT and PATCH send the input as JSON; a body that renders to a string is sent
 * as text, anything else as JSON.
 */
export async function renderHttpRequest(config: HttpToolConfig, input: unknown, baseUrl: string | null): Promise<RenderedHttpRequest> {
  const scope: Scope = { input: input ?? {} };
  let origin: string;
  let text: string;
  if (config.url.startsWith(BASE_URL_PLACEHOLDER)) {
    if (!baseUrl) throw new ToolError('The tool’s URL is relative to the account’s base URL, and the account has none: set its base_url.');
    const base = baseUrl.replace(/\/+$/, '');
    origin = new URL(base).origin;
    text = base + (await renderText(urlEngine, config.url.slice(BASE_URL_PLACEHOLDER.length), scope, 'URL'));
  } else {
    origin = fixedOrigin(config.url) ?? '';
    text = await renderText(urlEngine, config.url, scope, 'URL');
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ToolError('The tool’s URL template did not render to a valid URL.');
  }
  if (url.origin !== origin || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ToolError('The tool’s URL template rendered to another host than the one it names.');
  }

  const query = config.query ?? (config.method === 'GET' || config.method === 'DELETE' ? defaultQuery(input) : {});
  for (const [name, value] of Object.entries(query)) {
    appendParam(url, name, typeof value === 'string' && config.query !== null ? await renderValue(value, scope, `query.${name}`) : value);
  }

  const headers: Record<string, string> = { accept: 'application/json, text/plain;q=0.9, */*;q=0.8' };
  for (const [name, value] of Object.entries(config.headers)) {
    // A value cannot add headers of its own.
    headers[name.toLowerCase()] = (await renderText(textEngine, value, scope, `headers.${name}`)).replace(/[\r\n]+/g, ' ');
  }

  let body: string | undefined;
  if (config.body !== null && config.body !== undefined) {
    const rendered = await renderJson(config.body, scope, 'body');
    if (typeof rendered === 'string') {
      body = rendered;
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else if (rendered !== undefined) {
      body = JSON.stringify(rendered);
      headers['content-type'] ??= 'application/json';
    }
  } else if (config.method === 'POST' || config.method === 'PUT' || config.method === 'PATCH') {
    body = JSON.stringify(input ?? {});
    headers['content-type'] ??= 'application/json';
  }
  return { method: config.method, url, headers, body };
}
