import type { AthenaMigration } from '../migrate.js';
import * as m0001 from './0001_foundation.js';

/**
 * Every migration, keyed by its sortable name. Listed statically so the compiled build and the
 * test runner see the same set without scanning the file system. Never edit one that shipped:
 * add the next number instead.
 */
export const migrations: Record<string, AthenaMigration> = {
  '0001_foundation': m0001,
};
