import { Type, type Static } from 'typebox';
import { ListQuery } from '../../http/pagination.js';
import { Body, Envelope, NullableString, StringEnum, Timestamp, Uuid, named } from '../../http/schemas.js';
import { HTTP_METHODS } from './http-templates.js';

export const TOOL_KINDS = ['http', 'mcp', 'builtin'] as const;
export type ToolKind = (typeof TOOL_KINDS)[number];

/** The name a model calls a function by (OpenAI's and Anthropic's rule). */
export const FUNCTION_NAME_PATTERN = '^[a-zA-Z][a-zA-Z0-9_-]{0,63}$';

const JsonSchemaObject = Type.Unsafe<Record<string, unknown>>({
  type: 'object',
  additionalProperties: true,
  description: 'A JSON Schema with `type: "object"` describing the tool’s input.',
  examples: [{ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }],
});

const Templates = (description: string) =>
  Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 4096 }), { maxProperties: 50, description });

const QueryValue = Type.Union([Type.String({ maxLength: 4096 }), Type.Number(), Type.Boolean(), Type.Null()]);

/** An HTTP tool's request: LiquidJS templates over `input`. */
export const HttpToolDefinition = Type.Object(
  {
    method: StringEnum(HTTP_METHODS),
    url: Type.String({
      minLength: 1,
      maxLength: 4096,
      description: 'An http(s) URL whose scheme and host are fixed text, or one starting with `{base_url}` (the account’s base URL). Values rendered into it are URL-encoded.',
      examples: ['https://api.example.com/weather/{{ input.city }}'],
    }),
    headers: Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 4096 }), { description: 'Header templates.' }),
    query: Type.Unsafe<Record<string, unknown> | null>({
      type: ['object', 'null'],
      additionalProperties: true,
      description: 'Query parameter templates; null sends the input’s top-level scalars on GET and DELETE.',
    }),
    body: Type.Unknown({ description: 'A JSON value whose strings are templates; null sends the input as JSON on POST, PUT and PATCH.' }),
  },
  { additionalProperties: false },
);

/** Seed 004's Tool: a callable action with a JSON Schema for its input. */
export const Tool = named(
  'Tool',
  Type.Object({
    uuid: Uuid,
    kind: StringEnum(TOOL_KINDS, { description: '`http` (defined on a custom provider), `mcp` (listed by an MCP server) or `builtin`.' }),
    group: Type.String({ description: '`memory`, `customer_accounts`, or the provider’s slug.', examples: ['customer_accounts'] }),
    name: Type.String({ pattern: FUNCTION_NAME_PATTERN, description: 'The function name the model calls.', examples: ['get_weather'] }),
    display_name: Type.String({ examples: ['Get weather'] }),
    description: Type.String(),
    input_schema: JsonSchemaObject,
    provider_uuid: NullableString({ format: 'uuid', description: 'null for built-in tools.' }),
    account_uuid: NullableString({
      format: 'uuid',
      description: 'mcp: the account whose server listed the tool; http: the account whose credentials are injected, if one is set.',
    }),
    http: Type.Union([HttpToolDefinition, Type.Null()], { description: 'The request of an HTTP tool; null for other kinds.' }),
    is_enabled: Type.Boolean(),
    is_builtin: Type.Boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
);
export type ToolResource = Static<typeof Tool>;

const HttpInput = Type.Object(
  {
    method: StringEnum(HTTP_METHODS),
    url: Type.String({ minLength: 1, maxLength: 4096 }),
    headers: Type.Optional(Templates('Header templates.')),
    query: Type.Optional(
      Type.Union([Type.Record(Type.String({ maxLength: 100 }), QueryValue, { maxProperties: 100 }), Type.Null()], {
        description: 'Query parameter templates (or fixed values).',
      }),
    ),
    body: Type.Optional(Type.Unknown({ description: 'A JSON value whose strings are templates.' })),
  },
  { additionalProperties: false },
);

const writable = {
  account_uuid: Type.Optional(NullableString({ format: 'uuid', description: 'The account whose credentials are injected; by default the caller’s newest verified account of the provider.' })),
  name: Type.String({ pattern: FUNCTION_NAME_PATTERN, maxLength: 64 }),
  display_name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  description: Type.String({ minLength: 1, maxLength: 4000 }),
  input_schema: Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true }),
  http: HttpInput,
  is_enabled: Type.Optional(Type.Boolean()),
};

export const CreateToolBody = Body({ provider_uuid: Uuid, ...writable });
export type CreateToolInput = Static<typeof CreateToolBody>;

export const UpdateToolBody = Body({
  ...writable,
  name: Type.Optional(writable.name),
  description: Type.Optional(writable.description),
  input_schema: Type.Optional(writable.input_schema),
  http: Type.Optional(writable.http),
});
export type UpdateToolInput = Static<typeof UpdateToolBody>;

export const ToolParams = Type.Object({ tool_uuid: Uuid });

const listQuery = ListQuery(['name', 'created_at'], {
  kind: Type.Optional(StringEnum(TOOL_KINDS)),
  provider: Type.Optional(Uuid),
  account: Type.Optional(Uuid),
  group: Type.Optional(Type.String({ maxLength: 100 })),
});
// Built-in tools come from code, so the catalog pages by number only (no cursor).
const { cursor: _cursor, ...listProperties } = listQuery.properties;
export const ToolListQuery = Type.Object(listProperties);

export const ToolEnvelope = Envelope(Tool);
