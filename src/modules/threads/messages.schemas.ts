import { Type, type Static } from 'typebox';
import { ListQuery } from '../../http/pagination.js';
import { Body, Envelope, NullableInteger, NullableNumber, NullableString, StringEnum, Timestamp, Uuid, named } from '../../http/schemas.js';
import { Attachment } from '../media/media.schemas.js';
import { MAX_ATTACHMENTS } from '../media/media.service.js';
import { UserLeaf } from '../users/user.shape.js';
import { Metadata } from './threads.schemas.js';
import { MESSAGE_ROLES, MESSAGE_STATUSES } from './threads.table.js';

export const MessageRoleSchema = StringEnum(MESSAGE_ROLES);
/** `up`, `down` or null (none given), as one enum: a clean 422 for anything else. */
function Feedback(options: Record<string, unknown> = {}) {
  return Type.Unsafe<'up' | 'down' | null>({ type: ['string', 'null'], enum: ['up', 'down', null], ...options });
}
export const MAX_CONTENT_LENGTH = 100_000;

const ToolCall = Type.Object({
  id: Type.String({ description: 'The id the model gave the call; the tool message answering it carries it as `tool_call_id`.' }),
  name: Type.String({ examples: ['search_accounts'] }),
  input: Type.Unknown({ description: 'The arguments the model passed, validated against the tool’s input schema.' }),
});

const ToolResult = Type.Object({
  tool_call_id: Type.String(),
  name: Type.String(),
  output: Type.Unknown({ description: 'What the tool returned, or its error message when `is_error`.' }),
  is_error: Type.Boolean(),
});

const Usage = Type.Object(
  {
    input_tokens: NullableInteger({ minimum: 0 }),
    output_tokens: NullableInteger({ minimum: 0 }),
    cost: NullableNumber({ minimum: 0, description: 'In US dollars, from the model catalog’s prices per million tokens.' }),
    latency_ms: NullableInteger({ minimum: 0 }),
  },
  { description: 'What producing the message cost; null for messages no model produced.' },
);

export const Message = named(
  'Message',
  Type.Object({
    uuid: Uuid,
    thread_uuid: Uuid,
    run_uuid: NullableString({ format: 'uuid', description: 'The run that produced the message, if any.' }),
    sequence: Type.Integer({ minimum: 1, description: 'Position in the thread; the conversation reads in this order.' }),
    role: MessageRoleSchema,
    content: Type.String(),
    tool_calls: Type.Union([Type.Array(ToolCall), Type.Null()], { description: 'Assistant messages: the tools the model called.' }),
    tool_result: Type.Union([ToolResult, Type.Null()], { description: 'Tool messages: the result handed back to the model.' }),
    status: StringEnum(MESSAGE_STATUSES, {
      description: '`incomplete`: the reply was cut off (client gone, run cancelled); `failed`: the model call failed.',
    }),
    attachments: Type.Array(Attachment),
    llm_uuid: NullableString({ format: 'uuid' }),
    model_id: NullableString({ examples: ['gpt-4o-mini'] }),
    usage: Type.Union([Usage, Type.Null()]),
    feedback: Feedback({ description: 'Assistant messages: a reader’s rating, counted by the agent leaderboard.' }),
    feedback_comment: NullableString(),
    metadata: Metadata,
    user: Type.Union([UserLeaf, Type.Null()], { description: 'The author of a user message.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
);
export type MessageResource = Static<typeof Message>;

const Content = Type.String({ minLength: 1, maxLength: MAX_CONTENT_LENGTH });

export const CreateMessageBody = Body({
  role: Type.Optional(StringEnum(['user', 'assistant', 'system'] as const, { default: 'user' })),
  content: Content,
  attachments: Type.Optional(
    Type.Array(Uuid, { maxItems: MAX_ATTACHMENTS, description: 'Media uuids (`POST /api/v1/media`), in order.' }),
  ),
  metadata: Type.Optional(Metadata),
});
export type CreateMessageInput = Static<typeof CreateMessageBody>;

export const UpdateMessageBody = Body({
  content: Type.Optional(Content),
  metadata: Type.Optional(Metadata),
  feedback: Type.Optional(Feedback({ description: '`up` or `down`; null takes the feedback (and its comment) back.' })),
  feedback_comment: Type.Optional(NullableString({ maxLength: 2000 })),
});
export type UpdateMessageInput = Static<typeof UpdateMessageBody>;

export const MessageParams = Type.Object({ thread_uuid: Uuid, message_uuid: Uuid });

export const MessageListQuery = ListQuery(['sequence'], {
  role: Type.Optional(MessageRoleSchema),
});

export const MessageEnvelope = Envelope(Message);
