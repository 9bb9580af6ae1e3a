import { Type, type Static } from 'typebox';
import { named, NullableString, StringEnum } from '../../http/schemas.js';
import { ThenaListQuery } from '../../http/thena.js';
import { AttributeRef, BodyId, ResponseMetadata } from './records.js';
import { NOTE_VISIBILITIES } from './customer-accounts.table.js';
import { AttachmentDto, AttachmentUrls, Metadata, NullableConfiguration } from './records.js';

const Visibility = StringEnum(NOTE_VISIBILITIES, {
  description: '`public`: every member; `team`: members above viewer; `private`: the author alone',
});

const noteFields = {
  type: Type.Optional(AttributeRef('note_type')),
  visibility: Type.Optional({ ...Visibility, default: 'public' }),
  attachmentUrls: Type.Optional(AttachmentUrls),
  metadata: Type.Optional(Metadata),
};

const Content = Type.String({ minLength: 1, maxLength: 100_000, description: 'The note’s text' });

export const CreateNoteDto = named(
  'CreateNoteDto',
  Type.Object({ accountId: BodyId('The account the note belongs to'), content: Content, ...noteFields }, { additionalProperties: false }),
);
export type CreateNoteInput = Static<typeof CreateNoteDto>;

export const UpdateNoteDto = named(
  'UpdateNoteDto',
  Type.Object(
    {
      content: Type.Optional(Content),
      ...noteFields,
      visibility: Type.Optional(Visibility),
      attachmentUrls: Type.Optional({ ...AttachmentUrls, description: 'Replaces the attachments: URLs already attached keep their ids' }),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
);
export type UpdateNoteInput = Static<typeof UpdateNoteDto>;

export const NoteResponseDto = named(
  'NoteResponseDto',
  Type.Object({
    id: Type.String(),
    accountId: Type.String(),
    account: NullableString({ description: 'The account’s name' }),
    content: Type.String(),
    typeId: NullableString(),
    type: NullableString(),
    typeConfiguration: NullableConfiguration,
    visibility: Visibility,
    authorId: NullableString(),
    author: NullableString({ description: 'The author’s name' }),
    authorEmail: NullableString(),
    attachments: Type.Array(AttachmentDto),
    metadata: ResponseMetadata,
    createdAt: Type.String(),
    updatedAt: Type.String(),
  }),
);
export type NoteResponse = Static<typeof NoteResponseDto>;

export const NoteListQuery = ThenaListQuery({
  accountId: Type.Optional(Type.String({ maxLength: 100, description: 'The account whose notes to list (the whole workspace when omitted)' })),
  noteId: Type.Optional(Type.String({ maxLength: 100, description: 'One note: the list holds it alone' })),
});
export type NoteListQueryValue = Static<typeof NoteListQuery>;

export const NoteParams = Type.Object({ noteId: Type.String({ maxLength: 100 }) });
export const NoteAttachmentParams = Type.Object({ noteId: Type.String({ maxLength: 100 }), attachmentId: Type.String({ maxLength: 100 }) });
