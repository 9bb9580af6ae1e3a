import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { Type, type TSchema } from 'typebox';
import { ToolError, type BuiltinToolDefinition, type JsonSchemaObject, type RunScope } from '../../ai/ports.js';
import { AppError } from '../../errors.js';
import { THENA_DEFAULT_LIMIT, THENA_MAX_LIMIT } from '../../http/thena.js';
import { describeValidationErrors } from '../../http/validation.js';
import * as contacts from '../customer-accounts/contacts.service.js';
import { CreateContactDto, type CreateContactInput } from '../customer-accounts/contacts.schemas.js';
import * as accounts from '../customer-accounts/customer-accounts.service.js';
import {
  AccountListQuery,
  CreateAccountDto,
  UpdateAccountDto,
  type AccountListQueryValue,
  type CreateAccountInput,
  type UpdateAccountInput,
} from '../customer-accounts/customer-accounts.schemas.js';
import * as notes from '../customer-accounts/notes.service.js';
import { CreateNoteDto, type CreateNoteInput } from '../customer-accounts/notes.schemas.js';
import * as tasks from '../customer-accounts/tasks.service.js';
import { CreateTaskDto, type CreateTaskInput } from '../customer-accounts/tasks.schemas.js';

/**
 * Built-in tools over the customer-accounts API (`/v1`). They call the same services as its
 * routes, acting as the run's user in the run's workspace with that user's role (a viewer's
 * agent can search but not create), and answer the `/v1` DTOs.
 */

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
// The routes' own checks, so the services see what they always see: a validated DTO.
const ajv = addFormats(new Ajv({ allErrors: true, strict: false, coerceTypes: false, useDefaults: true }));

/** A TypeBox schema as plain JSON Schema for a model: no component title, no symbols. */
function plain(schema: TSchema): JsonSchemaObject {
  const { title: _title, ...rest } = JSON.parse(JSON.stringify(schema)) as JsonSchemaObject;
  return rest;
}

/** The error a model can act on, in place of a service's AppError. */
export function toolErrorOf(error: unknown, what: string): unknown {
  if (!(error instanceof AppError)) return error;
  switch (error.code) {
    case 'VALIDATION':
    case 'BAD_REQUEST': {
      const fields = error.fields ? Object.values(error.fields).flat() : [];
      return new ToolError(fields.length > 0 ? fields.join('; ') : (error.publicMessage ?? `The ${what} input is invalid.`));
    }
    case 'CONFLICT':
      return new ToolError(error.publicMessage ?? `The ${what} conflicts with an existing record.`);
    case 'NOT_FOUND':
      return new ToolError(`No such ${what} in this workspace: check the id (search first to find it).`);
    case 'FORBIDDEN':
      return new ToolError(`The user running this agent may not change ${what}s in this workspace (their role does not allow it).`);
    default:
      return error;
  }
}

interface CustomerToolSpec<I> {
  id: number;
  name: string;
  displayName: string;
  description: string;
  what: string;
  schema: JsonSchemaObject;
  run(input: I, run: RunScope): Promise<unknown>;
}

function defineTool<I>(spec: CustomerToolSpec<I>): BuiltinToolDefinition {
  let validate: ValidateFunction | undefined;
  return {
    uuid: `01980000-0000-7000-8003-${spec.id.toString(16).padStart(12, '0')}`,
    name: spec.name,
    displayName: spec.displayName,
    description: spec.description,
    group: 'customer_accounts',
    inputSchema: spec.schema,
    async execute(input, run) {
      // A copy, so defaults filled in by the check do not change what the run records.
      const value = structuredClone(input ?? {}) as I;
      validate ??= ajv.compile(spec.schema);
      if (!validate(value)) {
        const problems = Object.values(describeValidationErrors(validate.errors ?? [], 'thena')).flat();
        throw new ToolError(`Invalid input: ${problems.join('; ')}.`);
      }
      try {
        return await spec.run(value, run);
      } catch (error) {
        throw toolErrorOf(error, spec.what);
      }
    },
  };
}

const RecordId = (description: string) => Type.String({ minLength: 1, maxLength: 100, description });

const SearchContactsInput = Type.Object(
  {
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Part of the name or the email address' })),
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: 'Part of the email address' })),
    accountId: Type.Optional(RecordId('Contacts of this account')),
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: THENA_MAX_LIMIT, default: THENA_DEFAULT_LIMIT })),
  },
  { additionalProperties: false },
);

