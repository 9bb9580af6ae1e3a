import type { AthenaMigration } from '../migrate.js';
import * as m0001 from './0001_foundation.js';
import * as m0002 from './0002_providers_accounts.js';
import * as m0003 from './0003_customer_accounts.js';
import * as m0004 from './0004_ai_runtime.js';
import * as m0005 from './0005_workflows.js';
import * as m0006 from './0006_metrics.js';
import * as m0007 from './0007_command_room.js';

/**
 * Every migration, keyed by its sortable name. Listed statically so the compiled build and the
 * test runner see the same set without scanning the file system. Never edit one that shipped:
 * add the next number instead.
 */
export const migrations: Record<string, AthenaMigration> = {
  '0001_foundation': m0001,
  '0002_providers_accounts': m0002,
  '0003_customer_accounts': m0003,
  '0004_ai_runtime': m0004,
  '0005_workflows': m0005,
  '0006_metrics': m0006,
  '0007_command_room': m0007,
};
