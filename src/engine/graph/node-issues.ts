import { ON_ERROR_POLICIES, type GraphIssue, type WorkflowGraph, type WorkflowNode } from '../types.js';
import { nodeLabel, nodeRef } from './graph-lookup.js';

export const MAX_ATTEMPTS = 10;
export const MAX_RETRY_DELAY_MS = 3_600_000;
const BACKOFFS: readonly string[] = ['fixed', 'exponential'];

/** Ids that are empty or used twice (at `nodes.<index>.id`, the second use named). */
export function nodeIdIssues(graph: WorkflowGraph): GraphIssue[] {
  const issues: GraphIssue[] = [];
  const firstIndex = new Map<string, number>();
  graph.nodes.forEach((node, index) => {
    if (typeof node.id !== 'string' || node.id === '') {
      const named = node.name ? `The node "${node.name}"` : `Node ${index}`;
      issues.push({ path: `nodes.${index}.id`, message: `${named} needs an id.` });
      return;
    }
    const first = firstIndex.get(node.id);
    if (first === undefined) {
      firstIndex.set(node.id, index);
      return;
    }
    const other = graph.nodes[first]!;
    issues.push({
      path: `nodes.${index}.id`,
      message: `${nodeLabel(node)} has the same id as node ${nodeRef(other)}; node ids must be unique.`,
    });
  });
  return issues;
}

/** A retry policy outside its bounds, and an unknown error policy. */
export function nodePolicyIssues(node: WorkflowNode, index: number): GraphIssue[] {
  const issues: GraphIssue[] = [];
  const at = `nodes.${index}`;
  const retry = node.retry;
  if (retry !== undefined && retry !== null) {
    if (typeof retry !== 'object') {
      issues.push({ path: `${at}.retry`, message: `${nodeLabel(node)} has an invalid retry policy: it must be an object.` });
    } else {
      if (!isIntegerIn(retry.max_attempts, 1, MAX_ATTEMPTS)) {
        issues.push({
          path: `${at}.retry.max_attempts`,
          message: `${nodeLabel(node)} has an invalid retry policy: max_attempts must be a whole number from 1 to ${MAX_ATTEMPTS}.`,
        });
      }
      if (!isIntegerIn(retry.delay_ms, 0, MAX_RETRY_DELAY_MS)) {
        issues.push({
          path: `${at}.retry.delay_ms`,
          message: `${nodeLabel(node)} has an invalid retry policy: delay_ms must be a whole number from 0 to ${MAX_RETRY_DELAY_MS} (one hour).`,
        });
      }
      if (!BACKOFFS.includes(retry.backoff)) {
        issues.push({
          path: `${at}.retry.backoff`,
          message: `${nodeLabel(node)} has an invalid retry policy: backoff must be "fixed" or "exponential".`,
        });
      }
    }
  }
  if (node.on_error != null && !(ON_ERROR_POLICIES as readonly string[]).includes(node.on_error)) {
    issues.push({
      path: `${at}.on_error`,
      message: `${nodeLabel(node)} has an unknown on_error policy "${String(node.on_error)}"; it must be one of ${ON_ERROR_POLICIES.map((p) => `"${p}"`).join(', ')}.`,
    });
  }
  return issues;
}

const isIntegerIn = (value: unknown, min: number, max: number): boolean =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
