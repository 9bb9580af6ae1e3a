import { Type, type Static } from 'typebox';
import { ListQuery, MAX_PER_PAGE, DEFAULT_PER_PAGE } from '../../http/pagination.js';
import {
  Body,
  Envelope,
  NullableInteger,
  NullableNumber,
  NullableString,
  StringEnum,
  Timestamp,
  Uuid,
  named,
} from '../../http/schemas.js';
import { ProfilePhotoConfig } from '../providers/providers.schemas.js';
import { UserLeaf } from '../users/user.shape.js';
import { PROMPT_VISIBILITIES } from './prompts.table.js';
import { TEMPLATE_LIMITS, VARIABLE_NAME_PATTERN } from './template.js';

export const MAX_VARIABLES = 100;

export const PromptVisibilitySchema = StringEnum(PROMPT_VISIBILITIES, {
  description:
    '`private`: its creator only; `workspace`: every member of the workspace; `public`: also any signed-in user of the instance who has its uuid (read only).',
});

export const PromptVariable = named(
  'PromptVariable',
  Type.Object({
    name: Type.String({ examples: ['customer_name'] }),
    description: NullableString(),
    default: Type.Unknown({ description: 'Used when a run does not give the variable; null: no default.' }),
    required: Type.Boolean({ description: 'A run without it (and without a default) answers 422 naming it.' }),
  }),
);
export type PromptVariableResource = Static<typeof PromptVariable>;

export const PromptSettings = named(
  'PromptSettings',
  Type.Object({
    temperature: NullableNumber({ minimum: 0, maximum: 2, description: 'null: the provider’s default.' }),
    max_tokens: NullableInteger({ minimum: 1, maximum: 1_000_000, description: 'Most output tokens; null: the model’s limit.' }),
    json_output: Type.Boolean({ description: 'Ask the model for a JSON object (the model must support JSON output).' }),
  }),
);
export type PromptSettingsValue = Static<typeof PromptSettings>;

const modelFields = {
  llm_uuid: NullableString({ format: 'uuid', description: 'The default model (a `LargeLanguageModel`); null when none.' }),
  account_uuid: NullableString({ format: 'uuid', description: 'The default connected account the model is called with; null when none.' }),
};

export const Prompt = named(
  'Prompt',
  Type.Object({
    uuid: Uuid,
    name: Type.String({ examples: ['Support reply'] }),
    description: NullableString(),
    content: Type.String({ description: 'A LiquidJS template.', examples: ['Write a reply to {{ customer_name }} about: {{ issue }}'] }),
    variables: Type.Array(PromptVariable),
    variables_declared: Type.Boolean({ description: 'false when the variables were inferred from the template.' }),
    ...modelFields,
    settings: PromptSettings,
    visibility: PromptVisibilitySchema,
    version: Type.Integer({ minimum: 1, description: 'The current version; every change to content, variables, settings or model adds one.' }),
    profile_photo_config: ProfilePhotoConfig,
    is_owner: Type.Boolean({ description: 'The caller created it.' }),
    user: Type.Union([UserLeaf, Type.Null()], { description: 'Its creator; null once that user is deleted.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
);
export type PromptResource = Static<typeof Prompt>;

export const PromptVersion = named(
  'PromptVersion',
  Type.Object({
    version: Type.Integer({ minimum: 1 }),
    content: Type.String(),
    variables: Type.Array(PromptVariable),
    ...modelFields,
    settings: PromptSettings,
    user: Type.Union([UserLeaf, Type.Null()], { description: 'Who made this version; null once that user is deleted.' }),
    created_at: Timestamp,
  }),
);
export type PromptVersionResource = Static<typeof PromptVersion>;

const VariableInput = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: VARIABLE_NAME_PATTERN }),
    description: Type.Optional(NullableString({ maxLength: 1000 })),
    default: Type.Optional(Type.Unknown({ description: 'Any JSON value; null or left out: no default.' })),
    required: Type.Optional(Type.Boolean({ description: 'Defaults to true without a default, false with one.' })),
  },
  { additionalProperties: false },
);
export type PromptVariableInput = Static<typeof VariableInput>;

/** An array, or null to go back to variables inferred from the template. */
const VariablesInput = Type.Unsafe<PromptVariableInput[] | null>({
  type: ['array', 'null'],
  items: VariableInput,
  maxItems: MAX_VARIABLES,
  description: 'Declared variables (authoritative: the template may use no others). Left out on create, or null: inferred from the template.',
});

const SettingsInput = Type.Object(
  {
    temperature: Type.Optional(NullableNumber({ minimum: 0, maximum: 2 })),
    max_tokens: Type.Optional(NullableInteger({ minimum: 1, maximum: 1_000_000 })),
    json_output: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, description: 'Fields left out keep their value (on create: null, null, false).' },
);
export type PromptSettingsInput = Static<typeof SettingsInput>;

const Name = Type.String({ minLength: 1, maxLength: 255 });
const Description = NullableString({ maxLength: 2000 });
const Content = Type.String({ minLength: 1, maxLength: TEMPLATE_LIMITS.maxLength, description: 'A LiquidJS template.' });
const ModelId = NullableString({ format: 'uuid' });

export const CreatePromptBody = Body({
  name: Name,
  description: Type.Optional(Description),
  content: Content,
  variables: Type.Optional(VariablesInput),
  llm_uuid: Type.Optional(ModelId),
  account_uuid: Type.Optional(ModelId),
  settings: Type.Optional(SettingsInput),
  visibility: Type.Optional(PromptVisibilitySchema),
  profile_photo_config: Type.Optional(ProfilePhotoConfig),
});
export type CreatePromptInput = Static<typeof CreatePromptBody>;

export const UpdatePromptBody = Body({
  name: Type.Optional(Name),
  description: Type.Optional(Description),
  content: Type.Optional(Content),
  variables: Type.Optional(VariablesInput),
  llm_uuid: Type.Optional(ModelId),
  account_uuid: Type.Optional(ModelId),
  settings: Type.Optional(SettingsInput),
  visibility: Type.Optional(PromptVisibilitySchema),
  profile_photo_config: Type.Optional(ProfilePhotoConfig),
});
export type UpdatePromptInput = Static<typeof UpdatePromptBody>;

export const PromptListQuery = ListQuery(['name', 'created_at', 'updated_at'], {
  visibility: Type.Optional(PromptVisibilitySchema),
  mine: Type.Optional(Type.Boolean({ description: 'Only the prompts the caller created.' })),
});

export const PromptVersionListQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
  per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PER_PAGE, default: DEFAULT_PER_PAGE })),
  cursor: Type.Optional(Type.String({ maxLength: 1024, description: 'Ask for a cursor page; empty for the first one.' })),
  sort: Type.Optional(StringEnum(['version', '-version'] as const)),
});

export const PromptParams = Type.Object({ prompt_uuid: Uuid });
export const PromptVersionParams = Type.Object({ prompt_uuid: Uuid, version: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });

export const PromptEnvelope = Envelope(Prompt);
export const PromptVersionEnvelope = Envelope(PromptVersion);
