import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { FieldErrors } from '../errors.js';
import type { Surface } from './surface.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function createAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    // Bodies are checked strictly: `value: 123` is not the string "123", and an unknown field
    // is an error rather than silently dropped. Query strings and path params arrive as text,
    // so those are coerced.
    coerceTypes: coerce ? 'array' : false,
    removeAdditional: false,
    useDefaults: true,
    allErrors: true,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

const strictAjv = createAjv(false);
const coercingAjv = createAjv(true);

/**
 * Schema compilation that Fastify asks for at start-up, deferred to the first request of each
 * route: a server with a hundred routes then starts in about half the time and only holds the
 * compiled code of the routes it serves. `compilePendingSchemas()` compiles everything at once
 * (tests do, so a broken schema still fails the suite rather than a first request).
 */
const pending = new Set<() => unknown>();

export function compilePendingSchemas(): number {
  const count = pending.size;
  for (const compile of [...pending]) compile();
  return count;
}

/** A function built on first use; it leaves the pending set once built. */
export function lazily<F extends (...args: never[]) => unknown>(build: () => F): () => F {
  let built: F | undefined;
  const get = () => {
    if (built === undefined) {
      built = build();
      pending.delete(get);
    }
    return built;
  };
  pending.add(get);
  return get;
}

/** Fastify validator compiler: strict for bodies, coercing for everything that arrives as text. */
export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? strictAjv : coercingAjv;
  const compiled = lazily(() => ajv.compile(schema as object) as ValidateFunction);
  // Fastify reads `errors` from the function it was given, as Ajv sets it on its own.
  const validate = ((data: unknown) => {
    const fn = compiled();
    const valid = fn(data);
    validate.errors = fn.errors;
    return valid;
  }) as ValidateFunction;
  return validate;
};

/** The field an Ajv error is about, in dot notation (`metadata.role`, `ids.0`). */
function fieldOf(error: ErrorObject): string {
  const base = error.instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.');
  const params = error.params as Record<string, unknown>;
  const child =
    error.keyword === 'required'
      ? (params.missingProperty as string)
      : error.keyword === 'additionalProperties'
        ? (params.additionalProperty as string)
        : undefined;
  if (child === undefined) return base;
  return base ? `${base}.${child}` : child;
}

function firstType(schemaType: unknown): string {
  return Array.isArray(schemaType) ? String(schemaType.find((t) => t !== 'null') ?? schemaType[0]) : String(schemaType);
}

