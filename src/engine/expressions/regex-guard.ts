/**
 * Regular expressions in expressions (`$match(s, /…/)`) run synchronously, so JSONata's time
 * limit cannot stop a catastrophic backtrack. V8's linear-time engine (the `l` flag, enabled
 * by a V8 flag that changes nothing else) runs most patterns in linear time; the few it cannot
 * run (the `i` flag, lookarounds, backreferences) are accepted only without nested repetition.
 */
import v8 from 'node:v8';

const linearEngine = ((): boolean => {
  try {
    v8.setFlagsFromString('--enable-experimental-regexp-engine');
    new RegExp('a', 'l');
    return true;
  } catch {
    return false;
  }
})();

const QUANTIFIER = /^\{(\d+)(?:(,)(\d*))?\}/;

/** Why a pattern could backtrack exponentially, or null when it cannot (by this check). */
export function backtrackingRisk(source: string): string | null {
  // One frame per open group: does it contain a repetition or an alternative?
  const groups: Array<{ repeats: boolean; alternates: boolean }> = [{ repeats: false, alternates: false }];
  let lastAtomWasGroup: { repeats: boolean; alternates: boolean } | null = null;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    const top = groups[groups.length - 1]!;
    if (c === '\\') {
      i++;
      lastAtomWasGroup = null;
    } else if (c === '[') {
      i++;
      while (i < source.length && source[i] !== ']') {
        if (source[i] === '\\') i++;
        i++;
      }
      lastAtomWasGroup = null;
    } else if (c === '(') {
      groups.push({ repeats: false, alternates: false });
      lastAtomWasGroup = null;
    } else if (c === ')') {
      const closed = groups.length > 1 ? groups.pop()! : top;
      const parent = groups[groups.length - 1]!;
      parent.repeats ||= closed.repeats;
      parent.alternates ||= closed.alternates;
      lastAtomWasGroup = closed;
    } else if (c === '|') {
      top.alternates = true;
      lastAtomWasGroup = null;
    } else if (c === '*' || c === '+' || (c === '{' && QUANTIFIER.test(source.slice(i, i + 24)))) {
      let repeats = true;
      if (c === '{') {
        const [, min, comma, max] = QUANTIFIER.exec(source.slice(i, i + 24))!;
        repeats = comma === undefined ? Number(min) > 1 : max === '' || Number(max) > 1;
        i = source.indexOf('}', i);
      }
      if (repeats) {
        if (lastAtomWasGroup && (lastAtomWasGroup.repeats || lastAtomWasGroup.alternates)) {
          return 'repeats a group that itself repeats or has alternatives';
        }
        top.repeats = true;
      }
      lastAtomWasGroup = null;
    } else if (c !== '?') {
      lastAtomWasGroup = null;
    }
  }
  return null;
}

/**
 * The `RegexEngine` JSONata constructs each regular expression literal with (`new
 * RegexEngine(literal)`): the same pattern and flags, run by the linear engine when it can.
 */
export function GuardedRegExp(literal: RegExp): RegExp {
  if (linearEngine) {
    try {
      return new RegExp(literal.source, `${literal.flags}l`);
    } catch {
      // Not linear-capable (i flag, lookaround, backreference): checked below.
    }
  }
  const risk = backtrackingRisk(literal.source);
  if (risk) {
    const flags = literal.flags.replace('g', '');
    throw new Error(
      `The regular expression /${literal.source}/${flags} ${risk}, which could take exponential time` +
        (linearEngine ? ' with the i flag, a lookaround or a backreference' : ''),
    );
  }
  return new RegExp(literal.source, literal.flags);
}

export const hasLinearRegExpEngine = (): boolean => linearEngine;
