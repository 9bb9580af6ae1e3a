import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { sendThenaList, thenaConflict, thenaErrors, thenaPageOf } from '../../http/thena.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { BulkCreateResponseDto } from './customer-accounts.schemas.js';
import {
  BulkCreateContactsDto,
  ContactListQuery,
  ContactParams,
  ContactResponseDto,
  CreateContactDto,
  FilterContactsByIdsDto,
  IngestContactsDto,
  IngestContactsResponseDto,
  SearchContactsQuery,
  UpdateContactDto,
} from './contacts.schemas.js';
import * as contacts from './contacts.service.js';

const tags = ['Accounts'];
const ContactList = Type.Array(ContactResponseDto, { description: 'Operation successful' });

export function contactRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/v1/accounts/contacts', {
      schema: {
        tags,
        operationId: 'ContactsController_getContacts',
        summary: 'Gets contacts',
        description: 'Newest first, the total in `X-Total-Count`. `accountId` narrows to one account’s contacts (404 when it names none).',
        querystring: ContactListQuery,
        response: { 200: ContactList, ...thenaErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        return sendThenaList(reply, await contacts.listContacts(ctx, scope, request.query, thenaPageOf(request.query)));
      },
    });

    app.post('/v1/accounts/contacts', {
      schema: {
        tags,
        operationId: 'ContactsController_createContact',
        summary: 'Creates a contact',
        description: 'The email is unique in the workspace, case-insensitively (409). `accountIds` must name accounts of the workspace.',
        body: CreateContactDto,
        response: { 201: { ...ContactResponseDto, description: 'Created' }, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request, reply) => reply.code(201).send(await contacts.createContact(ctx, await workspaceScopeOf(ctx, request), request.body)),
    });

    app.post('/v1/accounts/contacts/filter/ids', {
      schema: {
        tags,
        operationId: 'ContactsController_filterContactsByIds',
        summary: 'Gets contacts by ids',
        description: 'Unknown ids are left out.',
        body: FilterContactsByIdsDto,
        response: { 200: ContactList, ...thenaErrors },
      },
      handler: async (request, reply) => reply.code(200).send(await contacts.filterContactsByIds(ctx, await workspaceScopeOf(ctx, request), request.body.ids)),
    });

    app.get('/v1/accounts/contacts/search', {
      schema: {
        tags,
        operationId: 'ContactsController_searchContacts',
        summary: 'Searches contacts',
        description: '`email` matches part of the email address, `q` part of the name or email (trigram index from three characters). At least one is required; at most 100 contacts, newest first.',
        querystring: SearchContactsQuery,
        response: { 200: ContactList, ...thenaErrors },
      },
      handler: async (request) => contacts.searchContacts(ctx, await workspaceScopeOf(ctx, request), request.query),
    });

    app.post('/v1/accounts/contacts/bulk', {
      schema: {
        tags,
        operationId: 'ContactsController_bulkCreateContacts',
        summary: 'Creates contacts in bulk',
        description: 'One transaction. Contacts whose email exists (or repeats in the request) are skipped and counted; `accountIds` and `contactType` apply to every contact.',
        body: BulkCreateContactsDto,
        response: { 201: { ...BulkCreateResponseDto, description: 'Created' }, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request, reply) => reply.code(201).send(await contacts.bulkCreateContacts(ctx, await workspaceScopeOf(ctx, request), request.body)),
    });

    app.post('/v1/accounts/contacts/ingest', {
      schema: {
        tags,
        operationId: 'ContactsController_ingestUsers',
        summary: 'Ingests users as contacts',
        description:
          'Upserts each user by email and links it to the account whose primary domain is the email’s domain, creating that account when missing (not for free-mail domains such as gmail.com). One transaction.',
        body: IngestContactsDto,
        response: { 201: { ...IngestContactsResponseDto, description: 'Created' }, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request, reply) => {
        const data = await contacts.ingestContacts(ctx, await workspaceScopeOf(ctx, request), request.body);
        return reply.code(201).send({ statusCode: 201, message: 'Contacts ingested successfully', data });
      },
    });

    app.put('/v1/accounts/contacts/:contactId', {
      schema: {
        tags,
        operationId: 'ContactsController_updateContact',
        summary: 'Updates a contact',
        description: '`accountIds` replaces the accounts the contact belongs to.',
        params: ContactParams,
        body: UpdateContactDto,
        response: { 200: { ...ContactResponseDto, description: 'Operation successful' }, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request) => contacts.updateContact(ctx, await workspaceScopeOf(ctx, request), request.params.contactId, request.body),
    });

    app.delete('/v1/accounts/contacts/:contactId', {
      schema: {
        tags,
        operationId: 'ContactsController_deleteContact',
        summary: 'Deletes a contact',
        description: 'Soft delete; the contact leaves its accounts and its email is free again.',
        params: ContactParams,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...thenaErrors },
      },
      handler: async (request, reply) => {
        await contacts.deleteContact(ctx, await workspaceScopeOf(ctx, request), request.params.contactId);
        return reply.code(204).send(null);
      },
    });
  };
}
