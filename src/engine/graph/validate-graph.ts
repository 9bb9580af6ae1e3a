import type { GraphIssue, WorkflowGraph } from '../types.js';
import { edgeIssues } from './edge-issues.js';
import { expressionIssues, type ExpressionChecker } from './expression-issues.js';
import { findCycles } from './find-cycles.js';
import { nodeLabel, nodeRef, nodesById, type NodeTypeLookup } from './graph-lookup.js';
import { nodeIdIssues, nodePolicyIssues } from './node-issues.js';
import { parameterSchemaIssues } from './parameter-schema-issues.js';
import { reachableFrom } from './reachable-from.js';
import { triggerNodes } from './trigger-nodes.js';

export interface ValidateGraphOptions {
  /** Syntax check for `{{ }}` expressions in parameters; without it, expressions are not parsed. */
  checkExpression?: ExpressionChecker;
}

/**
 * Every problem of a workflow graph, each with the path of the field at fault and a message that
 * names the node (id and name) or edge (id): ids, node types, parameters against the type's
 * schema, retry and error policies, edges, nodes no trigger reaches, and cycles that skip every
 * loop node. An empty graph is valid. Linear in the graph's size (plus each cycle's length).
 */
export function validateGraph(graph: WorkflowGraph, catalog: NodeTypeLookup, options: ValidateGraphOptions = {}): GraphIssue[] {
  const issues: GraphIssue[] = nodeIdIssues(graph);

  graph.nodes.forEach((node, index) => {
    const definition = catalog.get(node.type);
    if (definition === undefined) {
      issues.push({ path: `nodes.${index}.type`, message: `${nodeLabel(node)} has an unknown type "${node.type}".` });
    } else {
      issues.push(...parameterSchemaIssues(node, index, definition));
      if (options.checkExpression) issues.push(...expressionIssues(node, index, definition, options.checkExpression));
    }
    issues.push(...nodePolicyIssues(node, index));
  });

  issues.push(...edgeIssues(graph, catalog));
  issues.push(...reachabilityIssues(graph, catalog));
  issues.push(...cycleIssues(graph, catalog));
  return issues;
}

function reachabilityIssues(graph: WorkflowGraph, catalog: NodeTypeLookup): GraphIssue[] {
  if (graph.nodes.length === 0) return [];
  const triggers = triggerNodes(graph, catalog);
  if (triggers.length === 0) {
    return [{ path: 'nodes', message: 'A workflow needs a trigger node (manual, webhook, schedule…) to start from.' }];
  }
  const reached = reachableFrom(graph, triggers.map((node) => node.id));
  const issues: GraphIssue[] = [];
  graph.nodes.forEach((node, index) => {
    if (!reached.has(node.id)) {
      issues.push({ path: `nodes.${index}`, message: `${nodeLabel(node)} cannot be reached from any trigger node.` });
    }
  });
  return issues;
}

function cycleIssues(graph: WorkflowGraph, catalog: NodeTypeLookup): GraphIssue[] {
  const nodes = nodesById(graph);
  return findCycles(graph, catalog).map((cycle) => {
    const names = cycle.nodeIds.map((id) => nodeRef(nodes.get(id)!));
    const closing = cycle.edgeIndexes[cycle.edgeIndexes.length - 1]!;
    const edgeIds = cycle.edgeIndexes.map((index) => `"${graph.edges[index]!.id}"`).join(', ');
    return {
      path: `edges.${closing}`,
      message: `${cycle.edgeIndexes.length === 1 ? 'Edge' : 'Edges'} ${edgeIds} ${cycle.edgeIndexes.length === 1 ? 'forms' : 'form'} a cycle ${[...names, names[0]].join(' → ')}; a cycle must go through a loop node.`,
    };
  });
}
