import { Ajv, type ErrorObject } from 'ajv';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { isUuid } from '../../db/values.js';
import { nodeLabel } from '../../engine/graph/index.js';
import { NODE_TYPES } from '../../engine/nodes/index.js';
import { ON_ERROR_POLICIES, type GraphIssue, type WorkflowEdge, type WorkflowGraph, type WorkflowNode } from '../../engine/types.js';
import { AppError, fieldError, type FieldErrors } from '../../errors.js';
import { findAgentsAccess, visibleAgentsQuery } from '../agents/access.js';
import { usableAccountsQuery } from '../accounts/accounts.repository.js';
import { listModelsQuery } from '../models/models.repository.js';
import { findPublicPrompt, visiblePromptsQuery } from '../prompts/prompts.repository.js';
import { findProvidersByIds } from '../providers/providers.repository.js';
import { modelApiOf } from '../providers/providers.service.js';
import { generateOnce } from '../runs/generation.js';
import { resolveModelTarget, type ModelChoice, type ModelTarget } from '../runs/model-target.js';
import { parseJsonReply } from '../runs/prompt-run.js';
import { permits } from '../shares/shares.service.js';
import { authorize } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { workflowGraphErrors } from './graph-check.js';
import { MAX_EDGES, MAX_NODES, type EdgeResource, type NodeResource } from './workflows.schemas.js';

/** The first draft and at most this many repairs with the problems named. */
const MAX_REPAIRS = 2;
/** Agents, prompts and workflows offered to the model by name and uuid. */
const MAX_LISTED = 50;
/** A previous draft quoted back for repair is cut to this. */
const MAX_QUOTED_DRAFT = 30_000;
/** Problems fed back or answered at once. */
const MAX_PROBLEMS = 20;
const COLUMN_WIDTH = 280;
const ROW_HEIGHT = 160;

const ID = '^[A-Za-z0-9_-]+$';

/** The shape a model must answer with; the graph's meaning is checked by the engine's validator. */
const DRAFT_SCHEMA = {
  type: 'object',
  required: ['name', 'nodes', 'edges'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 255 },
    description: { type: ['string', 'null'], maxLength: 2000 },
    nodes: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_NODES,
      items: {
        type: 'object',
        required: ['id', 'type'],
        properties: {
          id: { type: 'string', minLength: 1, maxLength: 64, pattern: ID },
          type: { type: 'string', minLength: 1, maxLength: 64 },
          name: { type: 'string', minLength: 1, maxLength: 255 },
          position: { type: 'object', required: ['x', 'y'], properties: { x: { type: 'number' }, y: { type: 'number' } } },
          parameters: { type: 'object' },
          retry: { type: ['object', 'null'] },
          on_error: { enum: [...ON_ERROR_POLICIES] },
          disabled: { type: 'boolean' },
          notes: { type: ['string', 'null'], maxLength: 10_000 },
        },
      },
    },
    edges: {
      type: 'array',
      maxItems: MAX_EDGES,
      items: {
        type: 'object',
        required: ['source', 'target'],
        properties: {
          id: { type: 'string', minLength: 1, maxLength: 128, pattern: ID },
          source: { type: 'string', minLength: 1, maxLength: 64 },
          target: { type: 'string', minLength: 1, maxLength: 64 },
          source_handle: { type: ['string', 'null'], maxLength: 64 },
          target_handle: { type: ['string', 'null'], maxLength: 64 },
        },
      },
    },
  },
} as const;

const validateDraftShape = new Ajv({ allErrors: true }).compile(DRAFT_SCHEMA);

interface RawDraft {
  name: string;
  description?: string | null;
  nodes: Array<Partial<WorkflowNode> & { id: string; type: string }>;
  edges: Array<Partial<WorkflowEdge> & { source: string; target: string }>;
}

/** A drafted workflow, in the shape `POST /api/v1/workflows` takes (every node field present). */
export interface WorkflowDraft {
  name: string;
  description: string | null;
  nodes: NodeResource[];
  edges: EdgeResource[];
}

export interface GenerateWorkflowInput {
  description: string;
  llm_uuid?: string;
  account_uuid?: string;
}

