import { Type, type Static } from 'typebox';
import type { Executor } from '../../db/database.js';
import { fromJson, isUniqueViolation, isUuid, newId } from '../../db/values.js';
import { AppError } from '../../errors.js';
import { NullableString, named } from '../../http/schemas.js';
import { findUsersByIds } from '../users/users.repository.js';
import type { UserRow } from '../users/users.table.js';
import { findMember } from '../workspaces/workspaces.repository.js';

/**
 * Pieces every customer-accounts record shares: ids in paths, the people a record names
 * (owner, author, assignee), and attachments.
 */

/** A path or body id that is not a UUID names nothing: 404 rather than a database error. */
export function requireUuid(id: string): string {
  if (!isUuid(id)) throw new AppError('NOT_FOUND');
  return id.toLowerCase();
}

/**
 * A many-row write (bulk create, ingest) checks emails and domains first, but a concurrent
 * request can still take one before the commit; the unique index then refuses the whole
 * transaction. That is a conflict the client retries, not a server error.
 */
export async function conflictOnRace<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (isUniqueViolation(error)) throw new AppError('CONFLICT', 'Another request created some of these records at the same time; retry');
    throw error;
  }
}

/** Users are numbered; `/v1` shows every id as a string. */
export function userIdOf(value: string | null | undefined, field: string): number | null | undefined {
  if (value === undefined || value === null) return value;
  if (!/^[1-9][0-9]{0,15}$/.test(value)) throw new AppError('BAD_REQUEST', `${field} must be the id of a workspace member`);
  return Number(value);
}

/** A user a request names (owner, assignee) must be a member of the workspace: 400 otherwise. */
export async function requireMember(db: Executor, workspaceId: string, userId: number, field: string): Promise<void> {
  if (!(await findMember(db, workspaceId, userId))) throw new AppError('BAD_REQUEST', `${field} must be the id of a workspace member`);
}

export interface Person {
  id: string;
  name: string;
  email: string;
  avatarUrl: string | null;
}

export async function peopleByIds(db: Executor, ids: ReadonlyArray<number | null>): Promise<Map<number, Person>> {
  const users = await findUsersByIds(
    db,
    [...new Set(ids.filter((id): id is number => id !== null))],
  );
  return new Map(users.map((user: UserRow) => [user.id, { id: String(user.id), name: user.name, email: user.email, avatarUrl: user.profile_photo_url }]));
}

export const AttachmentDto = named(
  'AttachmentResponseDto',
  Type.Object({
    id: Type.String({ description: 'The attachment’s id, for removing it' }),
    url: Type.String({ description: 'Where the file is' }),
    createdAt: Type.String(),
  }),
);
export type Attachment = Static<typeof AttachmentDto>;

/** `attachmentUrls` of a request: each URL becomes an attachment with its own id. */
export const AttachmentUrls = Type.Array(Type.String({ format: 'uri', maxLength: 2048 }), { maxItems: 50 });

export function attachmentsFromUrls(urls: readonly string[] | undefined, at: string): Attachment[] {
  return (urls ?? []).map((url) => ({ id: newId(), url, createdAt: at }));
}

export function attachmentsOf(value: unknown): Attachment[] {
  return fromJson<Attachment[] | null>(value) ?? [];
}

/**
 * Replaces attachments from a PUT's `attachmentUrls`: URLs already attached keep their ids, new
 * ones get new ids, missing ones are removed.
 */
export function replaceAttachments(current: Attachment[], urls: readonly string[], at: string): Attachment[] {
  const byUrl = new Map(current.map((a) => [a.url, a]));
  return urls.map((url) => byUrl.get(url) ?? { id: newId(), url, createdAt: at });
}

/** Removes one attachment; NOT_FOUND when the record has none with that id. */
export function withoutAttachment(current: Attachment[], attachmentId: string): Attachment[] {
  const next = current.filter((a) => a.id !== attachmentId);
  if (next.length === current.length) throw new AppError('NOT_FOUND');
  return next;
}

/** A request field that names an attribute value: its id or its text. */
export function AttributeRef(attribute: string) {
  return Type.String({ minLength: 1, maxLength: 100, description: `The id or the text of a value of ${attribute} (its default when omitted)` });
}

/** A record's `metadata` in a response: always an object. */
export const ResponseMetadata = Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true });

/** The id of a record in a request body (an account, an activity). */
export const BodyId = (description: string) => Type.String({ minLength: 1, maxLength: 100, description });

/** Free-form JSON object fields (`metadata`). */
export const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'Free-form key-value data' });

export const CustomFieldValues = Type.Array(
  Type.Object({ fieldId: Type.String({ minLength: 1, maxLength: 100 }), value: Type.Unknown() }, { additionalProperties: false }),
  { maxItems: 200, description: 'Values of the workspace’s custom fields' },
);
export type CustomFieldValuesValue = Static<typeof CustomFieldValues>;

/** Configuration of an attribute value in a response, null when the record has none. */
export const NullableConfiguration = Type.Unsafe<{ icon?: string; color?: string; isClosed?: boolean } | null>({
  type: ['object', 'null'],
  properties: { icon: { type: 'string' }, color: { type: 'string' }, isClosed: { type: 'boolean' } },
});

export { NullableString };
