import type { AppContext } from '../../context.js';
import { fieldError } from '../../errors.js';
import { storeMemories, type NewMemory } from '../memories/memories.service.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { resolveAgentAccessOrThrow } from './access.js';
import type { TrainAgentInput } from './agents.schemas.js';
import { chunkText } from './text-chunks.js';

export interface TrainingResult {
  examples: number;
  documents: number;
  chunks: number;
  memories: string[];
}

/**
 * Stores examples and documents as the agent's own knowledge (training memories without a
 * user, retrieved for whoever runs it): each example as one `example` memory, each document as
 * `document` memories of about 1,500 characters. Needs `edit`. One call stores them all.
 */
export async function trainAgent(ctx: AppContext, scope: WorkspaceScope, agentId: string, input: TrainAgentInput): Promise<TrainingResult> {
  const { agent } = await resolveAgentAccessOrThrow(ctx.db.kysely, scope, agentId, 'edit');
  const examples = input.examples ?? [];
  const documents = input.documents ?? [];
  if (examples.length === 0 && documents.length === 0) {
    throw fieldError('examples', 'The examples field is required when documents is not present.');
  }
  const base = { workspaceId: agent.workspace_id, agentId: agent.id, userId: null, threadId: null, source: 'training' } as const;
  const rows: NewMemory[] = examples.map((example) => ({
    ...base,
    type: 'example',
    content: `${example.input}\n\n${example.output}`,
    metadata: { input: example.input, output: example.output },
  }));
  let chunks = 0;
  for (const [i, document] of documents.entries()) {
    const pieces = chunkText(document.content);
    if (pieces.length === 0) throw fieldError(`documents.${i}.content`, `The documents.${i}.content field is required.`);
    const title = document.title?.trim() || null;
    pieces.forEach((content, index) => {
      rows.push({ ...base, type: 'document', content, metadata: { title, chunk: index + 1, chunks: pieces.length } });
    });
    chunks += pieces.length;
  }
  const stored = await storeMemories(ctx, rows);
  return { examples: examples.length, documents: documents.length, chunks, memories: stored.map((m) => m.id) };
}
