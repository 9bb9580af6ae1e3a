import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { JsonSchemaObject } from '../../ai/ports.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** Serialized size an input schema may have: models get it in every request. */
export const MAX_INPUT_SCHEMA_BYTES = 64 * 1024;
const MAX_DEPTH = 32;

// Not strict: schemas written for other tools carry keywords Ajv does not know, which only annotate.
const ajv = addFormats(new Ajv({ strict: false, allErrors: false, validateSchema: true, loadSchema: undefined }));

function depthOf(value: unknown, depth = 0): number {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return depth;
  let deepest = depth;
  for (const child of Object.values(value as Record<string, unknown>)) deepest = Math.max(deepest, depthOf(child, depth + 1));
  return deepest;
}

/**
 * The schema as tools store it: without `$schema`, which names a dialect (2020-12, draft-07) the
 * validators may not load, though the keywords tools use mean the same in each.
 */
export function normalizeInputSchema(schema: JsonSchemaObject): JsonSchemaObject {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

/**
 * Why a tool's input schema cannot be used, or undefined when it can: it must be a JSON Schema
 * object of `type: "object"` that Ajv compiles, within the size and depth limits.
 */
export function inputSchemaProblem(schema: unknown): string | undefined {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return 'The input schema must be a JSON Schema object.';
  const normalized = normalizeInputSchema(schema as JsonSchemaObject);
  if (normalized.type !== 'object') return 'The input schema must describe an object: its type must be "object".';
  if (Buffer.byteLength(JSON.stringify(normalized)) > MAX_INPUT_SCHEMA_BYTES) {
    return `The input schema must not be larger than ${MAX_INPUT_SCHEMA_BYTES / 1024} KB.`;
  }
  if (depthOf(normalized) > MAX_DEPTH) return `The input schema must not nest deeper than ${MAX_DEPTH} levels.`;
  try {
    ajv.compile(normalized);
    ajv.removeSchema(normalized);
  } catch (error) {
    return `The input schema is not a valid JSON Schema: ${(error as Error).message.slice(0, 300)}`;
  }
  return undefined;
}
