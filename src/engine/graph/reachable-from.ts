import type { WorkflowGraph } from '../types.js';
import { nodesById, outgoingEdgeIndexes } from './graph-lookup.js';

/**
 * The ids of the nodes reachable from `startIds` by following edges (any handle), the start
 * nodes included. Ids that name no node, and edges to or from a missing node, are ignored.
 */
export function reachableFrom(graph: WorkflowGraph, startIds: Iterable<string>): Set<string> {
  const nodes = nodesById(graph);
  const outgoing = outgoingEdgeIndexes(graph, nodes);
  const reached = new Set<string>();
  const pending: string[] = [];
  for (const id of startIds) {
    if (nodes.has(id) && !reached.has(id)) {
      reached.add(id);
      pending.push(id);
    }
  }
  while (pending.length > 0) {
    const id = pending.pop() as string;
    for (const edgeIndex of outgoing.get(id) ?? []) {
      const target = graph.edges[edgeIndex]!.target;
      if (!reached.has(target)) {
        reached.add(target);
        pending.push(target);
      }
    }
  }
  return reached;
}
