// tablerestAuth: a react-admin authProvider for tablerest's token routes (`Auth(...)` in an
// app, `tablerest serve --auth-table users`), and the httpClient that signs the data
// provider's requests with its token.
import { fetchUtils, HttpError } from 'ra-core';
import { problemError } from './errors.js';

// Refresh the access token this long before it expires, so requests do not meet a 401.
const EARLY_MS = 30_000;

function memoryStorage() {
  const values = new Map();
  return {
    getItem: (name) => (values.has(name) ? values.get(name) : null),
    setItem: (name, value) => values.set(name, String(value)),
    removeItem: (name) => values.delete(name),
  };
}

/**
 * Sign-in for react-admin against tablerest: `{authProvider, httpClient}`.
 *
 * @param {string} apiUrl the API root, e.g. `http://127.0.0.1:8000/api`
 * @param {{storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>, fetchJson?: typeof fetchUtils.fetchJson}} [options]
 *   `storage`: where the tokens are kept (`localStorage` in a browser, else in memory)
 */
export function tablerestAuth(apiUrl, options = {}) {
  const root = apiUrl.replace(/\/+$/, '');
  const fetchJson = options.fetchJson || fetchUtils.fetchJson;
  const storage = options.storage || globalThis.localStorage || memoryStorage();
  const slot = `ra-data-tablerest:${root}`;

  const load = () => {
    try {
      return JSON.parse(storage.getItem(slot) || 'null');
    } catch {
      return null;
    }
  };
  const save = (answer) =>
    storage.setItem(
      slot,
      JSON.stringify({
        access: answer.access_token,
        refresh: answer.refresh_token,
        expires: Date.now() + answer.expires_in * 1000,
      }),
    );
  const forget = () => storage.removeItem(slot);

  const post = async (path, body, token) => {
    const headers = new Headers({ Accept: 'application/json', 'Content-Type': 'application/json' });
    if (token) headers.set('Authorization', `Bearer ${token}`);
    try {
      return await fetchJson(`${root}${path}`, { method: 'POST', body: JSON.stringify(body), headers });
    } catch (error) {
      throw problemError(error);
    }
  };

  // One refresh at a time: refresh tokens rotate, and presenting one that was already used
  // revokes the whole session (tablerest takes it for a stolen copy).
  let refreshing = null;
  const refresh = () => {
    if (refreshing === null) {
      const tokens = load();
      refreshing = (async () => {
        if (!tokens || !tokens.refresh) throw new HttpError('Sign in again', 401, {});
        try {
          save((await post('/auth/refresh', { refresh_token: tokens.refresh })).json);
        } catch (error) {
          // refused (revoked, expired, reused): signed out; a network failure is not that
          if (error && (error.status === 400 || error.status === 401)) forget();
          throw error;
        }
      })().finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  };

  const accessToken = async () => {
    if (refreshing) await refreshing.catch(() => {});
    const tokens = load();
    if (tokens && tokens.refresh && tokens.expires - EARLY_MS < Date.now()) {
      await refresh().catch(() => {});
    }
    const now = load();
    return now ? now.access : null;
  };

  /** ra-core's fetchJson with `Authorization: Bearer <access token>`, refreshed as needed. */
  const httpClient = async (url, init = {}) => {
    const send = (token) => {
      const headers = new Headers(init.headers || { Accept: 'application/json' });
      if (token) headers.set('Authorization', `Bearer ${token}`);
      return fetchJson(url, { ...init, headers });
    };
    const token = await accessToken();
    try {
      return await send(token);
    } catch (error) {
      // an access token refused before its time (this machine's clock is behind the
      // server's): one refresh, one retry; a session that was ended fails the refresh too
      if (!token || !error || error.status !== 401 || !(load() || {}).refresh) throw error;
      await refresh().catch(() => {
        throw error;
      });
      return send((load() || {}).access);
    }
  };

  const authProvider = {
    async login({ username, password }) {
      // react-admin's login form sends `username`; tablerest looks it up in every login field
      save((await post('/auth/token', { username, password })).json);
    },
    async logout() {
      const tokens = load();
      forget();
      if (tokens && tokens.access) {
        await post('/auth/logout', {}, tokens.access).catch(() => {}); // signed out either way
      }
    },
    async checkAuth() {
      if (!load()) throw new Error('ra.auth.auth_check_error');
    },
    async checkError(error) {
      // 401: the session is over (a refresh was tried already); 403: a rule, not a sign-out
      if (error && error.status === 401) {
        forget();
        throw error;
      }
    },
    async getIdentity() {
      // react-admin asks on its login page too: no token, no request
      if (!load()) throw new Error('ra.auth.auth_check_error');
      const { json: me } = await httpClient(`${root}/auth/me`);
      const fullName = me.name || me.full_name || me.username || me.email || me.login;
      return { ...me, id: me.id, fullName: fullName === undefined ? String(me.id) : String(fullName) };
    },
    async getPermissions() {
      // the access token's `roles` claim (what role(...) rules check on the server)
      const token = await accessToken();
      if (!token) return [];
      try {
        const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
        return Array.isArray(claims.roles) ? claims.roles : [];
      } catch {
        return [];
      }
    },
  };

  return { authProvider, httpClient };
}