export interface GeneratedWorkflow {
  draft: WorkflowDraft;
  runId: string;
  /** Model calls it took: 1, plus one per repair. */
  attempts: number;
}

/**
 * `POST /workflows/generate`: a model drafts a workflow from the node catalog (and the agents,
 * prompts and workflows the caller may use); the draft is checked as saving would check it, and
 * its problems go back to the model up to twice. Nothing is saved. 422 naming the problems when
 * no draft passes.
 */
export async function generateWorkflow(ctx: AppContext, scope: WorkspaceScope, input: GenerateWorkflowInput): Promise<GeneratedWorkflow> {
  authorize(scope.role, 'write');
  const db = ctx.db.kysely;
  const target = await generationTargetOf(ctx, scope, { llmId: input.llm_uuid, accountId: input.account_uuid });
  const system = await systemPromptOf(db, scope);
  const request = `Draft a workflow for this:\n${input.description.trim()}`;

  let prompt = request;
  let problems: GraphIssue[] = [];
  let runId = '';
  for (let attempt = 1; attempt <= MAX_REPAIRS + 1; attempt++) {
    const result = await generateOnce(ctx, scope, target, { system, prompt, json: true, maxOutputTokens: 16_000 });
    runId = result.runId;
    const checked = await checkDraft(db, scope, result.text);
    if ('draft' in checked) return { draft: checked.draft, runId, attempts: attempt };
    problems = checked.problems;
    prompt = repairPrompt(request, result.text, problems);
  }
  const errors: FieldErrors = {};
  for (const problem of problems.slice(0, MAX_PROBLEMS)) (errors[problem.path] ??= []).push(problem.message);
  const attempts = MAX_REPAIRS + 1;
  throw new AppError(
    'VALIDATION',
    `The model did not draft a valid workflow in ${attempts} attempts: ${problems[0]?.message ?? 'no usable answer'}${problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length === 2 ? '' : 's'})` : ''}`,
    { fields: errors },
  );
}

function repairPrompt(request: string, previous: string, problems: GraphIssue[]): string {
  const quoted = previous.length > MAX_QUOTED_DRAFT ? `${previous.slice(0, MAX_QUOTED_DRAFT)}\n[cut]` : previous;
  const listed = problems.slice(0, MAX_PROBLEMS).map((p) => `- ${p.path}: ${p.message}`);
  if (problems.length > MAX_PROBLEMS) listed.push(`- … and ${problems.length - MAX_PROBLEMS} more.`);
  return [
    request,
    `Your previous answer was:\n${quoted}`,
    `It cannot be used as it is:\n${listed.join('\n')}`,
    'Fix these problems and answer again with the complete corrected JSON object only.',
  ].join('\n\n');
}

// ---------------------------------------------------------------------------------------------
// Checking a draft

/** The draft as saved, or every problem found (shape first; then the graph as the engine checks it). */
export async function checkDraft(db: Executor, scope: WorkspaceScope, text: string): Promise<{ draft: WorkflowDraft } | { problems: GraphIssue[] }> {
  const value = parseJsonReply(text);
  if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problems: [{ path: 'draft', message: 'The answer was not one JSON object.' }] };
  }
  if (!validateDraftShape(value)) return { problems: shapeProblems(validateDraftShape.errors ?? []) };
  const draft = normalizeDraft(value as RawDraft);
  const graph: WorkflowGraph = { nodes: draft.nodes, edges: draft.edges };
  const problems: GraphIssue[] = Object.entries(workflowGraphErrors(graph)).flatMap(([path, messages]) => messages.map((message) => ({ path, message })));
  problems.push(...(await referenceProblems(db, scope, draft.nodes)));
  return problems.length > 0 ? { problems } : { draft };
}

function shapeProblems(errors: ErrorObject[]): GraphIssue[] {
  return errors.slice(0, MAX_PROBLEMS).map((error) => {
    const path = error.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const missing = error.keyword === 'required' ? (error.params as { missingProperty?: string }).missingProperty : undefined;
    return {
      path: [path, missing].filter(Boolean).join('.') || 'draft',
      message: missing ? `The ${missing} field is required.` : `${path || 'The answer'} ${error.message ?? 'is invalid'}.`,
    };
  });
}

/** Every node and edge field filled in; missing positions laid out left to right by depth. */
function normalizeDraft(raw: RawDraft): WorkflowDraft {
  const positions = layoutOf(raw);
  const nodes: NodeResource[] = raw.nodes.map((node) => ({
    id: node.id,
    type: node.type,
    name: node.name?.trim() || node.id,
    position: node.position ? { x: node.position.x, y: node.position.y } : positions.get(node.id)!,
    parameters: (node.parameters as Record<string, unknown> | undefined) ?? {},
    retry: (node.retry as NodeResource['retry'] | undefined) ?? null,
    on_error: node.on_error ?? 'stop',
    disabled: node.disabled ?? false,
    notes: node.notes ?? null,
  }));
  const usedIds = new Set<string>();
  const edges: EdgeResource[] = raw.edges.map((edge) => {
    let id = edge.id ?? `${edge.source}-${edge.target}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 120);
    for (let n = 2; usedIds.has(id); n++) id = `${(edge.id ?? `${edge.source}-${edge.target}`).slice(0, 120)}_${n}`;
    usedIds.add(id);
    return {
      id,
      source: edge.source,
      target: edge.target,
      source_handle: edge.source_handle || null,
      target_handle: edge.target_handle || null,
    };
  });
  return { name: raw.name.trim(), description: raw.description?.trim() || null, nodes, edges };
}

