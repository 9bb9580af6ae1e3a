import type { TestApp } from './test-app.js';

/** A node as the API takes it. */
export interface NodeBody {
  id: string;
  type: string;
  name?: string;
  position?: { x: number; y: number };
  parameters?: Record<string, unknown>;
  retry?: { max_attempts: number; delay_ms: number; backoff: 'fixed' | 'exponential' } | null;
  on_error?: 'stop' | 'continue' | 'error_output';
  disabled?: boolean;
  notes?: string | null;
}

export interface EdgeBody {
  id: string;
  source: string;
  target: string;
  source_handle?: string | null;
  target_handle?: string | null;
}

/** A node of any type; its name is its id unless given. */
export function node(id: string, type: string, parameters: Record<string, unknown> = {}, extra: Partial<NodeBody> = {}): NodeBody {
  return { id, type, name: id, position: { x: 0, y: 0 }, parameters, ...extra };
}

export const manualNode = (id = 'manual') => node(id, 'manual');
export const webhookNode = (id = 'webhook', parameters: Record<string, unknown> = {}) => node(id, 'webhook', parameters);
export const scheduleNode = (id = 'schedule', cron = '0 9 * * *', timezone = 'UTC') => node(id, 'schedule', { cron, timezone });
export const setNode = (id = 'set', values: Record<string, unknown> = { greeting: 'hello' }) => node(id, 'set', { values });
export const respondNode = (id = 'respond', body: unknown = '{{ input }}') => node(id, 'respond', { status: 200, body });
export const ifNode = (id = 'if', condition: unknown = '{{ input.ok }}') => node(id, 'if', { condition });

/** An edge `source → target` (by `handle` when given), with the id `source-target`. */
export function edge(source: string, target: string, handle?: string, id = `${source}-${target}`): EdgeBody {
  return { id, source, target, ...(handle === undefined ? {} : { source_handle: handle }) };
}

/** Nodes in a line, each one's output into the next. */
export function chain(...nodes: NodeBody[]): { nodes: NodeBody[]; edges: EdgeBody[] } {
  return { nodes, edges: nodes.slice(1).map((next, i) => edge(nodes[i]!.id, next.id)) };
}

/** The body of a valid workflow: webhook → set → respond, unless overridden. */
export function workflowBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'Greeting workflow', description: 'Says hello.', ...chain(webhookNode(), setNode(), respondNode()), ...overrides };
}

/** Creates a workflow through the API (in `workspaceId` when given) and answers its resource; throws unless 201. */
export async function createWorkflow(t: TestApp, token: string, overrides: Record<string, unknown> = {}, workspaceId?: string): Promise<any> {
  const response = await t.request({
    method: 'POST',
    url: '/api/v1/workflows',
    token,
    body: workflowBody(overrides),
    headers: workspaceId ? { 'x-workspace-id': workspaceId } : {},
  });
  if (response.status !== 201) throw new Error(`workflow create failed: ${response.status} ${response.text}`);
  return response.body.data;
}

/** Changes a workflow through the API; throws unless 200. */
export async function updateWorkflow(t: TestApp, token: string, uuid: string, body: Record<string, unknown>, workspaceId?: string): Promise<any> {
  const response = await t.request({
    method: 'PUT',
    url: `/api/v1/workflows/${uuid}`,
    token,
    body,
    headers: workspaceId ? { 'x-workspace-id': workspaceId } : {},
  });
  if (response.status !== 200) throw new Error(`workflow update failed: ${response.status} ${response.text}`);
  return response.body.data;
}

/** The stored row, read directly. */
export function storedWorkflow(t: TestApp, uuid: string) {
  return t.ctx.db.kysely.selectFrom('workflows').selectAll().where('id', '=', uuid).executeTakeFirst();
}

/** The workflow's schedule rows, by node id. */
export function storedSchedules(t: TestApp, uuid: string) {
  return t.ctx.db.kysely.selectFrom('workflow_schedules').selectAll().where('workflow_id', '=', uuid).orderBy('node_id').execute();
}
