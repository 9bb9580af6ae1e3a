import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { sendThenaList, thenaConflict, thenaErrors, thenaPageOf } from '../../http/thena.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import {
  AccountListQuery,
  AccountParams,
  AccountResponseDto,
  BulkCreateAccountsDto,
  BulkCreateResponseDto,
  CreateAccountDto,
  FilterAccountsByIdsDto,
  FilterAccountsByPrimaryDomainsDto,
  UpdateAccountDto,
} from './customer-accounts.schemas.js';
import * as accounts from './customer-accounts.service.js';

const tags = ['Accounts'];
const AccountList = Type.Array(AccountResponseDto, { description: 'Operation successful' });

export function customerAccountRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/v1/accounts', {
      schema: {
        tags,
        operationId: 'AccountsController_getAccounts',
        summary: 'Gets all accounts',
        description: 'Newest first. The total matching the filters is in `X-Total-Count`. `search` matches part of the name or of a domain.',
        querystring: AccountListQuery,
        response: { 200: AccountList, ...thenaErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        const result = await accounts.listAccounts(ctx, scope, request.query, thenaPageOf(request.query));
        return sendThenaList(reply, result);
      },
    });

    app.post('/v1/accounts', {
      schema: {
        tags,
        operationId: 'AccountsController_createAccount',
        summary: 'Creates an account',
        description: 'Attribute fields take a value’s id or text; omitted ones get the attribute’s default. The primary domain is unique in the workspace (409).',
        body: CreateAccountDto,
        response: { 201: { ...AccountResponseDto, description: 'Created' }, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request, reply) => {
        const account = await accounts.createAccount(ctx, await workspaceScopeOf(ctx, request), request.body);
        return reply.code(201).send(account);
      },
    });

    app.post('/v1/accounts/filter/ids', {
      schema: {
        tags,
        operationId: 'AccountsController_filterAccountsByIds',
        summary: 'Gets accounts by ids',
        description: 'Unknown ids are left out.',
        body: FilterAccountsByIdsDto,
        response: { 200: AccountList, ...thenaErrors },
      },
      handler: async (request, reply) => reply.code(200).send(await accounts.filterAccountsByIds(ctx, await workspaceScopeOf(ctx, request), request.body.ids)),
    });

    app.post('/v1/accounts/filter/primary-domains', {
      schema: {
        tags,
        operationId: 'AccountsController_filterAccountsByPrimaryDomains',
        summary: 'Gets accounts by primary domains',
        description: 'Case-insensitive; unknown domains are left out.',
        body: FilterAccountsByPrimaryDomainsDto,
        response: { 200: AccountList, ...thenaErrors },
      },
      handler: async (request, reply) =>
        reply.code(200).send(await accounts.filterAccountsByPrimaryDomains(ctx, await workspaceScopeOf(ctx, request), request.body.primaryDomains)),
    });

    app.post('/v1/accounts/bulk', {
      schema: {
        tags,
        operationId: 'AccountsController_bulkCreateAccounts',
        summary: 'Creates accounts in bulk',
        description: 'One transaction. Accounts whose primary domain exists (or repeats in the request) are skipped and counted.',
        body: BulkCreateAccountsDto,
        response: { 201: { ...BulkCreateResponseDto, description: 'Created' }, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request, reply) => {
        const result = await accounts.bulkCreateAccounts(ctx, await workspaceScopeOf(ctx, request), request.body.accounts);
        return reply.code(201).send(result);
      },
    });

    app.get('/v1/accounts/:id', {
      schema: {
        tags,
        operationId: 'AccountsController_getAccountDetails',
        summary: 'Gets an account',
        params: AccountParams,
        response: { 200: { ...AccountResponseDto, description: 'Operation successful' }, ...thenaErrors },
      },
      handler: async (request) => accounts.getAccount(ctx, await workspaceScopeOf(ctx, request), request.params.id),
    });

    app.put('/v1/accounts/:id', {
      schema: {
        tags,
        operationId: 'AccountsController_updateAccount',
        summary: 'Updates an account',
        params: AccountParams,
        body: UpdateAccountDto,
        response: { 200: { ...AccountResponseDto, description: 'Operation successful' }, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request) => accounts.updateAccount(ctx, await workspaceScopeOf(ctx, request), request.params.id, request.body),
    });

    app.delete('/v1/accounts/:id', {
      schema: {
        tags,
        operationId: 'AccountsController_deleteAccount',
        summary: 'Deletes an account',
        description: 'Soft delete: the account, its relationships, activities, notes and tasks answer 404 from then on.',
        params: AccountParams,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...thenaErrors },
      },
      handler: async (request, reply) => {
        await accounts.deleteAccount(ctx, await workspaceScopeOf(ctx, request), request.params.id);
        return reply.code(204).send(null);
      },
    });
  };
}
