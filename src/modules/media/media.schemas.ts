import { Type, type Static } from 'typebox';
import { ListQuery } from '../../http/pagination.js';
import { Envelope, StringEnum, Timestamp, Uuid, named } from '../../http/schemas.js';
import { UserLeaf } from '../users/user.shape.js';

export const MEDIA_KINDS = ['image', 'text'] as const;

/** An uploaded file: an image for vision models or a text file inlined into the conversation. */
export const Media = named(
  'Media',
  Type.Object({
    uuid: Uuid,
    filename: Type.String({ examples: ['quarterly-report.md'] }),
    mime_type: Type.String({ examples: ['text/markdown', 'image/png'] }),
    size: Type.Integer({ minimum: 0, description: 'Bytes.' }),
    kind: StringEnum(MEDIA_KINDS, { description: '`image`: sent to vision models; `text`: inlined into the prompt.' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'Hex SHA-256 of the content.' }),
    url: Type.String({ format: 'uri', description: 'Where the content is downloaded (with the same credentials).' }),
    user: Type.Union([UserLeaf, Type.Null()], { description: 'The uploader; null once their user is deleted.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
);
export type MediaResource = Static<typeof Media>;

/** A file attached to a message, in the order the client gave. */
export const Attachment = named(
  'Attachment',
  Type.Object({
    uuid: Uuid,
    position: Type.Integer({ minimum: 0 }),
    media: Media,
  }),
);
export type AttachmentResource = Static<typeof Attachment>;

export const MediaEnvelope = Envelope(Media);
export const MediaParams = Type.Object({ media_uuid: Uuid });

export const MediaListQuery = ListQuery(['created_at', 'filename', 'size'], {
  kind: Type.Optional(StringEnum(MEDIA_KINDS)),
});

/** Documents the multipart request; the route reads the stream itself (see media.routes.ts). */
export const MediaUploadBody = Type.Object(
  { file: Type.String({ format: 'binary', description: 'One image (PNG, JPEG, GIF, WebP) or UTF-8 text file.' }) },
  { required: ['file'] },
);
