import fs from 'node:fs';
import path from 'node:path';

/** How a stored step value points at the file that holds it. */
interface FileRef {
  $file: string;
  bytes: number;
}

const DIR = 'execution-data';

function isFileRef(value: unknown): value is FileRef {
  return typeof value === 'object' && value !== null && typeof (value as FileRef).$file === 'string' && Object.keys(value).length === 2;
}

export function executionDataDir(dataDir: string, executionId: string): string {
  return path.join(dataDir, DIR, executionId);
}

/**
 * A step's input or output as stored: JSON in the row while it is small, else a file under the
 * data dir and a reference in the row, so execution rows stay small however big payloads get.
 */
export function encodeStepValue(value: unknown, options: { dataDir: string; executionId: string; name: string; maxBytes: number }): string | null {
  if (value === undefined || value === null) return null;
  const json = JSON.stringify(value);
  if (json.length <= options.maxBytes || Buffer.byteLength(json) <= options.maxBytes) return json;
  const dir = executionDataDir(options.dataDir, options.executionId);
  fs.mkdirSync(dir, { recursive: true });
  const file = `${options.name}.json`;
  fs.writeFileSync(path.join(dir, file), json);
  return JSON.stringify({ $file: file, bytes: Buffer.byteLength(json) } satisfies FileRef);
}

/** The stored value back (reading the file when it was kept in one). */
export function decodeStepValue(stored: unknown, options: { dataDir: string; executionId: string }): unknown {
  const value = typeof stored === 'string' ? (JSON.parse(stored) as unknown) : (stored ?? null);
  if (!isFileRef(value)) return value;
  try {
    return JSON.parse(fs.readFileSync(path.join(executionDataDir(options.dataDir, options.executionId), path.basename(value.$file)), 'utf8'));
  } catch {
    return { $missing_file: value.$file, bytes: value.bytes };
  }
}

/** Without reading the file: the reference as the API shows it. */
export function describeStepValue(stored: unknown): { value: unknown; fileBytes: number | null } {
  const value = typeof stored === 'string' ? (JSON.parse(stored) as unknown) : (stored ?? null);
  return isFileRef(value) ? { value: null, fileBytes: value.bytes } : { value, fileBytes: null };
}

export function removeExecutionData(dataDir: string, executionIds: readonly string[]): void {
  for (const id of executionIds) fs.rmSync(executionDataDir(dataDir, id), { recursive: true, force: true });
}
