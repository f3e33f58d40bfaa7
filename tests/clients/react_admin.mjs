// The react-admin data provider of clients/react-admin (installed by the test as
// node_modules/ra-data-tablerest, as `npm install clients/react-admin` does) through all
// nine DataProvider methods against a tablerest server, each answer checked by ra-core's own
// validateResponseFormat (what react-admin runs on every answer of a provider), with
// ra-core's stock fetchUtils.fetchJson as the client.
// Usage: node react_admin.mjs BASE_URL   (BASE_URL: http://127.0.0.1:PORT)
// Prints one JSON object: what each step got (or the error it raised), for the Python test
// to compare with the database.
import { fetchUtils, HttpError } from 'ra-core';
import tablerestDataProvider from 'ra-data-tablerest';
import { checked, httpClient, ids, out, step } from './react_admin_steps.mjs';

const base = process.argv[2];

const provider = checked(tablerestDataProvider(`${base}/api`, httpClient));
const uncounted = checked(tablerestDataProvider(`${base}/api`, httpClient, { count: false }));

await step('getList', async () => {
  const got = await provider.getList('books', {
    pagination: { page: 2, perPage: 5 },
    sort: { field: 'title', order: 'DESC' },
    filter: { genre: 'poetry' },
  });
  return { ids: ids(got.data), total: got.total, titles: got.data.map((r) => r.title) };
});

await step('getList_operators', async () => {
  // perPage above the server's max_page_size (100): read in two pages, counted once
  const got = await provider.getList('books', {
    pagination: { page: 1, perPage: 150 },
    sort: { field: 'year', order: 'ASC' },
    filter: { 'year@ge': 2000, genre: ['poetry', 'drama'] },
  });
  return { ids: ids(got.data), total: got.total };
});

await step('getList_search', async () => {
  const got = await provider.getList('books', {
    pagination: { page: 1, perPage: 10 },
    sort: { field: 'id', order: 'ASC' },
    filter: { q: 'atlas' },
  });
  return { ids: ids(got.data), total: got.total };
});

await step('getList_uncounted', async () => {
  const got = await uncounted.getList('books', {
    pagination: { page: 3, perPage: 4 },
    sort: { field: 'id', order: 'ASC' },
    filter: {},
  });
  return { ids: ids(got.data), total: got.total ?? null, pageInfo: got.pageInfo };
});

await step('getOne', async () => {
  const got = await provider.getOne('books', { id: 3 });
  return { data: got.data };
});

await step('getMany', async () => {
  const got = await provider.getMany('books', { ids: [9, 1, 5] });
  return { ids: ids(got.data).sort((a, b) => a - b) };
});

await step('getManyReference', async () => {
  const got = await provider.getManyReference('books', {
    target: 'author_id',
    id: 1,
    pagination: { page: 1, perPage: 10 },
    sort: { field: 'title', order: 'ASC' },
    filter: {},
  });
  return { ids: ids(got.data), total: got.total, authors: [...new Set(got.data.map((r) => r.author_id))] };
});

// rows the script writes match none of the filters above, which the test checks after it ran
const book = (title) => ({ title, genre: 'react-admin', year: 1850, pages: 10, author_id: 2 });

await step('create', async () => {
  const got = await provider.create('books', { data: book('By react-admin') });
  return { data: got.data };
});

await step('update', async () => {
  const { data: previousData } = await provider.getOne('books', { id: out.create.data.id });
  const got = await provider.update('books', {
    id: previousData.id,
    data: { ...previousData, title: 'By react-admin, edited' },
    previousData,
  });
  // saved again from the same form: If-Match is the ETag of the first save's answer
  const again = await provider.update('books', {
    id: previousData.id, data: { ...got.data, pages: 11 }, previousData: got.data,
  });
  return { data: again.data };
});

// Someone else changes the row between the form's read and its save (a PATCH of their own).
const elsewhere = (id, title) =>
  fetchUtils.fetchJson(`${base}/api/books/${id}`, { method: 'PATCH', body: JSON.stringify({ title }) });

await step('update_stale', async () => {
  const { data: previousData } = await provider.getOne('books', { id: 4 });
  await elsewhere(4, 'Changed elsewhere');
  try {
    await provider.update('books', { id: 4, data: { ...previousData, pages: 1 }, previousData });
    return { rejected: false };
  } catch (e) {
    return { rejected: true, httpError: e instanceof HttpError, status: e.status, message: e.message };
  }
});

await step('update_stale_unchecked', async () => {
  const careless = checked(tablerestDataProvider(`${base}/api`, httpClient, { ifMatch: false }));
  const { data: previousData } = await careless.getOne('books', { id: 6 });
  await elsewhere(6, 'Changed elsewhere too');
  const got = await careless.update('books', { id: 6, data: { ...previousData, pages: 2 }, previousData });
  return { data: got.data };
});

await step('updateMany', async () => {
  const a = (await provider.create('books', { data: book('Many A') })).data.id;
  const b = (await provider.create('books', { data: book('Many B') })).data.id;
  const got = await provider.updateMany('books', { ids: [a, b], data: { pages: 77 } });
  return { data: got.data };
});

await step('delete', async () => {
  const { data: previousData } = await provider.create('books', { data: book('To delete') });
  const got = await provider.delete('books', { id: previousData.id, previousData });
  return { data: got.data };
});

await step('delete_unread', async () => {
  // without previousData the provider reads the row first: the answer is the record
  const { data: created } = await provider.create('books', { data: book('To delete, unread') });
  const got = await provider.delete('books', { id: created.id });
  return { data: got.data, created };
});

await step('deleteMany', async () => {
  const a = (await provider.create('books', { data: book('Gone A') })).data.id;
  const b = (await provider.create('books', { data: book('Gone B') })).data.id;
  const got = await provider.deleteMany('books', { ids: [a, b] });
  return { data: got.data };
});

await step('create_invalid', async () => {
  try {
    await provider.create('books', { data: { title: 5, year: 'soon' } });
    return { rejected: false };
  } catch (e) {
    return {
      rejected: true,
      httpError: e instanceof HttpError,
      status: e.status,
      message: e.message,
      errors: e.body && e.body.errors,
      problem: e.body && e.body.problem,
    };
  }
});

await step('getOne_missing', async () => {
  try {
    await provider.getOne('books', { id: 999999 });
    return { rejected: false };
  } catch (e) {
    return { rejected: true, httpError: e instanceof HttpError, status: e.status, message: e.message };
  }
});

process.stdout.write(JSON.stringify(out));
