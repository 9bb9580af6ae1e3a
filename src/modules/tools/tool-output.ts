import { scrubSecrets } from '../accounts/credential-injection.js';

/** What a tool hands the model at most: larger answers are cut, with a note saying so. */
export const MAX_TOOL_OUTPUT_BYTES = 50 * 1024;

/** Text cut to the output limit (on a character boundary), with a note when it was cut. */
export function capText(text: string): string {
  const size = Buffer.byteLength(text);
  if (size <= MAX_TOOL_OUTPUT_BYTES) return text;
  let cut = text.slice(0, MAX_TOOL_OUTPUT_BYTES);
  while (Buffer.byteLength(cut) > MAX_TOOL_OUTPUT_BYTES) cut = cut.slice(0, -1);
  return `${cut}\n[Truncated: the response was ${size} bytes; only the first ${MAX_TOOL_OUTPUT_BYTES} are shown.]`;
}

/**
 * A tool's raw answer as the model gets it: parsed JSON when it is JSON and within the limit,
 * else text (cut to the limit). Secrets of the account are masked first.
 */
export function outputOfText(text: string, secrets: readonly string[], contentType?: string): unknown {
  const clean = scrubSecrets(text, secrets);
  if (Buffer.byteLength(clean) > MAX_TOOL_OUTPUT_BYTES) return capText(clean);
  const looksJson = /json/i.test(contentType ?? '') || /^\s*[[{"]/.test(clean);
  if (looksJson) {
    try {
      return JSON.parse(clean) as unknown;
    } catch {
      return clean;
    }
  }
  return clean;
}

/** A structured answer within the limit, masked; larger ones become cut JSON text. */
export function outputOfValue(value: unknown, secrets: readonly string[]): unknown {
  const text = JSON.stringify(value) ?? 'null';
  const clean = scrubSecrets(text, secrets);
  if (Buffer.byteLength(clean) > MAX_TOOL_OUTPUT_BYTES) return capText(clean);
  if (clean === text) return value;
  try {
    return JSON.parse(clean) as unknown;
  } catch {
    return clean;
  }
}
