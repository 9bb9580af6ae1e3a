import type { WorkflowGraph, WorkflowNode } from '../types.js';
import type { NodeTypeLookup } from './graph-lookup.js';

/** The nodes an execution can start at: those whose type is in the `trigger` category, in graph order. */
export function triggerNodes(graph: WorkflowGraph, catalog: NodeTypeLookup): WorkflowNode[] {
  return graph.nodes.filter((node) => catalog.get(node.type)?.category === 'trigger');
}
