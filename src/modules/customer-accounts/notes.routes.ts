import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { sendThenaList, thenaErrors, thenaPageOf } from '../../http/thena.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { CreateNoteDto, NoteAttachmentParams, NoteListQuery, NoteParams, NoteResponseDto, UpdateNoteDto } from './notes.schemas.js';
import * as notes from './notes.service.js';

const tags = ['Accounts'];

export function noteRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/v1/accounts/notes', {
      schema: {
        tags,
        operationId: 'NotesController_getNotes',
        summary: 'Gets notes',
        description:
          'The notes of `accountId` (of the workspace when omitted) the caller may see, newest first; `noteId` gives that one alone. The total is in `X-Total-Count`.',
        querystring: NoteListQuery,
        response: { 200: Type.Array(NoteResponseDto, { description: 'Operation successful' }), ...thenaErrors },
      },
      handler: async (request, reply) => {
        const scope = await workspaceScopeOf(ctx, request);
        return sendThenaList(reply, await notes.listNotes(ctx, scope, request.query, thenaPageOf(request.query)));
      },
    });

    app.post('/v1/accounts/notes', {
      schema: {
        tags,
        operationId: 'NotesController_createNote',
        summary: 'Creates a note',
        description:
          '`type` takes a note_type id or text (its default when omitted). `visibility`: `public` (default, every member), `team` (members above viewer), `private` (the author alone).',
        body: CreateNoteDto,
        response: { 201: { ...NoteResponseDto, description: 'Created' }, ...thenaErrors },
      },
      handler: async (request, reply) => {
        const note = await notes.createNote(ctx, await workspaceScopeOf(ctx, request), request.body);
        return reply.code(201).send(note);
      },
    });

    app.put('/v1/accounts/notes/:noteId', {
      schema: {
        tags,
        operationId: 'NotesController_updateNote',
        summary: 'Updates a note',
        description: 'Its author, an admin or an owner only. `attachmentUrls` replaces the attachments; URLs already attached keep their ids.',
        params: NoteParams,
        body: UpdateNoteDto,
        response: { 200: { ...NoteResponseDto, description: 'Operation successful' }, ...thenaErrors },
      },
      handler: async (request) => notes.updateNote(ctx, await workspaceScopeOf(ctx, request), request.params.noteId, request.body),
    });

    app.delete('/v1/accounts/notes/:noteId', {
      schema: {
        tags,
        operationId: 'NotesController_deleteNote',
        summary: 'Deletes a note',
        description: 'Soft delete; its author, an admin or an owner only.',
        params: NoteParams,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...thenaErrors },
      },
      handler: async (request, reply) => {
        await notes.deleteNote(ctx, await workspaceScopeOf(ctx, request), request.params.noteId);
        return reply.code(204).send(null);
      },
    });

    app.delete('/v1/accounts/notes/:noteId/attachments/:attachmentId', {
      schema: {
        tags,
        operationId: 'NotesController_removeNoteAttachment',
        summary: 'Removes an attachment from a note',
        params: NoteAttachmentParams,
        response: { 204: Type.Null({ description: 'Removed.' }), ...thenaErrors },
      },
      handler: async (request, reply) => {
        const { noteId, attachmentId } = request.params;
        await notes.removeNoteAttachment(ctx, await workspaceScopeOf(ctx, request), noteId, attachmentId);
        return reply.code(204).send(null);
      },
    });
  };
}
