import { checkExpressionSyntax } from '../../engine/expressions/index.js';
import { nodeLabel, validateGraph } from '../../engine/graph/index.js';
import { nodeCatalog } from '../../engine/nodes/index.js';
import { parseSchedule } from '../../engine/schedule/index.js';
import type { GraphIssue, WorkflowGraph, WorkflowNode } from '../../engine/types.js';
import type { FieldErrors } from '../../errors.js';

export const SCHEDULE_NODE_TYPE = 'schedule';
export const DEFAULT_SCHEDULE_TIMEZONE = 'UTC';

/** A schedule node's timing as the scheduler reads it (the catalog's default time zone filled in). */
export function scheduleOf(node: WorkflowNode): { cron: string; timezone: string } {
  const { cron, timezone } = node.parameters as { cron?: unknown; timezone?: unknown };
  return {
    cron: typeof cron === 'string' ? cron.trim() : '',
    timezone: typeof timezone === 'string' && timezone.trim() !== '' ? timezone.trim() : DEFAULT_SCHEDULE_TIMEZONE,
  };
}

/**
 * A schedule's cron and time zone: the scheduler reads them before any execution exists, so
 * they must be written out (no `{{ }}`), and they must fire at least once from now on.
 */
function scheduleIssues(node: WorkflowNode, index: number, now: Date): GraphIssue[] {
  const at = `nodes.${index}.parameters`;
  const raw = node.parameters as { cron?: unknown; timezone?: unknown };
  const issues: GraphIssue[] = [];
  for (const field of ['cron', 'timezone'] as const) {
    const value = raw[field];
    if (typeof value === 'string' && value.includes('{{')) {
      issues.push({ path: `${at}.${field}`, message: `${nodeLabel(node)}: the ${field} of a schedule cannot be an expression; write it out.` });
    }
  }
  if (issues.length > 0 || typeof raw.cron !== 'string') return issues;
  const { cron, timezone } = scheduleOf(node);
  // The expression alone first, so a bad zone is reported at `timezone` and a bad cron at `cron`.
  const alone = parseSchedule({ cron, timezone: DEFAULT_SCHEDULE_TIMEZONE }, now);
  if (!alone.ok) return [{ path: `${at}.cron`, message: `${nodeLabel(node)}: ${alone.message}` }];
  const zoned = parseSchedule({ cron, timezone }, now);
  if (!zoned.ok) return [{ path: `${at}.timezone`, message: `${nodeLabel(node)}: ${zoned.message}` }];
  return [];
}

/**
 * Every problem of a graph, keyed by the path of the field at fault (`nodes.3.parameters.url`,
 * `edges.2.target`): what the engine's validator finds (types, parameters, expressions, edges,
 * reachability, cycles) and each schedule's cron and time zone. Empty when the graph may be saved.
 */
export function workflowGraphErrors(graph: WorkflowGraph, now: Date = new Date()): FieldErrors {
  const issues = validateGraph(graph, nodeCatalog, { checkExpression: checkExpressionSyntax });
  const parameterPaths = new Set(issues.map((issue) => issue.path));
  graph.nodes.forEach((node, index) => {
    if (node.type !== SCHEDULE_NODE_TYPE) return;
    // A cron the parameter check already refused (missing, not a string) is reported once.
    const at = `nodes.${index}.parameters`;
    if (parameterPaths.has(at) || parameterPaths.has(`${at}.cron`) || parameterPaths.has(`${at}.timezone`)) return;
    issues.push(...scheduleIssues(node, index, now));
  });
  const errors: FieldErrors = {};
  for (const issue of issues) (errors[issue.path] ??= []).push(issue.message);
  return errors;
}
