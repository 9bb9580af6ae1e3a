/**
 * Which workflow variables a value's expressions use, so the executor decrypts only the secret
 * ones that will be read. Read from the text, erring towards more: `vars.name` and
 * ``vars.`name` `` name one variable; any way to reach the variables without naming them
 * (`$lookup(vars, …)`, `$$`, `$`, wildcards, `%`, `$eval`) yields `ALL_VARIABLES`.
 */
import { expressionsIn } from './template.js';

/** In the set `referencedVariables` returns: the expressions may read any variable. */
export const ALL_VARIABLES = '*';

// `vars` (or `` `vars` ``) as a field name: not part of a longer name or a `$vars` variable.
const VARS = /(?<![\p{L}\p{N}_$`])(?:vars|`vars`)(?![\p{L}\p{N}_$`])/gu;
// What follows `vars` when it names one field; anything else (`vars.*`, `vars.(…)`, `$lookup(vars, k)`) may read any.
const NAMED = /^\s*\.\s*(?:([\p{L}_][\p{L}\p{N}_]*)|`([^`]+)`)/u;
// `$$` or `$` used as a value rather than as a named function or variable (`$sum`, `$x`).
const ROOT = /\$\$?(?![\p{L}\p{N}_$])(?!\s*\.\s*(?:[\p{L}_]|`))/u;
// Wildcards, descendants and parents are path steps (`.*`, `**`, `.%`) or start a path (`*.x`).
const WILDCARD = /(?:^|[.([{,;:?&|=<>!+\-~]|\b(?:and|or|in))\s*\*|\*\*|\.\s*%/u;
const EVAL = /\$eval\s*\(/u;

function scan(body: string, names: Set<string>): void {
  if (ROOT.test(body) || WILDCARD.test(body) || EVAL.test(body)) {
    names.add(ALL_VARIABLES);
  }
  for (const match of body.matchAll(VARS)) {
    const named = NAMED.exec(body.slice(match.index + match[0].length));
    if (!named) {
      names.add(ALL_VARIABLES);
      continue;
    }
    names.add(named[1] ?? named[2]!);
  }
}

/**
 * The variable names a value's `{{ }}` expressions use (deep), with `ALL_VARIABLES` when they
 * may read variables they do not name.
 */
export function referencedVariables(value: unknown): Set<string> {
  const names = new Set<string>();
  for (const body of expressionsIn(value)) scan(body, names);
  return names;
}