/** Columns by distance from the nodes nothing leads to (triggers); rows in draft order. */
function layoutOf(raw: RawDraft): Map<string, { x: number; y: number }> {
  const targets = new Set(raw.edges.map((edge) => edge.target));
  const outgoing = new Map<string, string[]>();
  for (const edge of raw.edges) outgoing.set(edge.source, [...(outgoing.get(edge.source) ?? []), edge.target]);
  const depth = new Map<string, number>();
  const queue = raw.nodes.filter((node) => !targets.has(node.id)).map((node) => node.id);
  for (const id of queue) depth.set(id, 0);
  // Breadth first, each node once: loops back to a node do not push it further right.
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    for (const next of outgoing.get(id) ?? []) {
      if (depth.has(next)) continue;
      depth.set(next, depth.get(id)! + 1);
      queue.push(next);
    }
  }
  const rows = new Map<number, number>();
  const positions = new Map<string, { x: number; y: number }>();
  for (const node of raw.nodes) {
    const column = depth.get(node.id) ?? 0;
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    positions.set(node.id, { x: column * COLUMN_WIDTH, y: row * ROW_HEIGHT });
  }
  return positions;
}

/** A parameter written out as a uuid (not an expression), with where it is. */
interface Reference {
  index: number;
  node: WorkflowNode;
  parameter: string;
  uuid: string;
}

const REFERENCE_PARAMETERS: Record<string, string> = { agent: 'agent_uuid', prompt: 'prompt_uuid', workflow: 'workflow_uuid' };

/** Agents, prompts and workflows a draft names that the caller could not run: the model made them up. */
async function referenceProblems(db: Executor, scope: WorkspaceScope, nodes: WorkflowNode[]): Promise<GraphIssue[]> {
  const references: Reference[] = [];
  nodes.forEach((node, index) => {
    const parameter = REFERENCE_PARAMETERS[node.type];
    const value = parameter ? node.parameters[parameter] : undefined;
    if (parameter && typeof value === 'string' && isUuid(value)) references.push({ index, node, parameter, uuid: value.toLowerCase() });
  });
  if (references.length === 0) return [];
  const ofType = (type: string) => [...new Set(references.filter((r) => r.node.type === type).map((r) => r.uuid))];
  const agentIds = ofType('agent');
  const promptIds = ofType('prompt');
  const workflowIds = ofType('workflow');
  const known = new Set<string>();
  if (agentIds.length > 0) {
    for (const [id, access] of await findAgentsAccess(db, scope, agentIds)) if (permits(access.permission, 'run')) known.add(id);
  }
  if (promptIds.length > 0) {
    for (const row of await visiblePromptsQuery(db, scope.workspaceId, scope.userId).select('p.id').where('p.id', 'in', promptIds).execute()) known.add(row.id);
    for (const id of promptIds.filter((id) => !known.has(id))) if (await findPublicPrompt(db, id)) known.add(id);
  }
  if (workflowIds.length > 0) {
    for (const row of await sameWorkspaceWorkflowsQuery(db, scope).select('w.id').where('w.id', 'in', workflowIds).execute()) known.add(row.id);
  }
  const what: Record<string, string> = { agent: 'an agent the user can run', prompt: 'a prompt the user can see', workflow: 'a workflow of this workspace' };
  return references
    .filter((reference) => !known.has(reference.uuid))
    .map((reference) => ({
      path: `nodes.${reference.index}.parameters.${reference.parameter}`,
      message: `${nodeLabel(reference.node)}: ${reference.uuid} is not ${what[reference.node.type]}; use one of the listed uuids.`,
    }));
}

