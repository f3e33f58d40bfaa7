// tablerestAuth of clients/react-admin against `tablerest serve --auth-table users` on the
// demo (user1 / password1): react-admin's authProvider calls as its login page, layout and
// error handling make them, and the data provider signed by its httpClient.
// Usage: node react_admin_auth.mjs BASE_URL
import { fetchUtils } from 'ra-core';
import tablerestDataProvider, { tablerestAuth } from 'ra-data-tablerest';
import { checked, httpClient as logged, out, step } from './react_admin_steps.mjs';

const base = process.argv[2];
const kept = new Map(); // the storage, open to the script to age the tokens
const storage = {
  getItem: (k) => (kept.has(k) ? kept.get(k) : null),
  setItem: (k, v) => kept.set(k, v),
  removeItem: (k) => kept.delete(k),
};
const age = () => {
  for (const [k, v] of kept) kept.set(k, JSON.stringify({ ...JSON.parse(v), expires: 0 }));
};
const { authProvider, httpClient } = tablerestAuth(`${base}/api`, { storage, fetchJson: logged });
const provider = checked(tablerestDataProvider(`${base}/api`, httpClient));
const book = (title) => ({ title, genre: 'react-admin', year: 1850, pages: 10, author_id: 2 });
const outcome = async (promise) => {
  try {
    return { resolved: (await promise) ?? null };
  } catch (e) {
    return { rejected: e.status ?? String(e), message: e.message };
  }
};

await step('signed_out', async () => ({
  checkAuth: await outcome(authProvider.checkAuth({})),
  create: await outcome(provider.create('books', { data: book('Anonymous') })),
  wrong: await outcome(authProvider.login({ username: 'user1', password: 'wrong' })),
}));

await step('signed_in', async () => {
  await authProvider.login({ username: 'user1', password: 'password1' });
  return {
    checkAuth: await outcome(authProvider.checkAuth({})),
    identity: await authProvider.getIdentity(),
    permissions: await authProvider.getPermissions({}),
    created: (await provider.create('books', { data: book('Signed in') })).data,
  };
});

await step('refreshed_once', async () => {
  // the access token is about to expire: three requests at once make one refresh (refresh
  // tokens rotate: a second refresh with the same one would revoke the session)
  age();
  const got = await Promise.all([1, 2, 3].map((id) => provider.getOne('books', { id })));
  const created = (await provider.create('books', { data: book('After a refresh') })).data;
  return { ids: got.map((g) => g.data.id), created };
});

await step('forbidden_is_not_a_sign_out', async () => ({
  checkError: await outcome(authProvider.checkError({ status: 403 })),
}));

await step('signed_out_again', async () => {
  const { access } = JSON.parse([...kept.values()][0]);
  await authProvider.logout({});
  let old;
  try {
    await fetchUtils.fetchJson(`${base}/api/auth/me`, {
      headers: new Headers({ Authorization: `Bearer ${access}` }),
    });
    old = 200;
  } catch (e) {
    old = e.status;
  }
  return {
    checkAuth: await outcome(authProvider.checkAuth({})),
    oldToken: old,
    checkError: await outcome(authProvider.checkError({ status: 401 })),
  };
});

process.stdout.write(JSON.stringify(out));
