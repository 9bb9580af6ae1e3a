/** At most this many console lines are kept per call. */
export const MAX_LOG_LINES = 100;
/** At most this many bytes (UTF-8) of console output are kept per call. */
export const MAX_LOG_BYTES = 10 * 1024;

const TRUNCATED_MARKER = '[logs truncated]';
const MARKER_BYTES = Buffer.byteLength(TRUNCATED_MARKER);

/**
 * Console lines captured from one call, capped in count and size. When anything was cut, the
 * last line is TRUNCATED_MARKER (room is made for it within the caps).
 */
export class LogBuffer {
  private readonly lines: string[] = [];
  private bytes = 0;
  private truncated = false;

  /** Whether further lines would be dropped (callers can skip formatting them). */
  get full(): boolean {
    return this.truncated;
  }

  push(line: string): void {
    if (this.truncated) return;
    if (this.lines.length >= MAX_LOG_LINES) {
      this.truncated = true;
      return;
    }
    const size = Buffer.byteLength(line);
    if (this.bytes + size <= MAX_LOG_BYTES) {
      this.lines.push(line);
      this.bytes += size;
      return;
    }
    const room = MAX_LOG_BYTES - this.bytes;
    if (room > 0) {
      const part = cutToBytes(line, room);
      this.lines.push(part);
      this.bytes += Buffer.byteLength(part);
    }
    this.truncated = true;
  }

  toArray(): string[] {
    const lines = [...this.lines];
    if (!this.truncated) return lines;
    let bytes = this.bytes;
    while (lines.length > MAX_LOG_LINES - 1) bytes -= Buffer.byteLength(lines.pop() as string);
    while (lines.length > 0 && bytes + MARKER_BYTES > MAX_LOG_BYTES) {
      const last = lines.pop() as string;
      bytes -= Buffer.byteLength(last);
      // Keep the start of a long last line rather than dropping it whole.
      const part = cutToBytes(last, MAX_LOG_BYTES - MARKER_BYTES - bytes);
      if (part !== '') {
        lines.push(part);
        bytes += Buffer.byteLength(part);
      }
    }
    lines.push(TRUNCATED_MARKER);
    return lines;
  }
}

/** The longest prefix of `text` that fits in `maxBytes` of UTF-8, not splitting a character. */
function cutToBytes(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const point = char.codePointAt(0) as number;
    // Lone surrogates are written as U+FFFD: 3 bytes, like Buffer.byteLength counts them.
    const size = point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}