/** Workflows a workflow node of this workspace may call (as the sub-workflow node checks). */
function sameWorkspaceWorkflowsQuery(db: Executor, scope: WorkspaceScope) {
  return db
    .selectFrom('workflows as w')
    .where('w.workspace_id', '=', scope.workspaceId)
    .where((eb) => eb.or([eb('w.visibility', '!=', 'private'), eb('w.user_id', '=', scope.userId)]));
}

// ---------------------------------------------------------------------------------------------
// What the model is told

async function systemPromptOf(db: Executor, scope: WorkspaceScope): Promise<string> {
  const catalog = NODE_TYPES.map((definition) => {
    const outputs = typeof definition.outputs === 'function' ? 'depend on the parameters (see the description)' : definition.outputs.join(', ');
    return [
      `### ${definition.type} (${definition.category})`,
      definition.description,
      `Output handles: ${outputs}.${definition.allowsCycles ? ' Edges may lead back into it (loops).' : ''}${definition.joinsInputs ? ' Waits for all its incoming branches.' : ''}`,
      `Parameters (JSON Schema): ${JSON.stringify(definition.parameters)}`,
    ].join('\n');
  });
  const [agents, prompts, workflows] = await Promise.all([
    runnableAgentsOf(db, scope),
    visiblePromptsQuery(db, scope.workspaceId, scope.userId).select(['p.id', 'p.name', 'p.description']).orderBy('p.name').limit(MAX_LISTED).execute(),
    sameWorkspaceWorkflowsQuery(db, scope).select(['w.id', 'w.name', 'w.description']).orderBy('w.name').limit(MAX_LISTED).execute(),
  ]);
  const listing = (title: string, rows: Array<{ id: string; name: string; description: string | null }>) =>
    rows.length === 0
      ? `${title}: none.`
      : `${title} (uuid: name — description):\n${rows.map((r) => `- ${r.id}: ${r.name}${r.description ? ` — ${r.description.slice(0, 200)}` : ''}`).join('\n')}`;

  return [
    'You design workflows for Athena, an automation platform. A workflow is a graph of nodes joined by edges. Given what the user wants, answer with one JSON object and nothing else:',
    '{"name": short name, "description": one sentence, "nodes": [{"id", "type", "name", "parameters"}], "edges": [{"id", "source", "target", "source_handle"}]}',
    [
      'Rules:',
      '- Start with exactly one trigger node (manual, webhook, schedule or agent_tool); every other node must be reachable from it along edges.',
      '- Node ids: short snake_case words (letters, digits, underscores), unique. Edge ids likewise; an edge goes from `source` node id to `target` node id.',
      '- `source_handle` is the output the edge leaves by: omit it (or null) for the usual `main` output; `true`/`false` after an `if`; a case handle or `default` after a `switch`; `item` and `done` after a `loop`.',
      '- Parameters must match the node type’s JSON Schema exactly: no other fields.',
      '- Cycles are allowed only through a loop node: the last node of the loop’s `item` branch connects back to the loop.',
      '- Use only agent, prompt and workflow uuids from the lists below; do not invent uuids. If none fits, use another kind of node.',
    ].join('\n'),
    [
      'Expressions: a parameter value may contain `{{ expression }}` in JSONata (no JavaScript). A value that is exactly one `{{ }}` takes the expression’s value with its type; text around it makes a string. Expressions see:',
      '- `input`: the previous node’s output; `trigger`: the data that started the execution (for a webhook: `trigger.body`, `trigger.query`, `trigger.headers`, `trigger.method`);',
      '- `nodes.<node id>.output`: the output of an earlier node; `vars.<name>`: the workflow’s variables; `execution.uuid`, `execution.started_at`.',
      'Example: {"message": "Summarize: {{ input.text }}"} or {"condition": "{{ input.status = \'open\' }}"}.',
    ].join('\n'),
    `Node catalog:\n\n${catalog.join('\n\n')}`,
    listing('Agents the user can run (for agent nodes)', agents),
    listing('Prompts (for prompt nodes)', prompts),
    listing('Workflows of the workspace (for workflow nodes)', workflows),
  ].join('\n\n');
}

