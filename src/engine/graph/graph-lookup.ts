import type { NodeTypeDefinition } from '../node-type.js';
import type { WorkflowEdge, WorkflowGraph, WorkflowNode } from '../types.js';

/** Where the graph functions look node types up: the node catalog, or a fake one in tests. */
export interface NodeTypeLookup {
  get(type: string): NodeTypeDefinition | undefined;
}

/** Each node id → its node. A repeated id keeps its first node (validateGraph reports the repeat). */
export function nodesById(graph: WorkflowGraph): Map<string, WorkflowNode> {
  const byId = new Map<string, WorkflowNode>();
  for (const node of graph.nodes) if (!byId.has(node.id)) byId.set(node.id, node);
  return byId;
}

/**
 * For each node id, the indexes (into `graph.edges`) of the edges leaving it, in edge order.
 * Edges from or to a node that does not exist are left out, and so are those `skip` rejects.
 */
export function outgoingEdgeIndexes(
  graph: WorkflowGraph,
  nodes: ReadonlyMap<string, WorkflowNode>,
  skip?: (edge: WorkflowEdge) => boolean,
): Map<string, number[]> {
  const outgoing = new Map<string, number[]>();
  graph.edges.forEach((edge, index) => {
    if (!nodes.has(edge.source) || !nodes.has(edge.target) || skip?.(edge)) return;
    const list = outgoing.get(edge.source);
    if (list === undefined) outgoing.set(edge.source, [index]);
    else list.push(index);
  });
  return outgoing;
}

/** The edges into a node whose type allows cycles: the loop-backs, which every cycle must use. */
export function entersCycleAllowingNode(
  nodes: ReadonlyMap<string, WorkflowNode>,
  catalog: NodeTypeLookup,
): (edge: WorkflowEdge) => boolean {
  return (edge) => {
    const target = nodes.get(edge.target);
    return target !== undefined && catalog.get(target.type)?.allowsCycles === true;
  };
}

/** How messages name a node: `Node "http1" (Fetch orders)`, by id and, when it has one, name. */
export function nodeLabel(node: Pick<WorkflowNode, 'id' | 'name'>): string {
  return node.name ? `Node "${node.id}" (${node.name})` : `Node "${node.id}"`;
}

/** A node named inside a sentence: `"http1" (Fetch orders)`. */
export function nodeRef(node: Pick<WorkflowNode, 'id' | 'name'>): string {
  return node.name ? `"${node.id}" (${node.name})` : `"${node.id}"`;
}
