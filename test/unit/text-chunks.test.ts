import { describe, expect, it } from 'vitest';
import { chunkText } from '../../src/modules/agents/text-chunks.js';

describe('chunkText', () => {
  it('gives no chunks for empty or blank text, and one for short text', () => {
    expect(chunkText('')).toEqual([]);
    expect(chunkText(' \n\n \t\n')).toEqual([]);
    expect(chunkText('  One line.  ')).toEqual(['One line.']);
  });

  it('packs whole paragraphs into chunks while they fit', () => {
    // [aaaa][bbbb][cccc] with size 10: "aaaa\n\nbbbb" is 10, "cccc" starts the next chunk.
    expect(chunkText('aaaa\n\nbbbb\n\ncccc', 10)).toEqual(['aaaa\n\nbbbb', 'cccc']);
    expect(chunkText('aaaa\r\n\r\nbbbb', 10)).toEqual(['aaaa\n\nbbbb']);
    expect(chunkText('aaaa\n   \n\n\nbbbb', 10)).toEqual(['aaaa\n\nbbbb']);
  });

  it('splits a long paragraph at sentence ends, joining its sentences with a space', () => {
    const text = 'First one here. Second one! Third? Fourth.';
    expect(chunkText(text, 30)).toEqual(['First one here. Second one!', 'Third? Fourth.']);
    expect(chunkText('He said "stop." Then left.', 16)).toEqual(['He said "stop."', 'Then left.']);
  });

  it('cuts an overlong sentence at spaces, and an overlong word hard', () => {
    expect(chunkText('one two three four five six', 9)).toEqual(['one two', 'three', 'four five', 'six']);
    expect(chunkText('abcdefghijkl', 5)).toEqual(['abcde', 'fghij', 'kl']);
  });

  it('never exceeds the size, and keeps every word in order', () => {
    const words = Array.from({ length: 2000 }, (_, i) => `word${i}${i % 17 === 16 ? '.' : ''}${i % 101 === 100 ? '\n\n' : ''}`);
    const text = words.join(' ');
    const chunks = chunkText(text, 300);
    expect(chunks.every((c) => c.length <= 300 && c.length > 0)).toBe(true);
    expect(chunks.join(' ').split(/\s+/)).toEqual(text.split(/\s+/));
    expect(chunkText(text, 300)).toEqual(chunks);
  });

  it('defaults to chunks of at most 1,500 characters', () => {
    const paragraph = 'A sentence of about fifty characters, give or take. '.repeat(20).trim();
    const chunks = chunkText(Array.from({ length: 5 }, () => paragraph).join('\n\n'));
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.length <= 1500)).toBe(true);
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => chunkText('text', 0)).toThrow(RangeError);
  });
});
