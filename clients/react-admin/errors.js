// Problem documents (RFC 9457) as react-admin's HttpError, shared by the data provider and
// the auth provider.
import { HttpError } from 'ra-core';

export function isPlainObject(value) {
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)
  );
}

/**
 * A failed request as react-admin's HttpError: its message is the problem's `detail`, and
 * `body.errors` maps each JSON pointer to its message in the shape of the form
 * (`/title` -> `{title: '...'}`, `/author/name` -> `{author: {name: '...'}}`, the whole
 * document -> `{root: {serverError: '...'}}`), so that react-admin shows them under the
 * fields. `body.problem` keeps the problem document as the server sent it.
 */
export function problemError(error) {
  if (!error || typeof error.status !== 'number' || !isPlainObject(error.body)) return error;
  const problem = error.body;
  const message = problem.detail || problem.title || error.message;
  const body = { ...problem, problem };
  if (Array.isArray(problem.errors)) body.errors = fieldErrors(problem.errors);
  return new HttpError(message, error.status, body);
}

function fieldErrors(errors) {
  const out = {};
  for (const { pointer, detail } of errors) {
    const path = typeof pointer === 'string' && pointer !== '' && pointer !== '/'
      ? pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      : ['root', 'serverError'];
    let node = out;
    for (const part of path.slice(0, -1)) {
      if (!isPlainObject(node[part])) node[part] = {};
      node = node[part];
    }
    const last = path[path.length - 1];
    // two messages for one field: show both
    node[last] = typeof node[last] === 'string' ? `${node[last]} ${detail}` : detail;
  }
  return out;
}
