import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from './column-types.js';

/**
 * The AI runtime: prompts (with versions), agents, shares, threads, runs, messages, media,
 * memories (with full-text search on both databases), tools and the workspace's AI settings.
 */
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  const double = dialect === 'postgres' ? 'double precision' : 'real';
  const run = (query: RawBuilder<unknown>) => query.execute(db);
  const visibility = (values: string) => sql`visibility in (${sql.raw(values)})`;

  await db.schema
    .createTable('prompts')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('content', 'text', (c) => c.notNull())
    // [{name, description, default, required}]; `variables_declared` false: inferred from content.
    .addColumn('variables', t.json, (c) => c.notNull())
    .addColumn('variables_declared', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('llm_id', t.uuid, (c) => c.references('models.id').onDelete('set null'))
    .addColumn('account_id', t.uuid, (c) => c.references('connected_accounts.id').onDelete('set null'))
    // {temperature, max_tokens, json_output}
    .addColumn('settings', t.json, (c) => c.notNull())
    .addColumn('visibility', 'text', (c) => c.notNull().check(visibility(`'private', 'workspace', 'public'`)))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('profile_photo_config', t.json, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await run(sql`create index prompts_workspace_index on prompts (workspace_id, id)`);

  await db.schema
    .createTable('prompt_versions')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('prompt_id', t.uuid, (c) => c.notNull().references('prompts.id').onDelete('cascade'))
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('variables', t.json, (c) => c.notNull())
    .addColumn('llm_id', t.uuid, (c) => c.references('models.id').onDelete('set null'))
    .addColumn('account_id', t.uuid, (c) => c.references('connected_accounts.id').onDelete('set null'))
    .addColumn('settings', t.json, (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();
  await run(sql`create unique index prompt_versions_number_unique on prompt_versions (prompt_id, version)`);

  await db.schema
    .createTable('agents')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('instructions', 'text', (c) => c.notNull())
    .addColumn('llm_id', t.uuid, (c) => c.references('models.id').onDelete('set null'))
    .addColumn('account_id', t.uuid, (c) => c.references('connected_accounts.id').onDelete('set null'))
    // Tool uuids, in the order the model sees them.
    .addColumn('tools', t.json, (c) => c.notNull())
    // {enabled, retrieve_limit, write}
    .addColumn('memory', t.json, (c) => c.notNull())
    // {temperature, max_tokens, max_steps}
    .addColumn('settings', t.json, (c) => c.notNull())
    .addColumn('profile_photo_url', 'text')
    .addColumn('profile_photo_config', t.json, (c) => c.notNull())
    .addColumn('visibility', 'text', (c) => c.notNull().check(visibility(`'private', 'workspace', 'public'`)))
    .addColumn('metadata', t.json, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await run(sql`create index agents_workspace_index on agents (workspace_id, id)`);

  // Grants on a shareable resource (agents now, workflows later). One row per grantee.
  await db.schema
    .createTable('shares')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('resource_type', 'text', (c) => c.notNull().check(sql`resource_type in ('agent', 'workflow', 'prompt')`))
    .addColumn('resource_id', t.uuid, (c) => c.notNull())
    .addColumn('grantee_type', 'text', (c) => c.notNull().check(sql`grantee_type in ('user', 'workspace', 'public')`))
    .addColumn('grantee_user_id', 'integer', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('grantee_workspace_id', t.uuid, (c) => c.references('workspaces.id').onDelete('cascade'))
    .addColumn('permission', 'text', (c) => c.notNull().check(sql`permission in ('view', 'run', 'edit')`))
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await run(sql`create unique index shares_user_unique on shares (resource_type, resource_id, grantee_user_id) where grantee_type = 'user'`);
  await run(sql`create unique index shares_workspace_unique on shares (resource_type, resource_id, grantee_workspace_id) where grantee_type = 'workspace'`);
  await run(sql`create unique index shares_public_unique on shares (resource_type, resource_id) where grantee_type = 'public'`);
  await run(sql`create index shares_grantee_user_index on shares (grantee_user_id, resource_type) where grantee_user_id is not null`);
  await run(sql`create index shares_grantee_workspace_index on shares (grantee_workspace_id, resource_type) where grantee_workspace_id is not null`);

  await db.schema
    .createTable('threads')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('agent_id', t.uuid, (c) => c.references('agents.id').onDelete('set null'))
    .addColumn('name', 'text')
    .addColumn('visibility', 'text', (c) => c.notNull().check(visibility(`'private', 'workspace'`)))
    .addColumn('metadata', t.json, (c) => c.notNull())
    .addColumn('message_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_message_at', t.timestamp)
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await run(sql`create index threads_workspace_index on threads (workspace_id, id)`);
  await run(sql`create index threads_agent_index on threads (workspace_id, agent_id, id)`);

  // One model interaction: an agent or thread run (tool loop) or a prompt run.
  await db.schema
    .createTable('runs')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('agent', 'thread', 'prompt', 'generate')`))
    .addColumn('agent_id', t.uuid, (c) => c.references('agents.id').onDelete('set null'))
    .addColumn('thread_id', t.uuid, (c) => c.references('threads.id').onDelete('cascade'))
    .addColumn('prompt_id', t.uuid, (c) => c.references('prompts.id').onDelete('set null'))
    .addColumn('prompt_version', 'integer')
    .addColumn('llm_id', t.uuid, (c) => c.references('models.id').onDelete('set null'))
    .addColumn('account_id', t.uuid, (c) => c.references('connected_accounts.id').onDelete('set null'))
    .addColumn('provider_slug', 'text')
    .addColumn('model_id', 'text')
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('queued', 'running', 'completed', 'incomplete', 'failed', 'cancelled')`),
    )
    .addColumn('finish_reason', 'text')
    .addColumn('error', 'text')
    .addColumn('idempotency_key', 'text')
    .addColumn('request_hash', 'text')
    // The reply's text, and its parsed value when the run asked for JSON.
    .addColumn('output', 'text')
    .addColumn('output_json', t.json)
    // The status and body a retried request with the same Idempotency-Key gets back.
    .addColumn('response', t.json)
    .addColumn('input_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('output_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cost', double, (c) => c.notNull().defaultTo(0))
    .addColumn('latency_ms', 'integer')
    .addColumn('ttft_ms', 'integer')
    .addColumn('steps', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('tool_calls', 'integer', (c) => c.notNull().defaultTo(0))
    // A live run renews its lease; one whose lease ran out died with its process.
    .addColumn('lease_expires_at', t.timestamp)
    .addColumn('cancel_requested', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('started_at', t.timestamp)
    .addColumn('finished_at', t.timestamp)
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await run(sql`create unique index runs_idempotency_unique on runs (workspace_id, user_id, idempotency_key) where idempotency_key is not null`);
  // At most one run in flight per thread: the database settles races between processes.
  await run(sql`create unique index runs_thread_active_unique on runs (thread_id) where status = 'running'`);
  await run(sql`create index runs_agent_index on runs (workspace_id, agent_id, created_at) where agent_id is not null`);
  await run(sql`create index runs_workspace_index on runs (workspace_id, created_at)`);
  await run(sql`create index runs_thread_index on runs (thread_id, created_at)`);

  await db.schema
    .createTable('media')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('filename', 'text', (c) => c.notNull())
    .addColumn('mime_type', 'text', (c) => c.notNull())
    .addColumn('size_bytes', 'integer', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('image', 'text')`))
    // Path under <data dir>/media.
    .addColumn('storage_key', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await run(sql`create index media_workspace_index on media (workspace_id, id)`);

  await db.schema
    .createTable('messages')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('thread_id', t.uuid, (c) => c.notNull().references('threads.id').onDelete('cascade'))
    .addColumn('run_id', t.uuid, (c) => c.references('runs.id').onDelete('set null'))
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('agent_id', t.uuid, (c) => c.references('agents.id').onDelete('set null'))
    // Position in the thread: the conversation is read back in this order.
    .addColumn('sequence', 'integer', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('system', 'user', 'assistant', 'tool')`))
    .addColumn('content', 'text', (c) => c.notNull())
    // Assistant: [{id, name, input}] tool calls; tool: {tool_call_id, name, output, is_error}.
    .addColumn('tool_calls', t.json)
    .addColumn('tool_result', t.json)
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('completed', 'incomplete', 'failed')`))
    .addColumn('llm_id', t.uuid, (c) => c.references('models.id').onDelete('set null'))
    .addColumn('model_id', 'text')
    .addColumn('input_tokens', 'integer')
    .addColumn('output_tokens', 'integer')
    .addColumn('cost', double)
    .addColumn('latency_ms', 'integer')
    .addColumn('feedback', 'text', (c) => c.check(sql`feedback in ('up', 'down')`))
    .addColumn('feedback_comment', 'text')
    .addColumn('feedback_at', t.timestamp)
    .addColumn('metadata', t.json, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await run(sql`create unique index messages_thread_sequence_unique on messages (thread_id, sequence)`);
  await run(sql`create index messages_workspace_index on messages (workspace_id, id)`);
  await run(sql`create index messages_run_index on messages (run_id) where run_id is not null`);
  await run(sql`create index messages_feedback_index on messages (agent_id, feedback) where feedback is not null`);

  await db.schema
    .createTable('message_attachments')
    .addColumn('message_id', t.uuid, (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('media_id', t.uuid, (c) => c.notNull().references('media.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('message_attachments_pk', ['message_id', 'media_id'])
    .execute();
  await run(sql`create index message_attachments_media_index on message_attachments (media_id)`);

  await db.schema
    .createTable('memories')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('agent_id', t.uuid, (c) => c.references('agents.id').onDelete('cascade'))
    // null: the agent's own knowledge (training), shared by everyone who runs it.
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('thread_id', t.uuid, (c) => c.references('threads.id').onDelete('set null'))
    .addColumn('type', 'text', (c) => c.notNull().check(sql`type in ('fact', 'example', 'document')`))
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('tool', 'training', 'api')`))
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('metadata', t.json, (c) => c.notNull())
    .addColumn('embedding_model', 'text')
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    // Little-endian float32 vector, present when the workspace has an embedding model. Last, so
    // SQLite reads every other column without loading the vector's overflow pages.
    .addColumn('embedding', dialect === 'postgres' ? 'bytea' : 'blob')
    .execute();
  await run(sql`create index memories_agent_index on memories (workspace_id, agent_id, id)`);
  await run(sql`create index memories_user_index on memories (workspace_id, user_id, id)`);
  if (dialect === 'postgres') {
    await run(sql`alter table memories add column search tsvector generated always as (to_tsvector('english', content)) stored`);
    await run(sql`create index memories_search_index on memories using gin (search)`);
  } else {
    // Porter stemming over unicode61 words, like PostgreSQL's english configuration.
    await run(sql.raw(`create virtual table memories_fts using fts5(content, content='memories', content_rowid='rowid', tokenize='porter unicode61')`));
    await run(sql.raw(`create trigger memories_fts_insert after insert on memories begin
      insert into memories_fts (rowid, content) values (new.rowid, new.content); end`));
    await run(sql.raw(`create trigger memories_fts_delete after delete on memories begin
      insert into memories_fts (memories_fts, rowid, content) values ('delete', old.rowid, old.content); end`));
    await run(sql.raw(`create trigger memories_fts_update after update of content on memories begin
      insert into memories_fts (memories_fts, rowid, content) values ('delete', old.rowid, old.content);
      insert into memories_fts (rowid, content) values (new.rowid, new.content); end`));
  }

  // Callable actions defined in the workspace: HTTP tools of custom providers and the tools an
  // MCP server listed when its account was verified. Built-in tools live in code.
  await db.schema
    .createTable('tools')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('workspace_id', t.uuid, (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('provider_id', t.uuid, (c) => c.notNull().references('providers.id').onDelete('cascade'))
    // mcp: the account whose server listed the tool; the tool goes with it.
    .addColumn('account_id', t.uuid, (c) => c.references('connected_accounts.id').onDelete('cascade'))
    // http: the account whose credentials are injected; the tool stays when that account goes.
    .addColumn('default_account_id', t.uuid, (c) => c.references('connected_accounts.id').onDelete('set null'))
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('http', 'mcp')`))
    // The function name the model calls.
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('input_schema', t.json, (c) => c.notNull())
    // http: {method, url, headers, query, body}; mcp: {name}
    .addColumn('config', t.json, (c) => c.notNull())
    .addColumn('is_enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await run(sql`create unique index tools_http_name_unique on tools (provider_id, name) where kind = 'http'`);
  await run(sql`create unique index tools_mcp_name_unique on tools (account_id, name) where kind = 'mcp'`);
  await run(sql`create index tools_workspace_index on tools (workspace_id, id)`);

  // The workspace's embedding model, used for memory retrieval beside full-text search.
  await db.schema
    .createTable('workspace_ai_settings')
    .addColumn('workspace_id', t.uuid, (c) => c.primaryKey().references('workspaces.id').onDelete('cascade'))
    .addColumn('embedding_account_id', t.uuid, (c) => c.references('connected_accounts.id').onDelete('set null'))
    .addColumn('embedding_model', 'text')
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
}
