import { Type, type Static, type TSchema, type TObject, type TProperties } from 'typebox';

/**
 * Schemas given a component name here appear once in /openapi.json under that name; every use
 * elsewhere becomes a `$ref`. Routes still embed the schema itself, which keeps validation and
 * serialization compiled per route with full static types.
 */
const components = new Map<string, TSchema>();

export function named<T extends TSchema>(name: string, schema: T): T {
  const titled = { ...schema, title: name } as T;
  components.set(name, titled);
  return titled;
}

export function componentNames(): ReadonlySet<string> {
  return new Set(components.keys());
}

/** A string or null, as `type: ["string", "null"]` (cheaper to serialize than anyOf). */
export function NullableString(options: Record<string, unknown> = {}) {
  return Type.Unsafe<string | null>({ type: ['string', 'null'], ...options });
}

export function NullableInteger(options: Record<string, unknown> = {}) {
  return Type.Unsafe<number | null>({ type: ['integer', 'null'], ...options });
}

export function NullableNumber(options: Record<string, unknown> = {}) {
  return Type.Unsafe<number | null>({ type: ['number', 'null'], ...options });
}

export function NullableBoolean(options: Record<string, unknown> = {}) {
  return Type.Unsafe<boolean | null>({ type: ['boolean', 'null'], ...options });
}

/** One of a fixed set of strings, as a JSON Schema `enum` (one readable error, fast to check). */
export function StringEnum<const T extends readonly string[]>(values: T, options: Record<string, unknown> = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** UTC ISO 8601 with milliseconds, e.g. 2024-01-15T10:30:00.000Z. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2024-01-15T10:30:00.000Z'] });
export const NullableTimestamp = NullableString({ format: 'date-time', examples: ['2024-01-15T10:30:00.000Z'] });

export const Uuid = Type.String({ format: 'uuid', examples: ['0192f5a0-7c1e-7b3a-9d2e-6f1a2b3c4d5e'] });

/** The `{}` that ends the one-level nesting of seed 004 (`primary_workspace.user: {}`). */
export const NestingStop = Type.Object({}, { additionalProperties: false, description: 'Nesting stops here.' });

/** A request body object that refuses unknown fields. */
export function Body<P extends TProperties>(properties: P, options: Record<string, unknown> = {}): TObject<P> {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** `{"data": …}`, the platform API's envelope for one resource. */
export function Envelope<T extends TSchema>(data: T) {
  return Type.Object({ data });
}

export const PaginationLinks = named(
  'PaginationLinks',
  Type.Object({
    first: NullableString({ format: 'uri' }),
    last: NullableString({ format: 'uri' }),
    prev: NullableString({ format: 'uri' }),
    next: NullableString({ format: 'uri' }),
  }),
);

export const PaginationMeta = named(
  'PaginationMeta',
  Type.Object({
    current_page: Type.Integer(),
    from: NullableInteger(),
    last_page: Type.Integer(),
    links: Type.Array(
      Type.Object({
        url: NullableString({ format: 'uri' }),
        label: Type.String(),
        active: Type.Boolean(),
      }),
    ),
    path: Type.String({ format: 'uri' }),
    per_page: Type.Integer(),
    to: NullableInteger(),
    total: Type.Integer(),
  }),
);

export const CursorPaginationMeta = named(
  'CursorPaginationMeta',
  Type.Object({
    path: Type.String({ format: 'uri' }),
    per_page: Type.Integer(),
    next_cursor: NullableString(),
    prev_cursor: NullableString(),
  }),
);

/**
 * A Laravel length-aware page, or a cursor page when the request carried `cursor`. One schema
 * for both keeps the route's response contract honest about what it may answer.
 */
export function Page<T extends TSchema>(item: T) {
  return Type.Object({
    data: Type.Array(item),
    links: PaginationLinks,
    meta: Type.Union([PaginationMeta, CursorPaginationMeta]),
  });
}

export const MessageResponse = named(
  'ErrorMessage',
  Type.Object({ message: Type.String() }, { description: 'An error with a human-readable message.' }),
);

export const ValidationErrorResponse = named(
  'ValidationError',
  Type.Object(
    {
      message: Type.String({ examples: ['The name field is required. (and 1 more error)'] }),
      errors: Type.Record(Type.String(), Type.Array(Type.String())),
    },
    { description: 'Laravel-style validation failure: every field with its messages.' },
  ),
);

/** The error responses every authenticated platform route may give, for its `response` map. */
export const platformErrors = {
  401: MessageResponse,
  403: MessageResponse,
  404: MessageResponse,
  422: ValidationErrorResponse,
  429: MessageResponse,
} as const;

export type StaticOf<T extends TSchema> = Static<T>;
