import type { ColumnType, Generated, Selectable } from 'kysely';

type Json = ColumnType<unknown, string, string>;

export const TASK_STATUSES = ['todo', 'in_progress', 'blocked', 'done', 'failed', 'canceled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TASK_LINK_TYPES = ['agent', 'thread', 'workflow', 'execution'] as const;
export type TaskLinkType = (typeof TASK_LINK_TYPES)[number];

export interface CommandRoomTasksTable {
  id: string;
  workspace_id: string;
  /** Who created it. */
  user_id: number | null;
  title: string;
  description: string | null;
  status: TaskStatus;
  /** Dense, 0-based order within the (workspace, status) column. */
  position: number;
  assignee_id: number | null;
  due_at: string | null;
  link_type: TaskLinkType | null;
  link_id: string | null;
  /** When the link was set: a workflow, agent or thread link follows runs started from then on. */
  linked_at: string | null;
  /** The execution or run the task follows now (uuid v7, so a newer run sorts after it). */
  followed_id: string | null;
  /** That execution's or run's own status, as `link.status` shows it. */
  followed_status: string | null;
  /** 0..100, set by the linked run as it goes; null when nothing is followed. */
  progress: number | null;
  created_at: string;
  updated_at: string;
}

/** Board changes, numbered: the stream's event ids, replayed after `Last-Event-ID`. */
export interface CommandRoomEventsTable {
  id: Generated<number>;
  workspace_id: string;
  task_id: string;
  type: string;
  data: Json;
  created_at: string;
}

export type CommandRoomTaskRow = Selectable<CommandRoomTasksTable>;
export type CommandRoomEventRow = Selectable<CommandRoomEventsTable>;
