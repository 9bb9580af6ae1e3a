import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { baseUrlOf, pageRequestOf, pageResponse } from '../../http/pagination.js';
import { MessageResponse, Page, ValidationErrorResponse, platformErrors } from '../../http/schemas.js';
import { principalOf } from '../../http/auth.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { knownResourcesOf } from '../providers/viewer.js';
import { ProviderParams } from '../providers/providers.schemas.js';
import { completeAuthorization, revokeTokens, startAuthorization } from './accounts.oauth2.js';
import {
  Account,
  AccountEnvelope,
  AccountListQuery,
  AccountParams,
  AccountWithDetailsEnvelope,
  AuthorizeQuery,
  AuthorizeResponse,
  CallbackQuery,
  CreateAccountBody,
  UpdateAccountBody,
} from './accounts.schemas.js';
import * as accounts from './accounts.service.js';
import { verifyAccount } from './accounts.verify.js';

const tags = ['Account'];
const noContent = Type.Null({ description: 'Done.' });

export function accountRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/api/v1/accounts', {
      schema: {
        tags,
        operationId: 'getAccounts',
        summary: 'Get Accounts',
        description:
          'The caller’s accounts and the public accounts of the workspace. `filter[provider]` (uuid), `filter[scope]`, `filter[mine]`; `search` matches the display name.',
        querystring: AccountListQuery,
        response: { 200: Page(Account), ...platformErrors },
      },
      handler: async (request) => {
        const { search, filter } = request.query;
        const scope = await workspaceScopeOf(ctx, request);
        const page = pageRequestOf(request.query, accounts.SORT_COLUMNS, '-created_at');
        const known = await knownResourcesOf(ctx, principalOf(request), scope);
        const result = await accounts.listAccounts(
          ctx,
          scope,
          page,
          { search, providerId: filter?.provider?.toLowerCase(), scope: filter?.scope, mine: filter?.mine },
          known,
        );
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.post('/api/v1/accounts', {
      schema: {
        tags,
        operationId: 'createAccount',
        summary: 'Create an Account',
        description:
          'Credentials for a provider. The strategy is the provider’s: a token provider needs `token`, a basic one `username` and `password` (422 naming the field otherwise). Secrets are encrypted at rest and never returned.',
        body: CreateAccountBody,
        response: { 201: AccountWithDetailsEnvelope, ...platformErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        const known = await knownResourcesOf(ctx, principalOf(request), scope);
        return reply.code(201).send(await accounts.createAccount(ctx, scope, request.body, known));
      },
    });

    app.get('/api/v1/accounts/:account_uuid', {
      schema: {
        tags,
        operationId: 'retrieveAccount',
        summary: 'Retrieve an Account',
        description: 'The seed’s Account in `data`; its scope, base URL, masked secrets and last verification in `meta`.',
        params: AccountParams,
        response: { 200: AccountWithDetailsEnvelope, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const known = await knownResourcesOf(ctx, principalOf(request), scope);
        return accounts.getAccount(ctx, scope, request.params.account_uuid, known);
      },
    });

    app.put('/api/v1/accounts/:account_uuid', {
      schema: {
        tags,
        operationId: 'updateAccount',
        summary: 'Update an Account',
        description:
          'Its owner only (members who may use a public account get 403). Fields left out keep their value; a secret sent as `********` keeps the stored one. Answers exactly seed 004’s Account (details: `GET /api/v1/accounts/{account_uuid}`).',
        params: AccountParams,
        body: UpdateAccountBody,
        response: { 200: AccountEnvelope, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const known = await knownResourcesOf(ctx, principalOf(request), scope);
        return { data: await accounts.updateAccount(ctx, scope, request.params.account_uuid, request.body, known) };
      },
    });

    app.delete('/api/v1/accounts/:account_uuid', {
      schema: {
        tags,
        operationId: 'deleteAccount',
        summary: 'Delete an Account',
        description: 'Its owner only. OAuth2 tokens are revoked at the provider when it has a revocation endpoint.',
        params: AccountParams,
        response: { 204: noContent, ...platformErrors },
      },
      handler: async (request, reply) => {
        await accounts.deleteAccount(ctx, await workspaceScopeOf(ctx, request), request.params.account_uuid, (account, provider) =>
          revokeTokens(ctx, account, provider),
        );
        return reply.code(204).send(null);
      },
    });

    app.post('/api/v1/accounts/:account_uuid/verify', {
      schema: {
        tags,
        operationId: 'verifyAccount',
        summary: 'Verify an Account',
        description:
          'Calls the provider with the stored credentials (a model vendor’s list-models endpoint, an OAuth2 user-info URL…), records the result and its time and fills `provider_account_id`. Rejected credentials: 422 with the provider’s reason (the account stays, marked failed). Unreachable provider: 502 after the outbound timeout. Servers of OpenAI-compatible and Ollama accounts also list their models into the catalog.',
        params: AccountParams,
        response: { 200: AccountWithDetailsEnvelope, 502: MessageResponse, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const account = await verifyAccount(ctx, scope, request.params.account_uuid);
        const known = await knownResourcesOf(ctx, principalOf(request), scope);
        return accounts.toAccountWithDetails(ctx.db.kysely, account, scope.userId, known);
      },
    });

    app.get('/api/v1/providers/:provider_uuid/oauth2/authorize', {
      schema: {
        tags,
        operationId: 'authorizeOAuth2Provider',
        summary: 'Start an OAuth2 Connection',
        description:
          'For a provider with the oauth2 strategy: the URL to send the user’s browser to, with a single-use state bound to the caller (valid 10 minutes) and a PKCE challenge unless the provider sets `authentication_config.oauth2.pkce: false`.',
        params: ProviderParams,
        querystring: AuthorizeQuery,
        response: { 200: AuthorizeResponse, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        return {
          data: await startAuthorization(ctx, scope, request.params.provider_uuid, {
            ...request.query,
            baseUrl: baseUrlOf(request, ctx.config.publicUrl),
          }),
        };
      },
    });

    app.get('/api/v1/oauth2/callback', {
      config: { auth: 'none' },
      schema: {
        tags,
        operationId: 'oauth2Callback',
        summary: 'OAuth2 Callback',
        description:
          'Where the provider sends the browser back. Exchanges the code (with the PKCE verifier) and stores the tokens as an account of the user who started the flow. An unknown, expired or replayed state is refused (422).',
        security: [],
        querystring: CallbackQuery,
        response: { 201: AccountWithDetailsEnvelope, 422: ValidationErrorResponse, 429: MessageResponse, 502: MessageResponse },
      },
      handler: async (request, reply) => {
        const account = await completeAuthorization(ctx, request.query);
        return reply.code(201).send(await accounts.toAccountWithDetails(ctx.db.kysely, account, account.user_id));
      },
    });
  };
}