async function runnableAgentsOf(db: Executor, scope: WorkspaceScope): Promise<Array<{ id: string; name: string; description: string | null }>> {
  const rows = await visibleAgentsQuery(db, scope, 'workspace_or_shared').select('a.id').orderBy('a.name').limit(MAX_LISTED * 2).execute();
  const access = await findAgentsAccess(db, scope, rows.map((row) => row.id));
  return [...access.values()]
    .filter((entry) => permits(entry.permission, 'run'))
    .map(({ agent }) => ({ id: agent.id, name: agent.name, description: agent.description }))
    .sort((a, b) => a.name.localeCompare(b.name))
    .slice(0, MAX_LISTED);
}

// ---------------------------------------------------------------------------------------------
// The model that drafts

/**
 * The model the request names; a missing half is filled in from the caller's catalog: the
 * first usable account of the model's provider, or the account's first language model
 * (JSON-capable first); with neither, the first of the caller's accounts (their own first,
 * oldest first) that has a language model.
 */
async function generationTargetOf(ctx: AppContext, scope: WorkspaceScope, choice: ModelChoice): Promise<ModelTarget> {
  if (choice.llmId && choice.accountId) return resolveModelTarget(ctx, scope, choice);
  const db = ctx.db.kysely;
  const owner = { workspaceId: scope.workspaceId, userId: scope.userId };
  let accounts = usableAccountsQuery(db, scope.workspaceId, scope.userId).select(['a.id', 'a.provider_id', 'a.user_id', 'a.created_at']);
  if (choice.accountId) {
    if (!isUuid(choice.accountId)) throw fieldError('account_uuid', 'The selected account uuid is invalid.');
    accounts = accounts.where('a.id', '=', choice.accountId.toLowerCase());
  }
  if (choice.llmId) {
    if (!isUuid(choice.llmId)) throw fieldError('llm_uuid', 'The selected llm uuid is invalid.');
    const llm = await listModelsQuery(db, scope.workspaceId, scope.userId, {}).select(['m.provider_id']).where('m.id', '=', choice.llmId.toLowerCase()).executeTakeFirst();
    if (!llm) throw fieldError('llm_uuid', 'The selected llm uuid is invalid.');
    accounts = accounts.where('a.provider_id', '=', llm.provider_id);
  }
  const candidates = (await accounts.orderBy('a.created_at').orderBy('a.id').limit(50).execute()).sort(
    (a, b) => Number(b.user_id === scope.userId) - Number(a.user_id === scope.userId),
  );
  const providers = new Map((await findProvidersByIds(db, [...new Set(candidates.map((a) => a.provider_id))])).map((p) => [p.id, p]));
  for (const account of candidates) {
    const provider = providers.get(account.provider_id);
    if (!provider || !modelApiOf(provider)) continue;
    const llmId =
      choice.llmId ??
      (
        await listModelsQuery(db, scope.workspaceId, scope.userId, { provider: provider.id })
          .select('m.id')
          .where((eb) => eb.or([eb('m.account_id', 'is', null), eb('m.account_id', '=', account.id)]))
          .orderBy('m.supports_json', 'desc')
          .orderBy('m.name')
          .executeTakeFirst()
      )?.id;
    if (llmId) return resolveModelTarget(ctx, owner, { llmId, accountId: account.id });
  }
  if (choice.accountId) throw fieldError('account_uuid', 'The selected account has no language model to draft with; send llm_uuid.');
  throw fieldError(choice.llmId ? 'account_uuid' : 'llm_uuid', 'No connected account with a language model to draft with: send llm_uuid and account_uuid.');
}
