import type { NodeTypeDefinition } from '../node-type.js';
import type { NodeCatalog } from '../runtime-graph.js';
import { customerAccountsNode, httpRequestNode, respondNode, subWorkflowNode } from './actions.js';
import { agentNode, promptNode } from './ai.js';
import { codeNode, setNode, transformNode } from './data.js';
import { ifNode, loopNode, mergeNode, switchNode, waitNode } from './flow.js';
import { agentToolTrigger, manualTrigger, scheduleTrigger, webhookTrigger } from './triggers.js';

/** Every node type, in catalog order. The type names are part of the API: graphs store them. */
export const NODE_TYPES: readonly NodeTypeDefinition[] = [
  manualTrigger,
  webhookTrigger,
  scheduleTrigger,
  agentToolTrigger,
  setNode,
  transformNode,
  codeNode,
  ifNode,
  switchNode,
  mergeNode,
  loopNode,
  waitNode,
  httpRequestNode,
  respondNode,
  promptNode,
  agentNode,
  subWorkflowNode,
  customerAccountsNode,
];

const byType = new Map(NODE_TYPES.map((definition) => [definition.type, definition]));

export const nodeCatalog: NodeCatalog = { get: (type) => byType.get(type) };
