import type { WorkflowGraph } from '../types.js';
import { forEachBackEdge } from './back-edges.js';
import { entersCycleAllowingNode, nodesById, outgoingEdgeIndexes, type NodeTypeLookup } from './graph-lookup.js';
import { triggerNodes } from './trigger-nodes.js';

/** A cycle: `nodeIds[0] → nodeIds[1] → … → nodeIds[0]`, by the edges `edgeIndexes` (into `graph.edges`). */
export interface GraphCycle {
  nodeIds: string[];
  /** `edgeIndexes[k]` leaves `nodeIds[k]`; the last one closes the cycle. */
  edgeIndexes: number[];
}

/**
 * The cycles that do not pass through a node whose type allows cycles (a loop node): the edges
 * into such nodes are dropped and what remains must be acyclic. One cycle per back edge of a
 * depth-first search (started at the triggers, so the back edge is the one that returns
 * upstream); every cycle contains a back edge, so none are returned exactly when the rest is
 * acyclic. Linear in the graph's size, plus the length of each cycle returned.
 */
export function findCycles(graph: WorkflowGraph, catalog: NodeTypeLookup): GraphCycle[] {
  const nodes = nodesById(graph);
  const outgoing = outgoingEdgeIndexes(graph, nodes, entersCycleAllowingNode(nodes, catalog));
  const roots = [...triggerNodes(graph, catalog).map((node) => node.id), ...nodes.keys()];
  const cycles: GraphCycle[] = [];
  forEachBackEdge(graph, outgoing, roots, ({ edgeIndex, pathNodes, pathEdges, targetPosition }) => {
    cycles.push({
      nodeIds: pathNodes.slice(targetPosition),
      edgeIndexes: [...pathEdges.slice(targetPosition + 1), edgeIndex],
    });
  });
  return cycles;
}
