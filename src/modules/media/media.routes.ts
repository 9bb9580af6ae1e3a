import multipart, { type MultipartFile } from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifySchemaCompiler } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { baseUrlOf, pageRequestOf, pageResponse } from '../../http/pagination.js';
import { MessageResponse, Page, platformErrors } from '../../http/schemas.js';
import { validatorCompiler } from '../../http/validation.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { contentDisposition } from './media.content.js';
import { Media, MediaEnvelope, MediaListQuery, MediaParams, MediaUploadBody } from './media.schemas.js';
import * as media from './media.service.js';

const tags = ['Media'];
const noContent = Type.Null({ description: 'Done.' });

const CUT_SHORT = 'The multipart body ended before the file did.';

/** Multipart parts read beyond the file (other fields are ignored). */
const MAX_PARTS = 20;

/** The upload body is a stream read by the handler; its schema only documents the request. */
const streamedBody: FastifySchemaCompiler<unknown> = (route) =>
  route.httpPart === 'body' ? () => true : validatorCompiler(route);

export function mediaRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    // Registered here only: every other route keeps answering 415 to anything but JSON.
    await app.register(multipart, {
      limits: { fileSize: ctx.config.mediaMaxBytes, files: 1, parts: MAX_PARTS, fields: MAX_PARTS, fieldSize: 16 * 1024 },
      throwFileSizeLimit: false,
    });

    app.post('/api/v1/media', {
      validatorCompiler: streamedBody,
      schema: {
        tags,
        operationId: 'uploadMedia',
        summary: 'Upload Media',
        description:
          '`multipart/form-data` with one file in the field `file`: an image (PNG, JPEG, GIF or WebP, recognised by its bytes) or a UTF-8 text file (`text/*`, JSON, XML, YAML; by extension when sent as `application/octet-stream`). Larger than `ATHENA_MEDIA_MAX_BYTES` (10 MB by default): 413, nothing is kept. Anything else: 422.',
        consumes: ['multipart/form-data'],
        body: MediaUploadBody,
        response: { 201: MediaEnvelope, 400: MessageResponse, 413: MessageResponse, 415: MessageResponse, ...platformErrors },
      },
      handler: async (request, reply) => {
        if (!request.isMultipart()) throw new AppError('UNSUPPORTED_MEDIA_TYPE');
        // A declared length far beyond the limit is refused before anything is read.
        const declared = Number(request.headers['content-length'] ?? 0);
        if (declared > ctx.config.mediaMaxBytes + 64 * 1024) throw new AppError('PAYLOAD_TOO_LARGE');
        const scope = await workspaceScopeOf(ctx, request);
        // Busboy skips every file after the first (limits.files), so one file is ever read.
        const first = await request.file().catch((error: unknown) => {
          // Busboy's own errors (no boundary, broken headers) carry no status: the body is unreadable.
          if ((error as { statusCode?: unknown }).statusCode !== undefined) throw error;
          throw new AppError('BAD_REQUEST', 'The multipart body could not be read.');
        });
        const part: MultipartFile | undefined = first?.fieldname === 'file' ? first : undefined;
        if (first && !part) first.file.resume();
        // A body that ends inside the file is reported on the stream with emit('error'), which
        // leaves it open; destroying it with the error makes its reader fail instead of wait.
        let cutShort = false;
        part?.file.once('error', (error) => {
          cutShort = true;
          part.file.destroy(error);
        });
        try {
          const row = await media.uploadMedia(
            ctx,
            scope,
            part && {
              filename: part.filename,
              declaredType: part.mimetype,
              content: part.file,
              truncated: () => part.file.truncated,
            },
          );
          const [resource] = await media.toMediaResources(ctx.db.kysely, [row], baseUrlOf(request, ctx.config.publicUrl));
          return reply.code(201).send({ data: resource! });
        } catch (error) {
          const aborted = (error as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE';
          if (!(error instanceof AppError) && (cutShort || aborted)) {
            throw new AppError('BAD_REQUEST', CUT_SHORT);
          }
          throw error;
        } finally {
          // Whatever was not read (a refused upload) is drained so the request can finish.
          if (part && !part.file.destroyed) part.file.resume();
        }
      },
    });

    app.get('/api/v1/media', {
      schema: {
        tags,
        operationId: 'getMedia',
        summary: 'Get Media',
        description:
          'The caller’s uploads in the workspace (admins and owners: every upload). `search` matches the file name; `filter[kind]`: `image` or `text`.',
        querystring: MediaListQuery,
        response: { 200: Page(Media), ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        const page = pageRequestOf(request.query, media.SORT_COLUMNS, '-created_at');
        const result = await media.listMedia(
          ctx,
          scope,
          page,
          { search: request.query.search, kind: request.query.filter?.kind },
          baseUrlOf(request, ctx.config.publicUrl),
        );
        return pageResponse(request, ctx.config.publicUrl, result);
      },
    });

    app.get('/api/v1/media/:media_uuid', {
      schema: {
        tags,
        operationId: 'retrieveMedia',
        summary: 'Retrieve Media',
        description: 'Visible to its uploader, to admins, and to whoever sees a thread where it is attached.',
        params: MediaParams,
        response: { 200: MediaEnvelope, ...platformErrors },
      },
      handler: async (request) => {
        const scope = await workspaceScopeOf(ctx, request);
        return { data: await media.getMedia(ctx, scope, request.params.media_uuid, baseUrlOf(request, ctx.config.publicUrl)) };
      },
    });

    app.get('/api/v1/media/:media_uuid/content', {
      schema: {
        tags,
        operationId: 'downloadMedia',
        summary: 'Download Media',
        description:
          'The file’s bytes with its type; `Content-Disposition: inline` for images, `attachment` for text files; `X-Content-Type-Options: nosniff`.',
        params: MediaParams,
        response: {
          200: {
            description: 'The file.',
            content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
          },
          ...platformErrors,
        },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        const { row, stream } = await media.openMediaContent(ctx, scope, request.params.media_uuid);
        return reply
          .type(row.kind === 'text' ? `${row.mime_type}; charset=utf-8` : row.mime_type)
          .header('content-length', String(row.size_bytes))
          .header('content-disposition', contentDisposition(row.kind === 'image' ? 'inline' : 'attachment', row.filename))
          .header('x-content-type-options', 'nosniff')
          // A stream is piped as it is; the response schema only documents the bytes.
          .send(stream as never);
      },
    });

    app.delete('/api/v1/media/:media_uuid', {
      schema: {
        tags,
        operationId: 'deleteMedia',
        summary: 'Delete Media',
        description: 'Its uploader or an admin. Removes the file and detaches it from the messages that carried it.',
        params: MediaParams,
        response: { 204: noContent, ...platformErrors },
      },
      handler: async (request, reply) => {
        await media.deleteMedia(ctx, await workspaceScopeOf(ctx, request), request.params.media_uuid);
        return reply.code(204).send(null);
      },
    });
  };
}
