import { createHash, type Hash } from 'node:crypto';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import type { MediaKind } from './media.table.js';

/** Image formats vision models take, recognised by their first bytes. */
const IMAGE_SIGNATURES: Array<{ mime: string; matches: (head: Buffer) => boolean }> = [
  { mime: 'image/png', matches: (h) => h.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { mime: 'image/jpeg', matches: (h) => h.length >= 3 && h[0] === 0xff && h[1] === 0xd8 && h[2] === 0xff },
  { mime: 'image/gif', matches: (h) => ['GIF87a', 'GIF89a'].includes(h.subarray(0, 6).toString('latin1')) },
  { mime: 'image/webp', matches: (h) => h.subarray(0, 4).toString('latin1') === 'RIFF' && h.subarray(8, 12).toString('latin1') === 'WEBP' },
];
const HEAD_BYTES = 12;

/** Text types accepted besides any `text/*`. */
const TEXT_TYPES = new Set(['application/json', 'application/xml', 'application/yaml', 'application/x-yaml', 'application/x-ndjson']);

/** Clients often send `application/octet-stream` for these; the extension names the type then. */
const TEXT_EXTENSIONS: Record<string, string> = {
  '.txt': 'text/plain',
  '.text': 'text/plain',
  '.log': 'text/plain',
  '.md': 'text/markdown',
  '.markdown': 'text/markdown',
  '.csv': 'text/csv',
  '.tsv': 'text/tab-separated-values',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.yaml': 'text/yaml',
  '.yml': 'text/yaml',
};
const GENERIC_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream']);

export const UNSUPPORTED_FILE_MESSAGE = 'The file must be an image (PNG, JPEG, GIF or WebP) or a UTF-8 text file.';

/**
 * Reads an upload as it streams past: size, SHA-256, the first bytes (for the image signature)
 * and whether the whole content is UTF-8 without NUL bytes (for text). Nothing is buffered.
 */
export class ContentInspector extends Transform {
  size = 0;
  private readonly hash: Hash = createHash('sha256');
  private head = Buffer.alloc(0);
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private utf8 = true;
  private digest: string | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    this.hash.update(chunk);
    if (this.head.length < HEAD_BYTES) this.head = Buffer.concat([this.head, chunk.subarray(0, HEAD_BYTES - this.head.length)]);
    if (this.utf8) {
      if (chunk.includes(0)) this.utf8 = false;
      else {
        try {
          this.decoder.decode(chunk, { stream: true });
        } catch {
          this.utf8 = false;
        }
      }
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.utf8) {
      try {
        // A multi-byte sequence cut off at the end is not UTF-8.
        this.decoder.decode();
      } catch {
        this.utf8 = false;
      }
    }
    done();
  }

  get sha256(): string {
    this.digest ??= this.hash.digest('hex');
    return this.digest;
  }

  /** What the content is, judged by its bytes first and the declared type second. */
  classify(declaredType: string, filename: string): { kind: MediaKind; mimeType: string } | undefined {
    const image = IMAGE_SIGNATURES.find((signature) => signature.matches(this.head));
    if (image) return { kind: 'image', mimeType: image.mime };
    if (!this.utf8) return undefined;
    const mimeType = textTypeOf(declaredType, filename);
    return mimeType ? { kind: 'text', mimeType } : undefined;
  }
}

/** The text type an upload declares (or its extension names, when it declares nothing useful). */
function textTypeOf(declaredType: string, filename: string): string | undefined {
  const declared = declaredType.split(';')[0]!.trim().toLowerCase();
  if (declared.startsWith('text/') || TEXT_TYPES.has(declared)) return declared;
  if (GENERIC_TYPES.has(declared)) return TEXT_EXTENSIONS[path.extname(filename).toLowerCase()];
  return undefined;
}

/** A file name without directories, control characters or surrounding blanks (at most 255 characters). */
export function sanitizeFilename(name: string | undefined, fallback = 'upload'): string {
  const base = (name ?? '').split(/[/\\]/).pop() ?? '';
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim().replace(/^\.+$/, '');
  if (!clean) return fallback;
  return [...clean].slice(0, 255).join('');
}

/** `Content-Disposition` with an ASCII fallback and the exact name in RFC 5987 form. */
export function contentDisposition(type: 'inline' | 'attachment', filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** The first `maxBytes` of UTF-8 text, cut at a character boundary. */
export function utf8Prefix(bytes: Buffer, maxBytes: number): Buffer {
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  // Continuation bytes are 10xxxxxx: step back to the start of the character.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
