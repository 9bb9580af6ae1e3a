import { sql, type RawBuilder, type SqlBool } from 'kysely';
import { v7 as uuidv7 } from 'uuid';

/** A new public id: UUID v7, so ids sort by creation time (cursor pages rely on it). */
export function newId(): string {
  return uuidv7();
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** Current time as stored: UTC ISO 8601 with milliseconds (sorts correctly as text on SQLite). */
export function now(): string {
  return new Date().toISOString();
}

/** JSON columns are written as text on both dialects (pg would turn arrays into SQL arrays). */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** JSON columns come back as text from both dialects (see the pg type parsers); parsed here. */
export function fromJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** SQLite returns booleans as 0/1, PostgreSQL as booleans. */
export function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === '1';
}

/** Timestamps come back as ISO text from both dialects (see the pg type parsers). */
export function toIso(value: string | Date | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : value.toISOString();
}

interface DriverError {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
}

/** True when a write failed on a UNIQUE or PRIMARY KEY constraint, on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as DriverError | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** True when a write failed on a FOREIGN KEY constraint, on either dialect. */
export function isForeignKeyViolation(error: unknown): boolean {
  const code = (error as DriverError | null)?.code;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** Escapes LIKE wildcards so user search text matches literally (used with ESCAPE '\'). */
export function likePattern(search: string): string {
  return `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Case-insensitive "contains" on a column, the same on both dialects. */
export function containsText(column: string, search: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`lower(${sql.ref(column)}) like ${likePattern(search.toLowerCase())} escape '\\'`;
}
