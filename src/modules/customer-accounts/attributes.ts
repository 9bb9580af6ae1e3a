import type { Dialect, Executor } from '../../db/database.js';
import { transactionLock } from '../../db/locks.js';

/**
 * The configurable attributes of the customer-accounts module: seed 000's nine, plus account
 * health and industry. Each has a list of values per workspace, exactly one of them the default.
 */
export const ATTRIBUTES = [
  'account_status',
  'account_classification',
  'account_health',
  'account_industry',
  'contact_type',
  'activity_type',
  'activity_status',
  'note_type',
  'task_type',
  'task_status',
  'task_priority',
] as const;
export type Attribute = (typeof ATTRIBUTES)[number];

export interface SeedValue {
  value: string;
  isClosed?: boolean;
}

/** What every workspace starts with; the first value of each list is its default. */
export const DEFAULT_VALUES: Record<Attribute, SeedValue[]> = {
  account_status: [{ value: 'PROSPECT' }, { value: 'TRIAL' }, { value: 'ACTIVE' }, { value: 'CHURNED' }, { value: 'ACQUIRED' }],
  account_classification: [{ value: 'SMB' }, { value: 'MID_MARKET' }, { value: 'ENTERPRISE' }, { value: 'STRATEGIC' }],
  account_health: [{ value: 'GREEN' }, { value: 'YELLOW' }, { value: 'RED' }],
  account_industry: [{ value: 'TECHNOLOGY' }, { value: 'HEALTHCARE' }, { value: 'FINANCE' }, { value: 'RETAIL' }],
  contact_type: [{ value: 'PRIMARY' }, { value: 'BILLING' }, { value: 'LEGAL' }, { value: 'EXECUTIVE' }, { value: 'OTHER' }],
  activity_type: [{ value: 'CALL' }, { value: 'EMAIL' }, { value: 'MEETING' }, { value: 'SITE_VISIT' }],
  activity_status: [{ value: 'PENDING' }, { value: 'COMPLETED' }, { value: 'CANCELLED' }],
  note_type: [{ value: 'GENERAL' }, { value: 'MEETING_MINUTES' }, { value: 'DECISION' }, { value: 'TECHNICAL' }],
  task_type: [{ value: 'FOLLOW_UP' }, { value: 'REVIEW' }, { value: 'APPROVAL' }, { value: 'CUSTOM' }],
  task_status: [{ value: 'PENDING' }, { value: 'IN_PROGRESS' }, { value: 'COMPLETED', isClosed: true }, { value: 'CANCELLED', isClosed: true }],
  task_priority: [{ value: 'LOW' }, { value: 'MEDIUM' }, { value: 'HIGH' }],
};

type UsageTable = 'customer_accounts' | 'customer_contacts' | 'customer_activities' | 'customer_notes' | 'customer_tasks';

/** Where records hold each attribute's value id: what "in use" counts and `replaceWith` moves. */
export const ATTRIBUTE_USAGE: Record<Attribute, { table: UsageTable; column: string }> = {
  account_status: { table: 'customer_accounts', column: 'status_id' },
  account_classification: { table: 'customer_accounts', column: 'classification_id' },
  account_health: { table: 'customer_accounts', column: 'health_id' },
  account_industry: { table: 'customer_accounts', column: 'industry_id' },
  contact_type: { table: 'customer_contacts', column: 'contact_type_id' },
  activity_type: { table: 'customer_activities', column: 'type_id' },
  activity_status: { table: 'customer_activities', column: 'status_id' },
  note_type: { table: 'customer_notes', column: 'type_id' },
  task_type: { table: 'customer_tasks', column: 'type_id' },
  task_status: { table: 'customer_tasks', column: 'status_id' },
  task_priority: { table: 'customer_tasks', column: 'priority_id' },
};

/**
 * Serialises changes to one attribute's values on PostgreSQL for the rest of the transaction.
 * Changing the values (making a default, deleting, replacing) takes the lock exclusively;
 * writing records that pick a value takes it shared, so a value cannot be deleted between
 * being chosen and being stored. SQLite runs one write transaction at a time already.
 */
export async function lockAttributes(
  db: Executor,
  dialect: Dialect,
  workspaceId: string,
  attributes: readonly Attribute[],
  mode: 'exclusive' | 'shared',
): Promise<void> {
  // Sorted, so two transactions taking several locks take them in the same order.
  for (const attribute of [...new Set(attributes)].sort()) {
    await transactionLock(db, dialect, `customer-attribute:${workspaceId}:${attribute}`, mode);
  }
}
