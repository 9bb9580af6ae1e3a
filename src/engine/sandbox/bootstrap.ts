/**
 * The few pieces of JavaScript the sandbox itself runs inside QuickJS. Compiling a function costs
 * tens of microseconds in this WebAssembly build, so everything else (console, globals) is set up
 * from the host with the context's built-ins, and these are compiled only when needed: SERIALIZE
 * after the code returned, DESCRIBE after it threw. Both receive the context's original
 * `JSON.stringify`, taken before the user's code ran; code that replaced other built-ins can only
 * garble its own output or message, and the host checks all it receives.
 */

/** The file name QuickJS reports for the user's code: error lines are read from its frames. */
export const USER_CODE_FILE = 'code.js';
export const HELPER_FILE = 'sandbox.js';

/** `(stringify) => serialize`: the JSON text of a result, throwing a string for what JSON cannot hold. */
export const SERIALIZE_SOURCE = `(function (stringify) {
  function replacer(key, value) {
    const type = typeof value;
    if (type === 'function' || type === 'symbol' || type === 'bigint') {
      throw 'it holds a ' + type + (key === '' ? '' : ' at key ' + stringify(key));
    }
    return value;
  }
  return function serialize(value) {
    const text = value === undefined ? undefined : stringify(value, replacer);
    return text === undefined ? 'null' : text;
  };
})`;

/**
 * `(stringify) => describe`: a JSON text `{ error, name, message, stack }` for a thrown value;
 * `error` is false for a thrown non-error (a string, a number). Never throws (else returns '').
 */
export const DESCRIBE_SOURCE = `(function (stringify) {
  const cut = (text, max) => (text.length > max ? text.slice(0, max) + '…' : text);
  return function describe(thrown) {
    try {
      if (thrown !== null && (typeof thrown === 'object' || typeof thrown === 'function')) {
        let name = '', message = '', stack = '';
        try { name = String(thrown.name ?? ''); } catch {}
        try { message = String(thrown.message ?? ''); } catch {}
        try { stack = typeof thrown.stack === 'string' ? thrown.stack : ''; } catch {}
        if (name || message) {
          return stringify({ error: true, name: cut(name, 200), message: cut(message, 2000), stack: cut(stack, 4000) });
        }
      }
      let text;
      try { text = typeof thrown === 'string' ? thrown : stringify(thrown) ?? String(thrown); } catch { text = String(thrown); }
      return stringify({ error: false, name: '', message: cut(text, 2000), stack: '' });
    } catch {
      return '';
    }
  };
})`;
