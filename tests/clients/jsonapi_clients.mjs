// JSON:API client libraries, used as their documentation shows, against a tablerest server.
// Usage: node jsonapi_clients.mjs BASE_URL   (BASE_URL: http://127.0.0.1:PORT)
// Prints one JSON object: for each step, what the client got (or the error it raised), so
// the Python test can say which step failed and why.
import Kitsu from 'kitsu';
import { deserialise } from 'kitsu-core';
import JsonApi from 'devour-client';
import { RecordSchema } from '@orbit/records';
import { JSONAPISerializers, JSONAPISource } from '@orbit/jsonapi';
import { buildSerializerSettingsFor } from '@orbit/serializers';

const base = process.argv[2];
const out = {};

async function step(name, fn) {
  try {
    out[name] = await fn();
  } catch (e) {
    const status = e.response ? e.response.status : undefined;
    const body = e.response ? e.response.data : e.data;
    out[name] = { error: String(e), status, url: e.config ? e.config.url : undefined, body };
  }
}

const ids = (rows) => rows.map((r) => Number(r.id));

// kitsu: paging by number/size and by offset/limit (its documented params), following
// links.next with its own axios instance, an include, and a create/update/delete.
const kitsu = new Kitsu({ baseURL: `${base}/api` });
await step('kitsu_page', async () => {
  const first = await kitsu.get('books', { params: { page: { size: 2 } } });
  const next = await kitsu.axios.get(first.links.next);
  return { first: ids(first.data), next: ids(deserialise(next.data).data) };
});
await step('kitsu_offset', async () => {
  const page = await kitsu.get('books', { params: { page: { offset: 2, limit: 2 } } });
  return { ids: ids(page.data), next: page.links.next };
});
await step('kitsu_include', async () => {
  const book = await kitsu.get('books/1', { params: { include: 'author' } });
  return { title: book.data.title, author: book.data.author.data.name };
});
await step('kitsu_write', async () => {
  const created = await kitsu.post('books', {
    title: 'By kitsu', genre: 'poetry', year: 2001, pages: 10,
    author: { data: { id: '1', type: 'authors' } },
  });
  const id = created.data.id;
  await kitsu.patch('books', { id, title: 'By kitsu, again' });
  const read = await kitsu.get(`books/${id}`);
  await kitsu.delete('books', id);
  let after;
  try { await kitsu.get(`books/${id}`); after = 200; } catch (e) { after = e.response.status; }
  return { title: read.data.title, after_delete: after };
});

// devour-client: findAll with a page, links.next through its request(), find with an
// include, create/update/destroy.
const devour = new JsonApi({ apiUrl: `${base}/api`, logger: false });
devour.define('author', { name: '', country: '' }, { collectionPath: 'authors' });
devour.define('book', {
  title: '', genre: '', year: 0, pages: 0, price: '', isbn: '',
  author: { jsonApi: 'hasOne', type: 'authors' },
}, { collectionPath: 'books' });
await step('devour_page', async () => {
  const first = await devour.findAll('book', { page: { size: 2 } });
  const next = await devour.request(first.links.next);
  return { first: ids(first.data), next: ids(next.data) };
});
await step('devour_include', async () => {
  const book = await devour.find('book', 1, { include: 'author' });
  return { title: book.data.title, author: book.data.author.name };
});
await step('devour_write', async () => {
  const created = await devour.create('book', {
    title: 'By devour', genre: 'poetry', year: 2002, pages: 20, author: { id: '1', type: 'authors' },
  });
  const id = created.data.id;
  await devour.update('book', { id, title: 'By devour, again' });
  const read = await devour.find('book', id);
  await devour.destroy('book', id);
  return { title: read.data.title };
});

// @orbit/jsonapi: a schema, a source, and the query builder's paging (offset/limit).
const schema = new RecordSchema({
  models: {
    book: { attributes: { title: { type: 'string' }, year: { type: 'number' } } },
  },
});
// Orbit's documented set-up for an API whose types are plural (its models are singular).
// A source stops its request queue at the first failure: one source per step.
const plural = buildSerializerSettingsFor({
  settingsByType: {
    [JSONAPISerializers.ResourceType]: {
      serializationOptions: { inflectors: ['pluralize'] },
      deserializationOptions: { inflectors: ['singularize'] },
    },
  },
});
const orbit = () => new JSONAPISource({
  schema, host: base, namespace: 'api', serializerSettingsFor: plural,
});
await step('orbit_page', async () => {
  const books = await orbit().query((q) => q.findRecords('book').sort('id').page({ offset: 2, limit: 2 }));
  return { ids: books.map((b) => Number(b.id)), title: books[0].attributes.title };
});
await step('orbit_find', async () => {
  const book = await orbit().query((q) => q.findRecord({ type: 'book', id: '3' }));
  return { title: book.attributes.title };
});

console.log(JSON.stringify(out));
