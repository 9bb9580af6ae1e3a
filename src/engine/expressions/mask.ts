import { setOwn } from './objects.js';

/** What a secret's value is replaced with in stored execution data. */
export const SECRET_MASK = '********';

// The last pattern built, reused while the same secrets are masked (one execution's nodes).
let lastKey: string | null = null;
let lastPattern: RegExp | null = null;

function patternFor(secrets: readonly string[]): RegExp | null {
  const usable = [...new Set(secrets.filter((s) => typeof s === 'string' && s.length > 0))];
  const key = JSON.stringify(usable);
  if (key !== lastKey) {
    // Longest first, so a secret that contains another is masked whole.
    usable.sort((a, b) => b.length - a.length);
    lastPattern = usable.length === 0 ? null : new RegExp(usable.map(escapeRegExp).join('|'), 'g');
    lastKey = key;
  }
  return lastPattern;
}

const escapeRegExp = (text: string): string => text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

function mask(value: unknown, pattern: RegExp): unknown {
  if (typeof value === 'string') {
    pattern.lastIndex = 0;
    return pattern.test(value) ? value.replace(pattern, SECRET_MASK) : value;
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const masked = mask(item, pattern);
      if (masked !== item) (copy ??= value.slice())[i] = masked;
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | null = null;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const masked = mask(item, pattern);
    if (masked !== item) setOwn((copy ??= { ...(value as Record<string, unknown>) }), key, masked);
  }
  return copy ?? value;
}

/**
 * A copy of `value` with every occurrence of each secret inside its strings replaced by
 * `********` (keys are left alone); the same value when nothing needs masking.
 */
export function maskSecrets(value: unknown, secrets: readonly string[]): unknown {
  if (secrets.length === 0) return value;
  const pattern = patternFor(secrets);
  return pattern ? mask(value, pattern) : value;
}
