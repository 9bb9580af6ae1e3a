import type { NodeTypeDefinition } from './node-type.js';
import { sourceHandleOf, type WorkflowEdge, type WorkflowGraph, type WorkflowNode } from './types.js';

export interface NodeCatalog {
  get(type: string): NodeTypeDefinition | undefined;
}

/** A validated graph indexed for running: built once per workflow version and reused by every execution. */
export interface RuntimeGraph {
  graph: WorkflowGraph;
  node(id: string): WorkflowNode | undefined;
  definition(id: string): NodeTypeDefinition;
  /** Edges leaving `id` by `handle`, in the graph's order. */
  outgoing(id: string, handle: string): readonly WorkflowEdge[];
  /** Edges arriving at `id`. */
  incoming(id: string): readonly WorkflowEdge[];
  /** Whether `candidate` can still lead to `id` by any path (through loops too). */
  isAncestor(candidate: string, id: string): boolean;
  /** Trigger nodes, in graph order. */
  triggers: readonly WorkflowNode[];
}

const NONE: readonly WorkflowEdge[] = Object.freeze([]);

/** Indexes a graph for the executor; throws when a node's type is unknown (graphs are validated on save). */
export function compileGraph(graph: WorkflowGraph, catalog: NodeCatalog): RuntimeGraph {
  const nodes = new Map<string, WorkflowNode>();
  const definitions = new Map<string, NodeTypeDefinition>();
  for (const node of graph.nodes) {
    const definition = catalog.get(node.type);
    if (!definition) throw new Error(`Node "${node.id}" has an unknown type "${node.type}".`);
    nodes.set(node.id, node);
    definitions.set(node.id, definition);
  }
  const outgoing = new Map<string, WorkflowEdge[]>();
  const incoming = new Map<string, WorkflowEdge[]>();
  for (const edge of graph.edges) {
    const key = `${edge.source}\u0000${sourceHandleOf(edge)}`;
    let list = outgoing.get(key);
    if (!list) outgoing.set(key, (list = []));
    list.push(edge);
    let into = incoming.get(edge.target);
    if (!into) incoming.set(edge.target, (into = []));
    into.push(edge);
  }
  const ancestors = new Map<string, Set<string>>();
  return {
    graph,
    node: (id) => nodes.get(id),
    definition: (id) => definitions.get(id)!,
    outgoing: (id, handle) => outgoing.get(`${id}\u0000${handle}`) ?? NONE,
    incoming: (id) => incoming.get(id) ?? NONE,
    isAncestor: (candidate, id) => {
      // Only join nodes ask, while branches are pending: computed per join on first need. A node
      // in a loop's body counts, since the loop it returns to may still go on to the join.
      let upstream = ancestors.get(id);
      if (!upstream) ancestors.set(id, (upstream = upstreamOf(id, incoming)));
      return upstream.has(candidate);
    },
    triggers: graph.nodes.filter((node) => definitions.get(node.id)!.category === 'trigger'),
  };
}

/** Every node with a path to `id`, over all edges (loop-backs included). */
function upstreamOf(id: string, incoming: Map<string, WorkflowEdge[]>): Set<string> {
  const seen = new Set<string>();
  const stack = [id];
  while (stack.length > 0) {
    for (const edge of incoming.get(stack.pop()!) ?? []) {
      if (seen.has(edge.source)) continue;
      seen.add(edge.source);
      stack.push(edge.source);
    }
  }
  return seen;
}
