import { describe, expect, it } from 'vitest';
import { LogBuffer, MAX_LOG_BYTES, MAX_LOG_LINES } from '../../src/engine/sandbox/log-buffer.js';

const bytes = (lines: string[]) => lines.reduce((sum, line) => sum + Buffer.byteLength(line), 0);

describe('LogBuffer', () => {
  it('keeps lines as they are while under both caps', () => {
    const logs = new LogBuffer();
    logs.push('one');
    logs.push('two');
    expect(logs.toArray()).toEqual(['one', 'two']);
    expect(logs.full).toBe(false);
  });

  it('keeps the first lines and ends with a marker when there are too many', () => {
    const logs = new LogBuffer();
    for (let i = 0; i < MAX_LOG_LINES + 5; i++) logs.push(`line ${i}`);
    const lines = logs.toArray();
    expect(lines).toHaveLength(MAX_LOG_LINES);
    expect(lines[0]).toBe('line 0');
    expect(lines[MAX_LOG_LINES - 2]).toBe(`line ${MAX_LOG_LINES - 2}`);
    expect(lines.at(-1)).toBe('[logs truncated]');
    expect(logs.full).toBe(true);
  });

  it('does not add a marker when exactly at the line cap', () => {
    const logs = new LogBuffer();
    for (let i = 0; i < MAX_LOG_LINES; i++) logs.push('x');
    expect(logs.toArray()).toEqual(Array(MAX_LOG_LINES).fill('x'));
  });

  it('cuts by UTF-8 bytes without splitting a character, marker included', () => {
    const logs = new LogBuffer();
    logs.push('start');
    logs.push('é'.repeat(MAX_LOG_BYTES)); // 2 bytes each
    logs.push('dropped');
    const lines = logs.toArray();
    expect(lines[0]).toBe('start');
    expect(lines[1]).toMatch(/^é+$/);
    expect(lines.at(-1)).toBe('[logs truncated]');
    expect(lines).not.toContain('dropped');
    expect(bytes(lines)).toBeLessThanOrEqual(MAX_LOG_BYTES);
    expect(bytes(lines)).toBeGreaterThan(MAX_LOG_BYTES - 20);
  });

  it('does not split surrogate pairs', () => {
    const logs = new LogBuffer();
    logs.push('😀'.repeat(MAX_LOG_BYTES)); // 4 bytes each
    const [first] = logs.toArray();
    expect(first).toMatch(/^(😀)+$/u);
  });
});
