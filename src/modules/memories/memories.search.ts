/**
 * Free text → a full-text query both databases read safely. The text is cut into words (letters
 * and digits only, so no query syntax survives), common English words are dropped, and the
 * rest are OR-ed: a memory matching more of them, or rarer ones, ranks higher (bm25 / ts_rank).
 * Stemming is the databases' own (FTS5 porter, PostgreSQL 'english'), so "running" finds "run".
 */

/** Words too common to say anything about a memory (and that would match most of them). */
const STOP_WORDS = new Set(
  (
    'a about above after again against all am an and any are as at be because been before being below between both but by ' +
    'can could did do does doing down during each few for from further had has have having he her here hers herself him ' +
    'himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other ' +
    'our ours ourselves out over own same she should so some such than that the their theirs them themselves then there ' +
    'these they this those through to too under until up very was we were what when where which while who whom why will ' +
    'with would you your yours yourself yourselves'
  ).split(' '),
);

/** Enough words to find what a long message is about without an unbounded query. */
export const MAX_SEARCH_TERMS = 32;

/** The distinct search words of a text, in order of appearance; empty when none is usable. */
export function searchTermsOf(text: string): string[] {
  const words = text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const terms: string[] = [];
  const seen = new Set<string>();
  for (const word of words) {
    if (word.length < 2 && !/\p{N}/u.test(word)) continue;
    if (STOP_WORDS.has(word) || seen.has(word)) continue;
    seen.add(word);
    terms.push(word.slice(0, 64));
    if (terms.length === MAX_SEARCH_TERMS) break;
  }
  return terms;
}

/** An FTS5 MATCH expression: each term a quoted string (quotes doubled), OR-ed. */
export function fts5Query(terms: string[]): string {
  return terms.map((term) => `"${term.replace(/"/g, '""')}"`).join(' OR ');
}

/**
 * A `to_tsquery` expression: each term quoted as a lexeme (quotes and backslashes escaped) and
 * OR-ed. `to_tsquery('english', …)` then stems each term and drops stop words.
 */
export function tsQuery(terms: string[]): string {
  return terms.map((term) => `'${term.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`).join(' | ');
}
