import { Type } from 'typebox';
import { output, type NodeTypeDefinition } from '../../src/engine/node-type.js';
import type { WorkflowGraph } from '../../src/engine/types.js';

/** A small catalog for the graph algorithms' tests: a trigger, a plain node, a join and a loop. */
const run = async () => output(null);
const definition = (type: string, extra: Partial<NodeTypeDefinition>): NodeTypeDefinition => ({
  type,
  category: 'data',
  label: type,
  description: '',
  parameters: Type.Object({}),
  outputs: ['main'],
  run,
  ...extra,
});
const TYPES = new Map([
  ['manual', definition('manual', { category: 'trigger' })],
  ['set', definition('set', {})],
  ['merge', definition('merge', { category: 'flow', joinsInputs: true })],
  ['loop', definition('loop', { category: 'flow', outputs: ['item', 'done'], allowsCycles: true })],
]);
export const catalog = { get: (type: string) => TYPES.get(type) };

/** Nodes as `id:type`; edges as `a -> b` or `a.handle -> b`, the edge at index i with id `e<i>`. */
export function graph(nodes: string[], edges: string[]): WorkflowGraph {
  return {
    nodes: nodes.map((spec) => {
      const [id, type] = spec.split(':') as [string, string];
      return { id, type, name: id, position: { x: 0, y: 0 }, parameters: {} };
    }),
    edges: edges.map((spec, index) => {
      const [from, target] = spec.split(' -> ') as [string, string];
      const [source, handle] = from.split('.') as [string, string | undefined];
      return { id: `e${index}`, source, target, source_handle: handle ?? null };
    }),
  };
}