const UpdateAccountInputSchema = Type.Object(
  { id: RecordId('The id of the account to change'), ...UpdateAccountDto.properties },
  { additionalProperties: false },
);

export const customerAccountsTools: BuiltinToolDefinition[] = [
  defineTool<AccountListQueryValue>({
    id: 1,
    name: 'search_customer_accounts',
    displayName: 'Search customer accounts',
    description:
      'Finds customer accounts (companies) of the workspace. `search` matches any part of the name or a domain; status, classification, health and industry take a value’s id or text. Answers {total, accounts}, newest first.',
    what: 'account',
    schema: plain(AccountListQuery),
    run: async (input, run) => {
      const result = await accounts.listAccounts(run.ctx, run.scope, input, { page: input.page ?? 1, limit: input.limit ?? THENA_DEFAULT_LIMIT });
      return { total: result.total, accounts: result.items };
    },
  }),
  defineTool<CreateAccountInput>({
    id: 2,
    name: 'create_customer_account',
    displayName: 'Create a customer account',
    description: 'Creates a customer account (a company) with its name and primary domain (e.g. acme.com), unique in the workspace. Answers the account.',
    what: 'account',
    schema: plain(CreateAccountDto),
    run: (input, run) => accounts.createAccount(run.ctx, run.scope, input),
  }),
  defineTool<UpdateAccountInput & { id: string }>({
    id: 3,
    name: 'update_customer_account',
    displayName: 'Update a customer account',
    description: 'Changes the fields given of the customer account with this id (find it with search_customer_accounts). Answers the account.',
    what: 'account',
    schema: plain(UpdateAccountInputSchema),
    run: ({ id, ...changes }, run) => accounts.updateAccount(run.ctx, run.scope, id, changes),
  }),
  defineTool<{ q?: string; email?: string; accountId?: string; page?: number; limit?: number }>({
    id: 4,
    name: 'search_customer_contacts',
    displayName: 'Search customer contacts',
    description:
      'Finds contacts (people at customer accounts): by `q` (part of the name or email) or `email`, or all contacts of the account `accountId`. Answers {total, contacts}.',
    what: 'contact',
    schema: plain(SearchContactsInput),
    run: async (input, run) => {
      if (input.q || input.email) {
        const found = await contacts.searchContacts(run.ctx, run.scope, { ...(input.q ? { q: input.q } : {}), ...(input.email ? { email: input.email } : {}) });
        const matching = input.accountId ? found.filter((c) => c.accounts.some((a) => a.id === input.accountId!.toLowerCase())) : found;
        return { total: matching.length, contacts: matching };
      }
      if (!input.accountId) throw new ToolError('Give q, email or accountId.');
      const result = await contacts.listContacts(run.ctx, run.scope, { accountId: input.accountId }, { page: input.page ?? 1, limit: input.limit ?? THENA_DEFAULT_LIMIT });
      return { total: result.total, contacts: result.items };
    },
  }),
  defineTool<CreateContactInput>({
    id: 5,
    name: 'create_customer_contact',
    displayName: 'Create a customer contact',
    description: 'Creates a contact (a person) with a first name and an email unique in the workspace, optionally linked to accounts by id. Answers the contact.',
    what: 'contact',
    schema: plain(CreateContactDto),
    run: (input, run) => contacts.createContact(run.ctx, run.scope, input),
  }),
  defineTool<CreateNoteInput>({
    id: 6,
    name: 'create_customer_note',
    displayName: 'Create a customer note',
    description: 'Adds a note to the customer account with this id. Visibility `public` (default), `team` or `private` (the user alone). Answers the note.',
    what: 'note',
    schema: plain(CreateNoteDto),
    run: (input, run) => notes.createNote(run.ctx, run.scope, input),
  }),
  defineTool<CreateTaskInput>({
    id: 7,
    name: 'create_customer_task',
    displayName: 'Create a customer task',
    description: 'Creates a task on the customer account with this id: a title, optionally a description, assignee (a member’s user id), due date (ISO 8601), status, priority. Answers the task.',
    what: 'task',
    schema: plain(CreateTaskDto),
    run: (input, run) => tasks.createTask(run.ctx, run.scope, input),
  }),
];
