import type { WorkflowGraph } from '../types.js';
import { forEachBackEdge } from './back-edges.js';
import { nodesById, outgoingEdgeIndexes, type NodeTypeLookup } from './graph-lookup.js';
import { triggerNodes } from './trigger-nodes.js';

/**
 * The indexes of the edges that return to a loop (a node whose type allows cycles) from its
 * body: the back edges into such nodes of a depth-first search from the triggers. The edge that
 * first leads into a loop is not one, nor is an inner loop's entry from an outer loop's body.
 */
export function loopBackEdges(graph: WorkflowGraph, catalog: NodeTypeLookup): Set<number> {
  const nodes = nodesById(graph);
  const outgoing = outgoingEdgeIndexes(graph, nodes);
  const roots = [...triggerNodes(graph, catalog).map((node) => node.id), ...nodes.keys()];
  const found = new Set<number>();
  forEachBackEdge(graph, outgoing, roots, ({ edgeIndex }) => {
    const target = nodes.get(graph.edges[edgeIndex]!.target)!;
    if (catalog.get(target.type)?.allowsCycles === true) found.add(edgeIndex);
  });
  return found;
}
