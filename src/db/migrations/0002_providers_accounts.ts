import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from './column-types.js';

/**
 * Workspace data keys, providers (with the official catalog), connected accounts, OAuth2
 * authorization states and the model catalog. The catalog below is frozen in time: a later
 * migration changes it (new models, new prices) rather than this one being edited.
 */
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  const double = dialect === 'postgres' ? 'double precision' : 'real';

  await db.schema
    .createTable('workspace_keys')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().unique().references('workspaces.id').onDelete('cascade'))
    .addColumn('wrapped_key', 'text', (c) => c.notNull())
    .addColumn('master_key_id', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('providers')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    // null: an official provider, shipped with the product.
    .addColumn('workspace_id', t.uuid, (c) => c.references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('slug', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('website', 'text')
    .addColumn('profile_photo_url', 'text')
    .addColumn('profile_photo_config', t.json, (c) => c.notNull())
    .addColumn('authentication_strategy', 'text', (c) =>
      c.notNull().check(sql`authentication_strategy in ('none', 'token', 'basic', 'oauth2')`),
    )
    .addColumn('authentication_config', t.json, (c) => c.notNull())
    .addColumn('client_secret_encrypted', 'text')
    .addColumn('is_enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('type', 'text', (c) => c.notNull().check(sql`type in ('large_language_model', 'tool', 'mcp_server')`))
    .addColumn('visibility', 'text', (c) => c.notNull().check(sql`visibility in ('private', 'workspace', 'public')`))
    .addColumn('metadata', t.json, (c) => c.notNull())
    .addColumn('is_official', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('is_featured', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('providers_workspace_id_slug_unique').on('providers').columns(['workspace_id', 'slug']).unique().execute();
  await db.schema
    .createIndex('providers_official_slug_unique')
    .on('providers')
    .column('slug')
    .unique()
    .where(sql.ref('workspace_id'), 'is', null)
    .execute();
  await db.schema.createIndex('providers_type_index').on('providers').column('type').execute();

  await db.schema
    .createTable('connected_accounts')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('provider_id', t.uuid, (c) => c.notNull().references('providers.id').onDelete('cascade'))
    .addColumn('provider_display_name', 'text', (c) => c.notNull())
    .addColumn('provider_authentication_strategy', 'text', (c) =>
      c.notNull().check(sql`provider_authentication_strategy in ('none', 'token', 'basic', 'oauth2')`),
    )
    .addColumn('provider_account_id', 'text')
    .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('private', 'public')`))
    .addColumn('base_url', 'text')
    .addColumn('username', 'text')
    // Secrets: `ath1:<key id>:<ciphertext>`, see SecretBox.
    .addColumn('token_encrypted', 'text')
    .addColumn('password_encrypted', 'text')
    .addColumn('access_token_encrypted', 'text')
    .addColumn('refresh_token_encrypted', 'text')
    .addColumn('token_expires_at', t.timestamp)
    .addColumn('oauth_scopes', 'text')
    .addColumn('verification_status', 'text', (c) =>
      c.notNull().defaultTo('unverified').check(sql`verification_status in ('unverified', 'verified', 'failed')`),
    )
    .addColumn('verification_error', 'text')
    .addColumn('verified_at', t.timestamp)
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('connected_accounts_workspace_id_user_id_index')
    .on('connected_accounts')
    .columns(['workspace_id', 'user_id'])
    .execute();
  await db.schema.createIndex('connected_accounts_provider_id_index').on('connected_accounts').column('provider_id').execute();

  await db.schema
    .createTable('oauth2_states')
    // SHA-256 of the state handed to the browser: a leaked table does not replay flows.
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('provider_id', t.uuid, (c) => c.notNull().references('providers.id').onDelete('cascade'))
    .addColumn('code_verifier_encrypted', 'text')
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('provider_display_name', 'text')
    .addColumn('expires_at', t.timestamp, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('models')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('provider_id', t.uuid, (c) => c.notNull().references('providers.id').onDelete('cascade'))
    // Both null for the official catalog; set for models a server listed when its account was verified.
    .addColumn('workspace_id', t.uuid, (c) => c.references('workspaces.id').onDelete('cascade'))
    .addColumn('account_id', t.uuid, (c) => c.references('connected_accounts.id').onDelete('cascade'))
    .addColumn('model_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('context_window', 'integer')
    .addColumn('max_output_tokens', 'integer')
    .addColumn('input_price_per_million', double)
    .addColumn('output_price_per_million', double)
    .addColumn('supports_tools', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('supports_vision', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('supports_json', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('supports_streaming', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('is_official', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('models_official_unique')
    .on('models')
    .columns(['provider_id', 'model_id'])
    .unique()
    .where(sql.ref('account_id'), 'is', null)
    .execute();
  await db.schema
    .createIndex('models_account_unique')
    .on('models')
    .columns(['account_id', 'model_id'])
    .unique()
    .where(sql.ref('account_id'), 'is not', null)
    .execute();
  await db.schema.createIndex('models_workspace_id_index').on('models').column('workspace_id').execute();

  await seedCatalog(db);
}

// ---------------------------------------------------------------------------------------------
// The official catalog as of this migration (prices in USD per million tokens, as published by
// each vendor in mid-2025). Never edited: a later migration updates or adds rows.
// ---------------------------------------------------------------------------------------------

const SEEDED_AT = '2025-07-01T00:00:00.000Z';

type Api = 'openai' | 'anthropic' | 'gemini' | 'ollama' | 'http' | 'mcp';

interface SeedProvider {
  id: string;
  slug: string;
  name: string;
  description: string;
  website: string;
  emoji: string;
  color: string;
  type: 'large_language_model' | 'tool' | 'mcp_server';
  strategy: 'none' | 'token';
  token?: { url: string; key: string; type: 'bearer' | 'header'; headers?: Record<string, string> };
  api: Api;
  defaultBaseUrl: string | null;
  baseUrlRequired: boolean;
  featured: boolean;
}

const bearer = (url: string) => ({ url, key: 'Authorization', type: 'bearer' as const });

const PROVIDERS: SeedProvider[] = [
  {
    id: '01980000-0000-7000-8000-000000000001',
    slug: 'openai',
    name: 'OpenAI',
    description: 'GPT and o-series models through the OpenAI API.',
    website: 'https://openai.com',
    emoji: '🤖',
    color: '#10A37F',
    type: 'large_language_model',
    strategy: 'token',
    token: bearer('https://api.openai.com/v1/models'),
    api: 'openai',
    defaultBaseUrl: 'https://api.openai.com/v1',
    baseUrlRequired: false,
    featured: true,
  },
  {
    id: '01980000-0000-7000-8000-000000000002',
    slug: 'anthropic',
    name: 'Anthropic',
    description: 'Claude models through the Anthropic Messages API.',
    website: 'https://www.anthropic.com',
    emoji: '🧠',
    color: '#D97757',
    type: 'large_language_model',
    strategy: 'token',
    token: { url: 'https://api.anthropic.com/v1/models', key: 'x-api-key', type: 'header', headers: { 'anthropic-version': '2023-06-01' } },
    api: 'anthropic',
    defaultBaseUrl: 'https://api.anthropic.com/v1',
    baseUrlRequired: false,
    featured: true,
  },
  {
    id: '01980000-0000-7000-8000-000000000003',
    slug: 'google-gemini',
    name: 'Google Gemini',
    description: 'Gemini models through the Gemini API (Google AI Studio keys).',
    website: 'https://ai.google.dev',
    emoji: '✨',
    color: '#4285F4',
    type: 'large_language_model',
    strategy: 'token',
    token: { url: 'https://generativelanguage.googleapis.com/v1beta/models', key: 'x-goog-api-key', type: 'header' },
    api: 'gemini',
    defaultBaseUrl: 'https://generativelanguage.googleapis.com/v1beta',
    baseUrlRequired: false,
    featured: true,
  },
  {
    id: '01980000-0000-7000-8000-000000000004',
    slug: 'mistral',
    name: 'Mistral AI',
    description: 'Mistral and Codestral models through La Plateforme.',
    website: 'https://mistral.ai',
    emoji: '🌬️',
    color: '#FA520F',
    type: 'large_language_model',
    strategy: 'token',
    token: bearer('https://api.mistral.ai/v1/models'),
    api: 'openai',
    defaultBaseUrl: 'https://api.mistral.ai/v1',
    baseUrlRequired: false,
    featured: false,
  },
  {
    id: '01980000-0000-7000-8000-000000000005',
    slug: 'groq',
    name: 'Groq',
    description: 'Open models served on Groq LPUs through its OpenAI-compatible API.',
    website: 'https://groq.com',
    emoji: '⚡',
    color: '#F55036',
    type: 'large_language_model',
    strategy: 'token',
    token: bearer('https://api.groq.com/openai/v1/models'),
    api: 'openai',
    defaultBaseUrl: 'https://api.groq.com/openai/v1',
    baseUrlRequired: false,
    featured: false,
  },
  {
    id: '01980000-0000-7000-8000-000000000006',
    slug: 'deepseek',
    name: 'DeepSeek',
    description: 'DeepSeek chat and reasoning models through its OpenAI-compatible API.',
    website: 'https://www.deepseek.com',
    emoji: '🐋',
    color: '#4D6BFE',
    type: 'large_language_model',
    strategy: 'token',
    token: bearer('https://api.deepseek.com/models'),
    api: 'openai',
    defaultBaseUrl: 'https://api.deepseek.com',
    baseUrlRequired: false,
    featured: false,
  },
  {
    id: '01980000-0000-7000-8000-000000000007',
    slug: 'openrouter',
    name: 'OpenRouter',
    description: 'Hundreds of models from many vendors behind one OpenAI-compatible API.',
    website: 'https://openrouter.ai',
    emoji: '🔀',
    color: '#6467F2',
    type: 'large_language_model',
    strategy: 'token',
    token: bearer('https://openrouter.ai/api/v1/models'),
    api: 'openai',
    defaultBaseUrl: 'https://openrouter.ai/api/v1',
    baseUrlRequired: false,
    featured: false,
  },
  {
    id: '01980000-0000-7000-8000-000000000008',
    slug: 'ollama',
    name: 'Ollama',
    description: 'Open models running on your own machine or server with Ollama.',
    website: 'https://ollama.com',
    emoji: '🦙',
    color: '#000000',
    type: 'large_language_model',
    strategy: 'none',
    api: 'ollama',
    defaultBaseUrl: 'http://127.0.0.1:11434',
    baseUrlRequired: false,
    featured: false,
  },
  {
    id: '01980000-0000-7000-8000-000000000009',
    slug: 'openai-compatible',
    name: 'OpenAI-compatible server',
    description: 'Any server speaking the OpenAI API: vLLM, LM Studio, llama.cpp server, LocalAI and others.',
    website: 'https://platform.openai.com/docs/api-reference',
    emoji: '🔌',
    color: '#6B7280',
    type: 'large_language_model',
    strategy: 'token',
    token: bearer('{base_url}/models'),
    api: 'openai',
    defaultBaseUrl: null,
    baseUrlRequired: true,
    featured: false,
  },
  {
    id: '01980000-0000-7000-8000-00000000000a',
    slug: 'http',
    name: 'HTTP API',
    description: 'Call any HTTP API as a tool, with an optional token sent as a header.',
    website: 'https://developer.mozilla.org/en-US/docs/Web/HTTP',
    emoji: '🌐',
    color: '#0EA5E9',
    type: 'tool',
    strategy: 'none',
    api: 'http',
    defaultBaseUrl: null,
    baseUrlRequired: false,
    featured: false,
  },
  {
    id: '01980000-0000-7000-8000-00000000000b',
    slug: 'mcp',
    name: 'MCP server',
    description: 'Tools of a Model Context Protocol server (streamable HTTP transport).',
    website: 'https://modelcontextprotocol.io',
    emoji: '🧩',
    color: '#111827',
    type: 'mcp_server',
    strategy: 'none',
    api: 'mcp',
    defaultBaseUrl: null,
    baseUrlRequired: true,
    featured: false,
  },
];

interface SeedModel {
  provider: string;
  id: string;
  name: string;
  context: number;
  maxOutput: number;
  input: number;
  output: number;
  tools: boolean;
  vision: boolean;
  json: boolean;
  streaming?: boolean;
}

const MODELS: SeedModel[] = [
  { provider: 'openai', id: 'gpt-4.1', name: 'GPT-4.1', context: 1_047_576, maxOutput: 32_768, input: 2, output: 8, tools: true, vision: true, json: true },
  { provider: 'openai', id: 'gpt-4.1-mini', name: 'GPT-4.1 mini', context: 1_047_576, maxOutput: 32_768, input: 0.4, output: 1.6, tools: true, vision: true, json: true },
  { provider: 'openai', id: 'gpt-4.1-nano', name: 'GPT-4.1 nano', context: 1_047_576, maxOutput: 32_768, input: 0.1, output: 0.4, tools: true, vision: true, json: true },
  { provider: 'openai', id: 'gpt-4o', name: 'GPT-4o', context: 128_000, maxOutput: 16_384, input: 2.5, output: 10, tools: true, vision: true, json: true },
  { provider: 'openai', id: 'gpt-4o-mini', name: 'GPT-4o mini', context: 128_000, maxOutput: 16_384, input: 0.15, output: 0.6, tools: true, vision: true, json: true },
  { provider: 'openai', id: 'o3', name: 'o3', context: 200_000, maxOutput: 100_000, input: 2, output: 8, tools: true, vision: true, json: true },
  { provider: 'openai', id: 'o4-mini', name: 'o4-mini', context: 200_000, maxOutput: 100_000, input: 1.1, output: 4.4, tools: true, vision: true, json: true },
  { provider: 'anthropic', id: 'claude-opus-4-20250514', name: 'Claude Opus 4', context: 200_000, maxOutput: 32_000, input: 15, output: 75, tools: true, vision: true, json: false },
  { provider: 'anthropic', id: 'claude-sonnet-4-20250514', name: 'Claude Sonnet 4', context: 200_000, maxOutput: 64_000, input: 3, output: 15, tools: true, vision: true, json: false },
  { provider: 'anthropic', id: 'claude-3-7-sonnet-20250219', name: 'Claude Sonnet 3.7', context: 200_000, maxOutput: 64_000, input: 3, output: 15, tools: true, vision: true, json: false },
  { provider: 'anthropic', id: 'claude-3-5-haiku-20241022', name: 'Claude Haiku 3.5', context: 200_000, maxOutput: 8_192, input: 0.8, output: 4, tools: true, vision: true, json: false },
  { provider: 'google-gemini', id: 'gemini-2.5-pro', name: 'Gemini 2.5 Pro', context: 1_048_576, maxOutput: 65_536, input: 1.25, output: 10, tools: true, vision: true, json: true },
  { provider: 'google-gemini', id: 'gemini-2.5-flash', name: 'Gemini 2.5 Flash', context: 1_048_576, maxOutput: 65_536, input: 0.3, output: 2.5, tools: true, vision: true, json: true },
  { provider: 'google-gemini', id: 'gemini-2.0-flash', name: 'Gemini 2.0 Flash', context: 1_048_576, maxOutput: 8_192, input: 0.1, output: 0.4, tools: true, vision: true, json: true },
  { provider: 'mistral', id: 'mistral-large-latest', name: 'Mistral Large', context: 131_072, maxOutput: 131_072, input: 2, output: 6, tools: true, vision: false, json: true },
  { provider: 'mistral', id: 'mistral-medium-latest', name: 'Mistral Medium 3', context: 131_072, maxOutput: 131_072, input: 0.4, output: 2, tools: true, vision: true, json: true },
  { provider: 'mistral', id: 'mistral-small-latest', name: 'Mistral Small 3.1', context: 131_072, maxOutput: 131_072, input: 0.1, output: 0.3, tools: true, vision: true, json: true },
  { provider: 'mistral', id: 'codestral-latest', name: 'Codestral', context: 262_144, maxOutput: 262_144, input: 0.3, output: 0.9, tools: true, vision: false, json: true },
  { provider: 'groq', id: 'llama-3.3-70b-versatile', name: 'Llama 3.3 70B Versatile', context: 131_072, maxOutput: 32_768, input: 0.59, output: 0.79, tools: true, vision: false, json: true },
  { provider: 'groq', id: 'llama-3.1-8b-instant', name: 'Llama 3.1 8B Instant', context: 131_072, maxOutput: 131_072, input: 0.05, output: 0.08, tools: true, vision: false, json: true },
  { provider: 'deepseek', id: 'deepseek-chat', name: 'DeepSeek-V3', context: 65_536, maxOutput: 8_192, input: 0.27, output: 1.1, tools: true, vision: false, json: true },
  { provider: 'deepseek', id: 'deepseek-reasoner', name: 'DeepSeek-R1', context: 65_536, maxOutput: 65_536, input: 0.55, output: 2.19, tools: false, vision: false, json: true },
  { provider: 'openrouter', id: 'openai/gpt-4o-mini', name: 'OpenAI: GPT-4o mini', context: 128_000, maxOutput: 16_384, input: 0.15, output: 0.6, tools: true, vision: true, json: true },
  { provider: 'openrouter', id: 'anthropic/claude-sonnet-4', name: 'Anthropic: Claude Sonnet 4', context: 200_000, maxOutput: 64_000, input: 3, output: 15, tools: true, vision: true, json: false },
  { provider: 'openrouter', id: 'meta-llama/llama-3.3-70b-instruct', name: 'Meta: Llama 3.3 70B Instruct', context: 131_072, maxOutput: 16_384, input: 0.12, output: 0.3, tools: true, vision: false, json: true },
  { provider: 'ollama', id: 'llama3.2', name: 'Llama 3.2 3B', context: 131_072, maxOutput: 131_072, input: 0, output: 0, tools: true, vision: false, json: true },
  { provider: 'ollama', id: 'llama3.1:8b', name: 'Llama 3.1 8B', context: 131_072, maxOutput: 131_072, input: 0, output: 0, tools: true, vision: false, json: true },
  { provider: 'ollama', id: 'qwen2.5:7b', name: 'Qwen 2.5 7B', context: 32_768, maxOutput: 8_192, input: 0, output: 0, tools: true, vision: false, json: true },
  { provider: 'ollama', id: 'gemma3:4b', name: 'Gemma 3 4B', context: 131_072, maxOutput: 8_192, input: 0, output: 0, tools: false, vision: true, json: true },
];

/** Deterministic ids, so a later migration can address the rows it updates. */
function modelUuid(index: number): string {
  return `01980000-0000-7000-8001-${(index + 1).toString(16).padStart(12, '0')}`;
}

async function seedCatalog(db: Kysely<any>): Promise<void> {
  const byslug = new Map<string, string>();
  for (const p of PROVIDERS) {
    byslug.set(p.slug, p.id);
    await db
      .insertInto('providers')
      .values({
        id: p.id,
        workspace_id: null,
        user_id: null,
        slug: p.slug,
        name: p.name,
        description: p.description,
        website: p.website,
        profile_photo_url: null,
        profile_photo_config: JSON.stringify({ emoji: p.emoji, background_color: p.color, preference: 'emoji' }),
        authentication_strategy: p.strategy,
        authentication_config: JSON.stringify(
          p.token ? { token: { url: p.token.url, key: p.token.key, type: p.token.type, headers: p.token.headers ?? {}, params: {}, body: {} } } : {},
        ),
        client_secret_encrypted: null,
        is_enabled: true,
        type: p.type,
        visibility: 'public',
        metadata: JSON.stringify({
          tool_groups: [],
          is_official: true,
          is_featured: p.featured,
          api: p.api,
          default_base_url: p.defaultBaseUrl,
          base_url_required: p.baseUrlRequired,
        }),
        is_official: true,
        is_featured: p.featured,
        created_at: SEEDED_AT,
        updated_at: SEEDED_AT,
      })
      .execute();
  }
  for (const [index, m] of MODELS.entries()) {
    await db
      .insertInto('models')
      .values({
        id: modelUuid(index),
        provider_id: byslug.get(m.provider),
        workspace_id: null,
        account_id: null,
        model_id: m.id,
        name: m.name,
        description: null,
        context_window: m.context,
        max_output_tokens: m.maxOutput,
        input_price_per_million: m.input,
        output_price_per_million: m.output,
        supports_tools: m.tools,
        supports_vision: m.vision,
        supports_json: m.json,
        supports_streaming: m.streaming ?? true,
        is_official: true,
        created_at: SEEDED_AT,
        updated_at: SEEDED_AT,
      })
      .execute();
  }
}
