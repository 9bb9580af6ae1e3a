import type { WorkflowGraph } from '../types.js';
import { nodesById, type NodeTypeLookup } from './graph-lookup.js';
import { loopBackEdges } from './loop-back-edges.js';

/**
 * Each node's ancestors: the nodes with a path to it, over the graph without the edges that
 * return to a loop from its body (see loopBackEdges), so a join can tell whether a branch may
 * still deliver. The edges that lead into a loop are kept: what comes before a loop is upstream
 * of what comes after it. A node is its own ancestor only on a cycle that skips every loop
 * node (which validateGraph rejects) or enters a loop's body other than through the loop.
 * `nodeIds` limits the map to those nodes: a join needs only its own, while every node's
 * ancestors take quadratic space on a long chain.
 */
export function ancestorsOf(graph: WorkflowGraph, catalog: NodeTypeLookup, nodeIds?: Iterable<string>): Map<string, Set<string>> {
  const nodes = nodesById(graph);
  const loopBacks = loopBackEdges(graph, catalog);
  const sources = new Map<string, string[]>();
  for (const [index, edge] of graph.edges.entries()) {
    if (!nodes.has(edge.source) || !nodes.has(edge.target) || loopBacks.has(index)) continue;
    const list = sources.get(edge.target);
    if (list === undefined) sources.set(edge.target, [edge.source]);
    else list.push(edge.source);
  }

  const ancestors = new Map<string, Set<string>>();
  if (nodeIds === undefined) {
    // All nodes: in topological order each node's set is its sources' sets plus the sources,
    // far cheaper than a search per node. Nodes on a cycle never come up in that order.
    for (const id of topologicalOrder(nodes.keys(), sources)) {
      const direct = sources.get(id) ?? [];
      const found = direct.length > 0 ? new Set(ancestors.get(direct[0]!)) : new Set<string>();
      for (const source of direct) {
        found.add(source);
        if (source !== direct[0]) for (const before of ancestors.get(source)!) found.add(before);
      }
      ancestors.set(id, found);
    }
  }
  for (const id of nodeIds ?? nodes.keys()) {
    if (nodes.has(id) && !ancestors.has(id)) ancestors.set(id, searchBackwards(id, sources));
  }
  return ancestors;
}

function searchBackwards(id: string, sources: ReadonlyMap<string, string[]>): Set<string> {
  const found = new Set<string>();
  const pending = [...(sources.get(id) ?? [])];
  while (pending.length > 0) {
    const source = pending.pop()!;
    if (found.has(source)) continue;
    found.add(source);
    for (const before of sources.get(source) ?? []) if (!found.has(before)) pending.push(before);
  }
  return found;
}

/** Kahn's order of the nodes that are on no cycle and downstream of none. */
function topologicalOrder(ids: Iterable<string>, sources: ReadonlyMap<string, string[]>): string[] {
  const waiting = new Map<string, number>();
  const targets = new Map<string, string[]>();
  for (const id of ids) waiting.set(id, sources.get(id)?.length ?? 0);
  for (const [target, list] of sources) {
    for (const source of list) {
      const out = targets.get(source);
      if (out === undefined) targets.set(source, [target]);
      else out.push(target);
    }
  }
  const order = [...waiting.keys()].filter((id) => waiting.get(id) === 0);
  for (let i = 0; i < order.length; i++) {
    for (const target of targets.get(order[i]!) ?? []) {
      const left = waiting.get(target)! - 1;
      waiting.set(target, left);
      if (left === 0) order.push(target);
    }
  }
  return order;
}
