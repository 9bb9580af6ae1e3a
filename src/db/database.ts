import fs from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import type { Config } from '../config.js';
import type { UsersTable } from '../modules/users/users.table.js';
import type { WorkspacesTable, WorkspaceMembersTable } from '../modules/workspaces/workspaces.table.js';
import type { AccessTokensTable, AuthThrottlesTable } from '../modules/auth/auth.table.js';
import type { WorkspaceKeysTable } from '../modules/secrets/secrets.table.js';
import type { ProvidersTable } from '../modules/providers/providers.table.js';
import type { ConnectedAccountsTable, OAuth2StatesTable } from '../modules/accounts/accounts.table.js';
import type { ModelsTable } from '../modules/models/models.table.js';
import type { CustomerAccountsDatabase } from '../modules/customer-accounts/customer-accounts.table.js';
import type { PromptsTable, PromptVersionsTable } from '../modules/prompts/prompts.table.js';
import type { AgentsTable } from '../modules/agents/agents.table.js';
import type { SharesTable } from '../modules/shares/shares.table.js';
import type { ThreadsTable, MessagesTable, MessageAttachmentsTable } from '../modules/threads/threads.table.js';
import type { RunsTable } from '../modules/runs/runs.table.js';
import type { MediaTable } from '../modules/media/media.table.js';
import type { MemoriesTable, WorkspaceAiSettingsTable } from '../modules/memories/memories.table.js';
import type { ToolsTable } from '../modules/tools/tools.table.js';
import type { WorkflowsTable, WorkflowSchedulesTable } from '../modules/workflows/workflows.table.js';
import type { WorkflowExecutionsTable, WorkflowExecutionStepsTable, WorkflowVersionsTable } from '../modules/executions/executions.table.js';
import type { AgentRunRollupsTable, ConversationRollupsTable, ExecutionRollupsTable } from '../modules/metrics/metrics.table.js';
import type { CommandRoomEventsTable, CommandRoomTasksTable } from '../modules/command-room/command-room.table.js';
import { adaptSqlite } from './sqlite-adapter.js';
import { AthenaSqliteDialect } from './sqlite-dialect.js';

/** Every table, as each module declares it in its `*.table.ts`. */
export interface Database extends CustomerAccountsDatabase {
  users: UsersTable;
  workspaces: WorkspacesTable;
  workspace_members: WorkspaceMembersTable;
  access_tokens: AccessTokensTable;
  auth_throttles: AuthThrottlesTable;
  workspace_keys: WorkspaceKeysTable;
  providers: ProvidersTable;
  connected_accounts: ConnectedAccountsTable;
  oauth2_states: OAuth2StatesTable;
  models: ModelsTable;
  prompts: PromptsTable;
  prompt_versions: PromptVersionsTable;
  agents: AgentsTable;
  shares: SharesTable;
  threads: ThreadsTable;
  messages: MessagesTable;
  message_attachments: MessageAttachmentsTable;
  runs: RunsTable;
  media: MediaTable;
  memories: MemoriesTable;
  workspace_ai_settings: WorkspaceAiSettingsTable;
  tools: ToolsTable;
  workflows: WorkflowsTable;
  workflow_schedules: WorkflowSchedulesTable;
  workflow_versions: WorkflowVersionsTable;
  workflow_executions: WorkflowExecutionsTable;
  workflow_execution_steps: WorkflowExecutionStepsTable;
  execution_rollups: ExecutionRollupsTable;
  agent_run_rollups: AgentRunRollupsTable;
  conversation_rollups: ConversationRollupsTable;
  command_room_tasks: CommandRoomTasksTable;
  command_room_events: CommandRoomEventsTable;
}

export type Dialect = 'sqlite' | 'postgres';

/** What repositories take as their first argument: the database or a transaction. */
export type Executor = Kysely<Database> | Transaction<Database>;

export interface Db {
  readonly kysely: Kysely<Database>;
  readonly dialect: Dialect;
  /** Runs `SELECT 1`; used by /ready. */
  ping(): Promise<void>;
  /** Hands pages freed by deletes back to the file system (SQLite's incremental auto-vacuum); a no-op on PostgreSQL. */
  reclaimSpace(): Promise<void>;
  close(): Promise<void>;
}

/** Opens SQLite in the data dir, or PostgreSQL when DATABASE_URL is set. */
export async function createDb(config: Config): Promise<Db> {
  return config.databaseUrl ? createPostgres(config, config.databaseUrl) : createSqlite(config);
}

async function createSqlite(config: Config): Promise<Db> {
  const { default: BetterSqlite3 } = await import('better-sqlite3');
  fs.mkdirSync(config.dataDir, { recursive: true });
  const file = path.join(config.dataDir, 'athena.sqlite');
  const database = new BetterSqlite3(file);
  // Incremental auto-vacuum must be chosen before the first table exists; later it lets pruning
  // hand pages back to the file system without a full VACUUM.
  database.pragma('auto_vacuum = INCREMENTAL');
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  const kysely = new Kysely<Database>({ dialect: new AthenaSqliteDialect(adaptSqlite(database)) });
  return {
    kysely,
    dialect: 'sqlite',
    ping: async () => {
      await sql`select 1`.execute(kysely);
    },
    // exec runs the pragma to its end; a prepared statement's run() frees one page per step.
    reclaimSpace: async () => {
      database.exec('pragma incremental_vacuum');
    },
    close: () => kysely.destroy(),
  };
}

async function createPostgres(config: Config, url: string): Promise<Db> {
  const { default: pg } = await import('pg');
  const types = {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      // Timestamps leave the driver as ISO strings, the same as SQLite gives them back.
      if (oid === pg.types.builtins.TIMESTAMPTZ || oid === pg.types.builtins.TIMESTAMP) {
        const parseDate = pg.types.getTypeParser(oid, 'text') as (v: string) => Date;
        return (value: string) => parseDate(value).toISOString();
      }
      // JSON columns leave the driver as text, as SQLite gives them: `fromJson` parses both alike
      // (a jsonb string parsed by the driver would be indistinguishable from JSON text).
      if (oid === pg.types.builtins.JSONB || oid === pg.types.builtins.JSON) return (value: string) => value;
      // Counts and sums fit comfortably in a double.
      if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return (value: string) => Number(value);
      return pg.types.getTypeParser(oid, format);
    },
  };
  if (config.databaseSchema) await ensureSchema(pg, url, config.databaseSchema);
  const pool = new pg.Pool({
    connectionString: url,
    max: config.databasePoolSize,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    types,
    ...(config.databaseSchema ? { options: `-c search_path=${config.databaseSchema},public` } : {}),
  });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it on next use.
  });
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    kysely,
    dialect: 'postgres',
    ping: async () => {
      await sql`select 1`.execute(kysely);
    },
    // PostgreSQL's autovacuum reuses the space; nothing to hand back by hand.
    reclaimSpace: async () => undefined,
    close: () => kysely.destroy(),
  };
}

async function ensureSchema(pg: typeof import('pg').default, url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(`create schema if not exists "${schema}"`);
  } finally {
    await client.end();
  }
}
