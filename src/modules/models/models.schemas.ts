import { Type, type Static } from 'typebox';
import { ListQuery } from '../../http/pagination.js';
import { Envelope, NullableInteger, NullableNumber, NullableString, StringEnum, Timestamp, Uuid, named } from '../../http/schemas.js';
import { Provider } from '../providers/providers.schemas.js';

export const CAPABILITIES = ['tools', 'vision', 'json', 'streaming'] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Seed 004's LargeLanguageModel: one model of the catalog with its provider. */
export const LargeLanguageModel = named(
  'LargeLanguageModel',
  Type.Object({
    uuid: Uuid,
    model_id: Type.String({ description: 'The id the provider’s API takes.', examples: ['gpt-4o-mini'] }),
    name: Type.String({ examples: ['GPT-4o mini'] }),
    description: NullableString(),
    provider: Provider,
    context_window: NullableInteger({ description: 'Tokens of input and output the model can attend to.' }),
    max_output_tokens: NullableInteger(),
    input_price_per_million: NullableNumber({ description: 'USD per million input tokens; null when unknown.' }),
    output_price_per_million: NullableNumber({ description: 'USD per million output tokens; null when unknown.' }),
    capabilities: Type.Object({
      tools: Type.Boolean(),
      vision: Type.Boolean(),
      json: Type.Boolean(),
      streaming: Type.Boolean(),
    }),
    is_official: Type.Boolean({ description: 'Part of the shipped catalog; false for models a verified account’s server listed.' }),
    account_uuid: NullableString({ format: 'uuid', description: 'The account whose server listed this model.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
);
export type LargeLanguageModelResource = Static<typeof LargeLanguageModel>;

const listQuery = ListQuery(['name', 'model_id', 'context_window', 'input_price_per_million', 'output_price_per_million', 'created_at'], {
  provider: Type.Optional(Type.String({ maxLength: 100, description: 'Provider uuid or slug.' })),
  capability: Type.Optional(StringEnum(CAPABILITIES)),
  account: Type.Optional(Uuid),
  is_official: Type.Optional(Type.Boolean()),
});

export const ModelListQuery = Type.Object({
  ...listQuery.properties,
  provider: Type.Optional(Type.String({ maxLength: 100, description: 'Provider uuid or slug (same as `filter[provider]`).' })),
  capability: Type.Optional(StringEnum(CAPABILITIES, { description: 'Same as `filter[capability]`.' })),
});

export const ModelParams = Type.Object({ llm_uuid: Uuid });
export const ModelEnvelope = Envelope(LargeLanguageModel);
