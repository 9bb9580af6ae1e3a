import type { ColumnType, Selectable, SqlBool } from 'kysely';

/** JSON columns: written as text on both dialects, read back parsed (pg) or as text (SQLite). */
type Json = ColumnType<unknown, string, string>;
type NullableJson = ColumnType<unknown, string | null, string | null>;
type Bool = ColumnType<SqlBool, boolean | undefined, boolean>;

/** Columns every customer-accounts record has. Soft-deleted rows keep `deleted_at`. */
interface Record_ {
  id: string;
  workspace_id: string;
  created_at: string;
  updated_at: string;
  deleted_at: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface CustomerWorkspaceSetupsTable {
  workspace_id: string;
  seeded_at: string;
  /** Live accounts of the workspace, kept by the account repository's writes. */
  account_count: ColumnType<number, number | undefined, number>;
}

export interface CustomerAttributeValuesTable extends Record_ {
  attribute: string;
  value: string;
  is_default: Bool;
  /** Display order within the attribute (the seeded order; new values go last). */
  position: number;
  /** `{icon?, color?, isClosed?}` */
  configuration: Json;
}

export interface CustomerAccountsTable extends Record_ {
  name: string;
  description: string | null;
  source: string | null;
  logo: string | null;
  website: string | null;
  primary_domain: string;
  secondary_domain: string | null;
  account_owner_id: number | null;
  status_id: string | null;
  classification_id: string | null;
  health_id: string | null;
  industry_id: string | null;
  annual_revenue: number | null;
  employees: number | null;
  billing_address: NullableJson;
  shipping_address: NullableJson;
  custom_field_values: Json;
  metadata: Json;
  created_by: number | null;
}

export interface CustomerRelationshipTypesTable extends Record_ {
  name: string;
  inverse_relationship_id: string | null;
}

export interface CustomerAccountRelationshipsTable extends Record_ {
  account_id: string;
  related_account_id: string;
  relationship_type_id: string;
}

export interface CustomerContactsTable extends Record_ {
  first_name: string;
  last_name: string | null;
  email: string;
  phone_number: string | null;
  avatar_url: string | null;
  contact_type_id: string | null;
  custom_field_values: Json;
  metadata: Json;
  /** Where an ingested contact came from (`SLACK`, `ZENDESK`…); null when created directly. */
  sink_source: string | null;
}

export interface CustomerAccountContactsTable {
  account_id: string;
  contact_id: string;
  created_at: string;
}

export interface CustomerActivitiesTable extends Record_ {
  account_id: string;
  creator_id: number | null;
  activity_timestamp: string | null;
  duration: number | null;
  location: string | null;
  title: string | null;
  description: string | null;
  type_id: string | null;
  status_id: string | null;
  participants: Json;
  /** `[{id, url, createdAt}]` */
  attachments: Json;
  metadata: Json;
}

export const NOTE_VISIBILITIES = ['public', 'private', 'team'] as const;
export type NoteVisibility = (typeof NOTE_VISIBILITIES)[number];

export interface CustomerNotesTable extends Record_ {
  account_id: string;
  author_id: number | null;
  content: string;
  type_id: string | null;
  visibility: NoteVisibility;
  attachments: Json;
  metadata: Json;
}

export interface CustomerTasksTable extends Record_ {
  account_id: string;
  creator_id: number | null;
  title: string;
  assignee_id: number | null;
  activity_id: string | null;
  description: string | null;
  type_id: string | null;
  status_id: string | null;
  priority_id: string | null;
  due_date: string | null;
  attachments: Json;
  metadata: Json;
}

export type AttributeValueRow = Selectable<CustomerAttributeValuesTable>;
export type CustomerAccountRow = Selectable<CustomerAccountsTable>;
export type RelationshipTypeRow = Selectable<CustomerRelationshipTypesTable>;
export type AccountRelationshipRow = Selectable<CustomerAccountRelationshipsTable>;
export type ContactRow = Selectable<CustomerContactsTable>;
export type ActivityRow = Selectable<CustomerActivitiesTable>;
export type NoteRow = Selectable<CustomerNotesTable>;
export type TaskRow = Selectable<CustomerTasksTable>;

/** The tables above, for the Database interface. */
export interface CustomerAccountsDatabase {
  customer_workspace_setups: CustomerWorkspaceSetupsTable;
  customer_attribute_values: CustomerAttributeValuesTable;
  customer_accounts: CustomerAccountsTable;
  customer_relationship_types: CustomerRelationshipTypesTable;
  customer_account_relationships: CustomerAccountRelationshipsTable;
  customer_contacts: CustomerContactsTable;
  customer_account_contacts: CustomerAccountContactsTable;
  customer_activities: CustomerActivitiesTable;
  customer_notes: CustomerNotesTable;
  customer_tasks: CustomerTasksTable;
}
