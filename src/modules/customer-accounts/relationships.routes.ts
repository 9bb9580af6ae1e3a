import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { sendThenaList, thenaConflict, thenaErrors, thenaPageOf } from '../../http/thena.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import {
  AccountRelationshipResponseDto,
  CreateAccountRelationshipDto,
  CreateAccountRelationshipTypeDto,
  RelationshipListQuery,
  RelationshipParams,
  RelationshipTypeResponseDto,
  UpdateAccountRelationshipDto,
  UpdateAccountRelationshipTypeDto,
} from './relationships.schemas.js';
import * as relationships from './relationships.service.js';

const tags = ['Accounts'];
const noContent = Type.Null({ description: 'Deleted.' });

/**
 * Account relationships and relationship types. `/v1/accounts/relationships/types` is a static
 * path, so it wins over `/v1/accounts/relationships/:id` (and both over `/v1/accounts/:id`).
 */
export function relationshipRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/v1/accounts/relationships/types', {
      schema: {
        tags,
        operationId: 'AccountRelationshipTypesController_getRelationshipTypes',
        summary: 'Gets all relationship types',
        description: 'Every live type of the workspace, by name.',
        response: { 200: Type.Array(RelationshipTypeResponseDto, { description: 'Operation successful' }), ...thenaErrors },
      },
      handler: async (request) => relationships.listRelationshipTypes(ctx, await workspaceScopeOf(ctx, request)),
    });

    app.post('/v1/accounts/relationships/types', {
      schema: {
        tags,
        operationId: 'AccountRelationshipTypesController_createRelationshipType',
        summary: 'Creates a relationship type',
        description:
          'Workspace admins only. Names are unique in the workspace, case-insensitively (409). `inverseRelationshipId` links the two types both ways; the previous partner of the inverse is unlinked.',
        body: CreateAccountRelationshipTypeDto,
        response: { 201: { ...RelationshipTypeResponseDto, description: 'Created' }, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request, reply) => {
        const type = await relationships.createRelationshipType(ctx, await workspaceScopeOf(ctx, request), request.body);
        return reply.code(201).send(type);
      },
    });

    app.put('/v1/accounts/relationships/types/:id', {
      schema: {
        tags,
        operationId: 'AccountRelationshipTypesController_updateRelationshipType',
        summary: 'Updates a relationship type',
        description:
          'Workspace admins only. `inverseRelationshipId` links both ways and unlinks the previous partners of both; the type’s own id makes it symmetric (e.g. Sibling); null clears it (and the partner’s pointer back). Existing relationships are not rewritten.',
        params: RelationshipParams,
        body: UpdateAccountRelationshipTypeDto,
        response: { 200: { ...RelationshipTypeResponseDto, description: 'Operation successful' }, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request) =>
        relationships.updateRelationshipType(ctx, await workspaceScopeOf(ctx, request), request.params.id, request.body),
    });

    app.delete('/v1/accounts/relationships/types/:id', {
      schema: {
        tags,
        operationId: 'AccountRelationshipTypesController_deleteRelationshipType',
        summary: 'Deletes a relationship type',
        description: 'Workspace admins only. A type that live relationships use is kept (409 naming the count). Its inverse partner is unlinked.',
        params: RelationshipParams,
        response: { 204: noContent, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request, reply) => {
        await relationships.deleteRelationshipType(ctx, await workspaceScopeOf(ctx, request), request.params.id);
        return reply.code(204).send(null);
      },
    });

    app.get('/v1/accounts/relationships', {
      schema: {
        tags,
        operationId: 'AccountRelationshipsController_getAccountRelationships',
        summary: 'Gets the relationships of an account',
        description: 'Those starting from `accountId` (404 when there is no such account), newest first. The total is in `X-Total-Count`.',
        querystring: RelationshipListQuery,
        response: { 200: Type.Array(AccountRelationshipResponseDto, { description: 'Operation successful' }), ...thenaErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        const result = await relationships.listAccountRelationships(ctx, scope, request.query, thenaPageOf(request.query));
        return sendThenaList(reply, result);
      },
    });

    app.post('/v1/accounts/relationships', {
      schema: {
        tags,
        operationId: 'AccountRelationshipsController_createAccountRelationship',
        summary: 'Creates an account relationship',
        description:
          'Both accounts must be different live accounts of the workspace (400). The same pair with the same type twice is a 409. When the type has an inverse, the inverse relationship (related account → account) is created too, in the same transaction.',
        body: CreateAccountRelationshipDto,
        response: { 201: { ...AccountRelationshipResponseDto, description: 'Created' }, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request, reply) => {
        const relationship = await relationships.createAccountRelationship(ctx, await workspaceScopeOf(ctx, request), request.body);
        return reply.code(201).send(relationship);
      },
    });

    app.put('/v1/accounts/relationships/:id', {
      schema: {
        tags,
        operationId: 'AccountRelationshipsController_updateAccountRelationship',
        summary: 'Updates an account relationship',
        description: 'Changes the type; the inverse relationship moves to the new type’s inverse (or is removed when it has none).',
        params: RelationshipParams,
        body: UpdateAccountRelationshipDto,
        response: { 200: { ...AccountRelationshipResponseDto, description: 'Operation successful' }, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request) =>
        relationships.updateAccountRelationship(ctx, await workspaceScopeOf(ctx, request), request.params.id, request.body),
    });

    app.delete('/v1/accounts/relationships/:id', {
      schema: {
        tags,
        operationId: 'AccountRelationshipsController_deleteAccountRelationship',
        summary: 'Deletes an account relationship',
        description: 'Soft delete, together with its inverse relationship.',
        params: RelationshipParams,
        response: { 204: noContent, ...thenaErrors },
      },
      handler: async (request, reply) => {
        await relationships.deleteAccountRelationship(ctx, await workspaceScopeOf(ctx, request), request.params.id);
        return reply.code(204).send(null);
      },
    });
  };
}
