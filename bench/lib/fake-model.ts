/**
 * What the bench's fake model server answers, shared by the server (a child process) and the
 * scenarios that check every streamed reply arrived whole.
 */
export interface FakeModelScript {
  /** Content chunks of each streamed reply. */
  chunks: number;
  /** Wait between content chunks; the first one goes out at once, with the role chunk. */
  chunkDelayMs: number;
}

export const FAKE_MODEL_KEY = 'sk-bench-fake-model-0123456789';

const WORDS = ['Sure', 'here', 'is', 'a', 'streamed', 'answer', 'from', 'the', 'bench', 'model', 'with', 'several', 'chunks'];

/**
 * The reply to a conversation whose last user message is `input`, in its chunks: it names the
 * input, so a reply that went to the wrong run or lost a piece does not compare equal.
 */
export function replyChunks(input: string, chunks: number): string[] {
  const pieces = [`Re: ${input}.`];
  for (let i = 1; i < chunks; i++) pieces.push(` ${WORDS[i % WORDS.length]}`);
  return pieces;
}
