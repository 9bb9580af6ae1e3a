import type { WorkflowGraph } from '../types.js';

/** Where a back edge was found: the current depth-first path, its target's position on it. */
export interface BackEdge {
  edgeIndex: number;
  /** The path's nodes from its root; the back edge leaves the last one. */
  pathNodes: readonly string[];
  /** `pathEdges[k]` entered `pathNodes[k]` (-1 for the root). */
  pathEdges: readonly number[];
  /** Where the edge's target is on the path. */
  targetPosition: number;
}

/**
 * A depth-first search over `outgoing` (node id → edge indexes), from each of `roots` in turn
 * that is not yet visited, calling `onBackEdge` for each edge into a node on the current path.
 * Iterative, so a long chain cannot overflow the stack. The path arrays are live: copy them.
 */
export function forEachBackEdge(
  graph: WorkflowGraph,
  outgoing: ReadonlyMap<string, readonly number[]>,
  roots: Iterable<string>,
  onBackEdge: (found: BackEdge) => void,
): void {
  // A node absent from `done` and `positionOnPath` is not yet visited.
  const done = new Set<string>();
  const positionOnPath = new Map<string, number>();
  const pathNodes: string[] = [];
  const pathEdges: number[] = [];
  const nextEdge: number[] = [];

  const enter = (id: string, edgeIndex: number) => {
    positionOnPath.set(id, pathNodes.length);
    pathNodes.push(id);
    pathEdges.push(edgeIndex);
    nextEdge.push(0);
  };

  for (const root of roots) {
    if (done.has(root) || positionOnPath.has(root)) continue;
    enter(root, -1);
    while (pathNodes.length > 0) {
      const top = pathNodes.length - 1;
      const id = pathNodes[top]!;
      const edges = outgoing.get(id);
      const next = nextEdge[top]!;
      if (edges === undefined || next >= edges.length) {
        done.add(id);
        positionOnPath.delete(id);
        pathNodes.pop();
        pathEdges.pop();
        nextEdge.pop();
        continue;
      }
      nextEdge[top] = next + 1;
      const edgeIndex = edges[next]!;
      const target = graph.edges[edgeIndex]!.target;
      const targetPosition = positionOnPath.get(target);
      if (targetPosition !== undefined) onBackEdge({ edgeIndex, pathNodes, pathEdges, targetPosition });
      else if (!done.has(target)) enter(target, edgeIndex);
    }
  }
}
