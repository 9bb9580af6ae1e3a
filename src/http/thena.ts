import type { FastifyReply } from 'fastify';
import { Type, type TProperties } from 'typebox';
import { THENA_ERRORS, type ErrorCode } from '../errors.js';

/**
 * What the customer-accounts surface (`/v1`) shares between its routes: NestJS-style error
 * responses with seed 000's messages, `page`/`limit` lists with the total in `X-Total-Count`.
 */

export const THENA_DEFAULT_LIMIT = 10;
export const THENA_MAX_LIMIT = 100;

/** A list's query: `page` (1-based) and `limit`, then the endpoint's own filters. */
export function ThenaListQuery<P extends TProperties>(filters: P) {
  return Type.Object(
    {
      page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1, description: 'Page number, from 1.' })),
      limit: Type.Optional(
        Type.Integer({ minimum: 1, maximum: THENA_MAX_LIMIT, default: THENA_DEFAULT_LIMIT, description: 'Items per page (at most 100).' }),
      ),
      ...filters,
    },
    { additionalProperties: false },
  );
}

export interface ThenaPage {
  page: number;
  limit: number;
}

export function thenaPageOf(query: { page?: number; limit?: number }): ThenaPage {
  return { page: query.page ?? 1, limit: query.limit ?? THENA_DEFAULT_LIMIT };
}

export interface ThenaListResult<T> {
  items: T[];
  total: number;
}

/** Sends a list as a JSON array, its total in `X-Total-Count`. */
export function sendThenaList<T>(reply: FastifyReply, result: ThenaListResult<T>) {
  return reply.header('x-total-count', String(result.total)).send(result.items);
}

function thenaError(code: ErrorCode, messageSchema = Type.String({ examples: [THENA_ERRORS[code].message] })) {
  const { status, message, error } = THENA_ERRORS[code];
  return Type.Object(
    {
      statusCode: Type.Integer({ examples: [status] }),
      message: messageSchema,
      error: Type.String({ examples: [error] }),
    },
    { description: message },
  );
}

/** The error responses of seed 000, with its descriptions, for every `/v1` route. */
export const thenaErrors = {
  400: Type.Object(
    {
      statusCode: Type.Integer({ examples: [400] }),
      message: Type.Array(Type.String(), { examples: [['value must be a string']] }),
      error: Type.String({ examples: ['Bad Request'] }),
    },
    { description: 'The request does not satisfy the DTO: one message per problem.' },
  ),
  401: thenaError('UNAUTHENTICATED'),
  403: thenaError('FORBIDDEN'),
  404: thenaError('NOT_FOUND'),
  429: thenaError('RATE_LIMITED'),
  500: thenaError('INTERNAL'),
  503: thenaError('SERVICE_UNAVAILABLE'),
} as const;

/** 409 for routes with a uniqueness rule: the message names what conflicts. */
export const thenaConflict = { 409: thenaError('CONFLICT') } as const;

/** Security requirements for `/v1` routes, as seed 000 declares them (bearer), plus the API key. */
export const thenaSecurity = [{ bearerAuth: [] }, { apiKey: [] }];
