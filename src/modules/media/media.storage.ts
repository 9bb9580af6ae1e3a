import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Files live under `<data dir>/media/<workspace id>/<media id>`. An upload is written to a
 * temporary name in the same directory and renamed into place once complete, so a reader never
 * sees a partial file and a failed upload leaves nothing behind.
 */
export class MediaStorage {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = path.join(dataDir, 'media');
  }

  keyOf(workspaceId: string, mediaId: string): string {
    return `${workspaceId}/${mediaId}`;
  }

  /** The file of a storage key; keys are ours, but one that escapes the root is refused anyway. */
  pathOf(key: string): string {
    const file = path.resolve(this.root, key);
    if (!file.startsWith(this.root + path.sep)) throw new Error('Storage key outside the media directory');
    return file;
  }

  /**
   * Streams `source` through `through` into a temporary file of the workspace's directory.
   * Returns its path; the caller either commits it with `commit` or removes it with `discard`.
   */
  async writeTemporary(workspaceId: string, source: Readable, through: NodeJS.ReadWriteStream): Promise<string> {
    const dir = path.join(this.root, workspaceId);
    await fsp.mkdir(dir, { recursive: true });
    const temporary = path.join(dir, `.upload-${randomUUID()}.tmp`);
    // A source destroyed before the pipeline starts (the client went away, the parser gave up)
    // would never settle it.
    if (source.destroyed) throw Object.assign(new Error('The upload stream closed early.'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    try {
      await pipeline(source, through, fs.createWriteStream(temporary, { flags: 'wx' }));
    } catch (error) {
      await this.discard(temporary);
      throw error;
    }
    return temporary;
  }

  async commit(temporary: string, key: string): Promise<void> {
    await fsp.rename(temporary, this.pathOf(key));
  }

  async discard(file: string): Promise<void> {
    await fsp.rm(file, { force: true });
  }

  async remove(key: string): Promise<void> {
    await fsp.rm(this.pathOf(key), { force: true });
  }

  /** A stream of the file, or undefined when it is gone. */
  async open(key: string): Promise<fs.ReadStream | undefined> {
    try {
      const handle = await fsp.open(this.pathOf(key), 'r');
      return handle.createReadStream();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async read(key: string): Promise<Buffer | undefined> {
    try {
      return await fsp.readFile(this.pathOf(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Up to `maxBytes` from the start of the file and its full size, or undefined when it is gone. */
  async readPrefix(key: string, maxBytes: number): Promise<{ bytes: Buffer; size: number } | undefined> {
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(this.pathOf(key), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const { size } = await handle.stat();
      const buffer = Buffer.alloc(Math.min(size, maxBytes));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      return { bytes: buffer.subarray(0, bytesRead), size };
    } finally {
      await handle.close();
    }
  }
}
