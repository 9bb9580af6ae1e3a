import type { NodeTypeDefinition } from '../node-type.js';
import { ERROR_HANDLE, type WorkflowNode } from '../types.js';

/**
 * The handles a node's output can leave by: its type's outputs (which may depend on its
 * parameters, like a switch's cases) and, under the `error_output` policy, `error`.
 * Undefined when the type's outputs function fails on these parameters (they are invalid,
 * which the parameter check reports).
 */
export function outputHandlesOf(node: WorkflowNode, definition: NodeTypeDefinition): string[] | undefined {
  let outputs: readonly string[];
  if (typeof definition.outputs === 'function') {
    try {
      outputs = definition.outputs(node.parameters ?? {});
    } catch {
      return undefined;
    }
    if (!Array.isArray(outputs)) return undefined;
  } else {
    outputs = definition.outputs;
  }
  return node.on_error === 'error_output' && !outputs.includes(ERROR_HANDLE) ? [...outputs, ERROR_HANDLE] : [...outputs];
}