/** Laravel's wording: "The per page field must not be greater than 100." */
function laravelMessage(error: ErrorObject, field: string): string {
  const attribute = `The ${field.replace(/_/g, ' ')} field`;
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${attribute} is required.`;
    case 'additionalProperties':
      return `${attribute} is prohibited.`;
    case 'type': {
      const type = firstType(p.type);
      if (type === 'boolean') return `${attribute} must be true or false.`;
      const article = type === 'integer' || type === 'object' || type === 'array' ? 'an' : 'a';
      return `${attribute} must be ${article} ${type}.`;
    }
    case 'minLength':
      return Number(p.limit) === 1 ? `${attribute} is required.` : `${attribute} must be at least ${p.limit} characters.`;
    case 'maxLength':
      return `${attribute} must not be greater than ${p.limit} characters.`;
    case 'minimum':
    case 'exclusiveMinimum':
      return `${attribute} must be at least ${p.limit}.`;
    case 'maximum':
    case 'exclusiveMaximum':
      return `${attribute} must not be greater than ${p.limit}.`;
    case 'minItems':
      return `${attribute} must have at least ${p.limit} items.`;
    case 'maxItems':
      return `${attribute} must not have more than ${p.limit} items.`;
    case 'minProperties':
      return `${attribute} must have at least ${p.limit} entries.`;
    case 'maxProperties':
      return `${attribute} must not have more than ${p.limit} entries.`;
    case 'uniqueItems':
      return `${attribute} has a duplicate value.`;
    case 'enum':
    case 'const':
      return `The selected ${field.replace(/_/g, ' ')} is invalid.`;
    case 'format':
      return formatMessage(attribute, String(p.format));
    case 'pattern':
      return `${attribute} format is invalid.`;
    default:
      return `${attribute} is invalid.`;
  }
}

function formatMessage(attribute: string, format: string): string {
  switch (format) {
    case 'email':
      return `${attribute} must be a valid email address.`;
    case 'uuid':
      return `${attribute} must be a valid UUID.`;
    case 'uri':
    case 'url':
      return `${attribute} must be a valid URL.`;
    case 'date-time':
    case 'date':
      return `${attribute} must be a valid date.`;
    default:
      return `${attribute} format is invalid.`;
  }
}

/** class-validator's wording, as a NestJS API answers: "value must be a string". */
function nestMessage(error: ErrorObject, field: string): string {
  const property = field.split('.').pop() ?? field;
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${field} should not be empty`;
    case 'additionalProperties':
      return `property ${field} should not exist`;
    case 'type': {
      const type = firstType(p.type);
      if (type === 'boolean') return `${field} must be a boolean value`;
      if (type === 'integer') return `${field} must be an integer number`;
      if (type === 'number') return `${field} must be a number conforming to the specified constraints`;
      if (type === 'array') return `${field} must be an array`;
      if (type === 'object') return `${field} must be an object`;
      return `${field} must be a string`;
    }
    case 'minLength':
      return Number(p.limit) === 1 ? `${field} should not be empty` : `${field} must be longer than or equal to ${p.limit} characters`;
    case 'maxLength':
      return `${field} must be shorter than or equal to ${p.limit} characters`;
    case 'minimum':
    case 'exclusiveMinimum':
      return `${field} must not be less than ${p.limit}`;
    case 'maximum':
    case 'exclusiveMaximum':
      return `${field} must not be greater than ${p.limit}`;
    case 'minItems':
      return `${field} must contain at least ${p.limit} elements`;
    case 'maxItems':
      return `${field} must contain no more than ${p.limit} elements`;
    case 'enum':
      return `${field} must be one of the following values: ${((p.allowedValues as unknown[]) ?? []).join(', ')}`;
    case 'const':
      return `${field} must be equal to ${String(p.allowedValue)}`;
    case 'format':
      switch (p.format) {
        case 'email':
          return `${field} must be an email`;
        case 'uuid':
          return `${field} must be a UUID`;
        case 'uri':
          return `${field} must be a URL address`;
        case 'date-time':
        case 'date':
          return `${field} must be a valid ISO 8601 date string`;
        default:
          return `${property} is invalid`;
      }
    case 'pattern':
      return `${field} must match ${String(p.pattern)} regular expression`;
    default:
      return `${field} is invalid`;
  }
}

/**
 * Turns Ajv errors into field → messages. Union branches report every failed alternative;
 * one message per field keeps the answer readable.
 */
export function describeValidationErrors(errors: ErrorObject[], surface: Surface): FieldErrors {
  const fields: FieldErrors = {};
  for (const error of errors) {
    if (error.keyword === 'anyOf' || error.keyword === 'oneOf' || error.keyword === 'if') continue;
    const field = fieldOf(error) || 'body';
    const message = surface === 'thena' ? nestMessage(error, field) : laravelMessage(error, field);
    const list = (fields[field] ??= []);
    if (list.length === 0) list.push(message);
  }
  if (Object.keys(fields).length === 0 && errors.length > 0) {
    const field = fieldOf(errors[0]!) || 'body';
    fields[field] = [surface === 'thena' ? `${field} is invalid` : `The ${field.replace(/_/g, ' ')} field is invalid.`];
  }
  return fields;
}

/** Laravel's summary: the first message, then "(and N more errors)". */
export function summarizeFieldErrors(fields: FieldErrors): string {
  const messages = Object.values(fields).flat();
  const first = messages[0] ?? 'The given data was invalid.';
  const more = messages.length - 1;
  if (more <= 0) return first;
  return `${first} (and ${more} more ${more === 1 ? 'error' : 'errors'})`;
}
