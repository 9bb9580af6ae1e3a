import { ERROR_HANDLE, sourceHandleOf, targetHandleOf, type GraphIssue, type WorkflowGraph } from '../types.js';
import { nodeRef, nodesById, type NodeTypeLookup } from './graph-lookup.js';
import { outputHandlesOf } from './output-handles.js';

/**
 * Each edge's problems: an empty or repeated id, an end that names no node, a handle the source
 * does not have, an edge into a trigger, and an edge that repeats another (same source,
 * handle, target and target handle).
 */
export function edgeIssues(graph: WorkflowGraph, catalog: NodeTypeLookup): GraphIssue[] {
  const issues: GraphIssue[] = [];
  const nodes = nodesById(graph);
  const idIndex = new Map<string, number>();
  const connections = new Map<string, number>();

  graph.edges.forEach((edge, index) => {
    const at = `edges.${index}`;
    if (typeof edge.id !== 'string' || edge.id === '') {
      issues.push({ path: `${at}.id`, message: `Edge ${index} (from "${edge.source}" to "${edge.target}") needs an id.` });
    } else if (idIndex.has(edge.id)) {
      issues.push({ path: `${at}.id`, message: `Edge "${edge.id}" has the same id as edge ${idIndex.get(edge.id)}; edge ids must be unique.` });
    } else {
      idIndex.set(edge.id, index);
    }
    const name = `Edge "${edge.id}"`;

    const source = nodes.get(edge.source);
    const target = nodes.get(edge.target);
    if (source === undefined) {
      issues.push({ path: `${at}.source`, message: `${name} comes from node "${edge.source}", which does not exist.` });
    }
    if (target === undefined) {
      issues.push({ path: `${at}.target`, message: `${name} goes to node "${edge.target}", which does not exist.` });
    }

    const handle = sourceHandleOf(edge);
    const sourceType = source && catalog.get(source.type);
    if (source !== undefined && sourceType !== undefined) {
      const handles = outputHandlesOf(source, sourceType);
      if (handles !== undefined && !handles.includes(handle)) {
        issues.push({
          path: `${at}.source_handle`,
          message:
            handle === ERROR_HANDLE
              ? `${name} leaves node ${nodeRef(source)} by the "${ERROR_HANDLE}" handle, which only a node whose on_error policy is "error_output" has.`
              : `${name} leaves node ${nodeRef(source)} by the handle "${handle}", which it does not have; its handles: ${handles.map((h) => `"${h}"`).join(', ') || 'none'}.`,
        });
      }
    }

    if (target !== undefined && catalog.get(target.type)?.category === 'trigger') {
      issues.push({
        path: `${at}.target`,
        message: `${name} goes into the trigger node ${nodeRef(target)}; a trigger starts the workflow and takes no input.`,
      });
    }

    const connection = [edge.source, handle, edge.target, targetHandleOf(edge)].join('\u0000');
    const first = connections.get(connection);
    if (first === undefined) {
      connections.set(connection, index);
    } else {
      issues.push({
        path: at,
        message: `${name} repeats edge "${graph.edges[first]!.id}": the same source, handle and target.`,
      });
    }
  });
  return issues;
}
