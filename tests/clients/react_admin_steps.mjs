// What the react-admin scripts share: ra-core's validateResponseFormat around a provider, the
// requests it sent, and the steps' results printed as one JSON document.
import { fetchUtils } from 'ra-core';

// ra-core does not export validateResponseFormat (its package exports only the index): load
// the module from the installed package's files.
const validateResponseFormat = (
  await import(new URL('./dataProvider/validateResponseFormat.js', import.meta.resolve('ra-core')))
).default;

export const out = {};
const sent = []; // every URL the provider asked for, with its method

export const httpClient = (url, options = {}) => {
  const ifMatch = options.headers && options.headers.get && options.headers.get('If-Match');
  sent.push(`${options.method || 'GET'} ${url}${ifMatch ? ` If-Match: ${ifMatch}` : ''}`);
  return fetchUtils.fetchJson(url, options);
};

export function checked(provider) {
  // As react-admin's useDataProvider does: the answer must have react-admin's shape, else
  // the logger is called (here: it throws, naming the rule broken).
  return new Proxy(provider, {
    get: (target, type) => async (...args) => {
      const answer = await target[type](...args);
      validateResponseFormat(answer, type, (message) => {
        throw new Error(`validateResponseFormat: ${message}`);
      });
      return answer;
    },
  });
}

export async function step(name, fn) {
  const first = sent.length;
  try {
    out[name] = await fn();
  } catch (e) {
    out[name] = { error: String(e), status: e.status, body: e.body };
  }
  out[name].sent = sent.slice(first);
}

export const ids = (rows) => rows.map((r) => r.id);
