import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { thenaConflict, thenaErrors } from '../../http/thena.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import {
  AccountAttributeValueResponseDto,
  AttributeValueListQuery,
  AttributeValueParams,
  CreateAccountAttributeValueDto,
  DeleteAttributeValueQuery,
  UpdateAccountAttributeValueDto,
} from './attribute-values.schemas.js';
import * as attributeValues from './attribute-values.service.js';

const tags = ['Accounts'];
const noContent = Type.Null({ description: 'Deleted.' });

export function attributeValueRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/v1/accounts/attributes', {
      schema: {
        tags,
        operationId: 'AccountAttributeValueActionController_getAccountAttributeValues',
        summary: 'Gets the values of an account attribute',
        querystring: AttributeValueListQuery,
        response: { 200: Type.Array(AccountAttributeValueResponseDto, { description: 'Operation successful' }), ...thenaErrors },
      },
      handler: async (request) =>
        attributeValues.listAttributeValues(ctx, await workspaceScopeOf(ctx, request), request.query.attribute),
    });

    app.post('/v1/accounts/attributes', {
      schema: {
        tags,
        operationId: 'AccountAttributeValueActionController_createAccountAttributeValue',
        summary: 'Creates an account attribute value',
        description: 'Workspace admins only. `isDefault: true` makes it the attribute’s one default.',
        body: CreateAccountAttributeValueDto,
        response: { 201: { ...AccountAttributeValueResponseDto, description: 'Created' }, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request, reply) => {
        const value = await attributeValues.createAttributeValue(ctx, await workspaceScopeOf(ctx, request), request.body);
        return reply.code(201).send(value);
      },
    });

    app.put('/v1/accounts/attributes/:id', {
      schema: {
        tags,
        operationId: 'AccountAttributeValueActionController_updateAccountAttributeValue',
        summary: 'Updates an account attribute value',
        description:
          'Workspace admins only. `isDefault: true` makes this value the default and unsets the previous one in the same transaction; `isDefault: false` on the default is refused (make another value the default instead).',
        params: AttributeValueParams,
        body: UpdateAccountAttributeValueDto,
        response: { 200: { ...AccountAttributeValueResponseDto, description: 'Operation successful' }, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request) =>
        attributeValues.updateAttributeValue(ctx, await workspaceScopeOf(ctx, request), request.params.id, request.body),
    });

    app.delete('/v1/accounts/attributes/:id', {
      schema: {
        tags,
        operationId: 'AccountAttributeValueActionController_deleteAccountAttributeValue',
        summary: 'Deletes an account attribute value',
        description:
          'Workspace admins only. The default cannot be deleted. A value that records use is kept (409) unless `replaceWith` names another value of the same attribute; those records move to it in the same transaction.',
        params: AttributeValueParams,
        querystring: DeleteAttributeValueQuery,
        response: { 204: noContent, ...thenaErrors, ...thenaConflict },
      },
      handler: async (request, reply) => {
        await attributeValues.deleteAttributeValue(ctx, await workspaceScopeOf(ctx, request), request.params.id, request.query.replaceWith);
        return reply.code(204).send(null);
      },
    });
  };
}
