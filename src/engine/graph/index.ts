/** Graph checks and algorithms over a workflow graph: pure functions, one per file. */
export { ancestorsOf } from './ancestors-of.js';
export type { ExpressionChecker } from './expression-issues.js';
export { findCycles, type GraphCycle } from './find-cycles.js';
export { loopBackEdges } from './loop-back-edges.js';
export { nodeLabel, nodesById, type NodeTypeLookup } from './graph-lookup.js';
export { MAX_ATTEMPTS, MAX_RETRY_DELAY_MS } from './node-issues.js';
export { outputHandlesOf } from './output-handles.js';
export { reachableFrom } from './reachable-from.js';
export { templateExpressions, type TemplateExpression } from './template-expressions.js';
export { triggerNodes } from './trigger-nodes.js';
export { validateGraph, type ValidateGraphOptions } from './validate-graph.js';
