/** How long a training chunk is at most, in characters: a few paragraphs of context. */
export const CHUNK_SIZE = 1500;

/** Sentence ends: `.`, `!`, `?` or `…` (with closing quotes or brackets) before white space. */
const SENTENCE_END = /(?<=[.!?…]['"”’)\]]*)\s+/u;

/** Pieces of at most `size` characters, cut at white space when there is any, else hard. */
function splitWords(text: string, size: number): string[] {
  const pieces: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/)) {
    if (word === '') continue;
    for (let start = 0; start < word.length; start += size) {
      const part = word.slice(start, start + size);
      if (current === '') current = part;
      else if (current.length + 1 + part.length <= size) current += ` ${part}`;
      else {
        pieces.push(current);
        current = part;
      }
    }
  }
  if (current !== '') pieces.push(current);
  return pieces;
}

/** A paragraph as pieces that fit: whole if it does, else its sentences, else words. */
function splitParagraph(paragraph: string, size: number): string[] {
  if (paragraph.length <= size) return [paragraph];
  return paragraph.split(SENTENCE_END).flatMap((sentence) => (sentence.length <= size ? [sentence] : splitWords(sentence, size)));
}

/**
 * Splits a document into chunks of at most `size` characters for retrieval, keeping
 * paragraphs whole where they fit, then sentences, and cutting inside a sentence only when it
 * alone is longer than a chunk. Consecutive pieces are packed into one chunk while they fit:
 * paragraphs joined by a blank line, sentences of one paragraph by a space. Pure and
 * deterministic; empty text gives no chunks.
 */
export function chunkText(text: string, size = CHUNK_SIZE): string[] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError('chunk size must be a positive integer');
  const paragraphs = text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n+/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const chunks: string[] = [];
  let current = '';
  for (const paragraph of paragraphs) {
    splitParagraph(paragraph, size).forEach((piece, index) => {
      const separator = index === 0 ? '\n\n' : ' ';
      if (current === '') current = piece;
      else if (current.length + separator.length + piece.length <= size) current += separator + piece;
      else {
        chunks.push(current);
        current = piece;
      }
    });
  }
  if (current !== '') chunks.push(current);
  return chunks;
}
