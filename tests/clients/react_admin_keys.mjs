// The react-admin provider on tables whose key is not a column named id: `shelves` (key
// `code`, text) and `loans` (key `shelf_code, reader`). react-admin needs an `id` on every
// record: the provider reads each resource's key from the API index and makes one.
// Usage: node react_admin_keys.mjs BASE_URL
import tablerestDataProvider from 'ra-data-tablerest';
import { checked, httpClient, ids, out, step } from './react_admin_steps.mjs';

const base = process.argv[2];
const provider = checked(tablerestDataProvider(`${base}/api`, httpClient));
const list = (resource, filter = {}, sort = { field: 'id', order: 'ASC' }) =>
  provider.getList(resource, { pagination: { page: 1, perPage: 10 }, sort, filter });

await step('shelves_list', async () => {
  const got = await list('shelves', {}, { field: 'id', order: 'DESC' });
  return { ids: ids(got.data), codes: got.data.map((r) => r.code), total: got.total };
});
await step('shelves_filter_by_id', async () => ({ ids: ids((await list('shelves', { id: ['a', 'c'] })).data) }));
await step('shelves_one', async () => ({ data: (await provider.getOne('shelves', { id: 'b' })).data }));
await step('shelves_many', async () => ({
  ids: ids((await provider.getMany('shelves', { ids: ['c', 'a'] })).data).sort(),
}));
await step('shelves_write', async () => {
  const created = (await provider.create('shelves', { data: { code: 'z', label: 'Zed' } })).data;
  const updated = (
    await provider.update('shelves', {
      id: 'z', data: { ...created, label: 'Zed, again' }, previousData: created,
    })
  ).data;
  const many = (await provider.updateMany('shelves', { ids: ['a', 'b'], data: { label: 'Same' } })).data;
  const gone = (await provider.delete('shelves', { id: 'z', previousData: updated })).data;
  for (const code of ['x', 'y']) await provider.create('shelves', { data: { code, label: code } });
  const goneMany = (await provider.deleteMany('shelves', { ids: ['x', 'y'] })).data;
  return { created, updated, many, gone, goneMany };
});

await step('loans_list', async () => {
  const got = await list('loans', { shelf_code: 'a' });
  return { ids: ids(got.data), total: got.total };
});
await step('loans_one', async () => ({ data: (await provider.getOne('loans', { id: 'a,ann' })).data }));
await step('loans_many', async () => ({
  ids: ids((await provider.getMany('loans', { ids: ['b,bob', 'a,ann'] })).data).sort(),
}));
await step('loans_reference', async () => {
  const got = await provider.getManyReference('loans', {
    target: 'shelf_code', id: 'b', pagination: { page: 1, perPage: 10 },
    sort: { field: 'reader', order: 'ASC' }, filter: {},
  });
  return { ids: ids(got.data), total: got.total };
});
await step('loans_write', async () => {
  const created = (await provider.create('loans', { data: { shelf_code: 'c', reader: 'cy', days: 1 } })).data;
  const updated = (
    await provider.update('loans', { id: created.id, data: { ...created, days: 2 }, previousData: created })
  ).data;
  const many = (await provider.updateMany('loans', { ids: ['a,ann', 'a,amy'], data: { days: 30 } })).data;
  const gone = (await provider.delete('loans', { id: created.id })).data;
  const goneMany = (await provider.deleteMany('loans', { ids: ['b,bob', 'b,bea'] })).data;
  return { created, updated, many, gone, goneMany };
});

await step('view_with_key', async () => ({ ids: ids((await list('shelf_labels')).data) }));
await step('view_without_key', async () => ({ ids: ids((await list('loan_counts')).data) }));

process.stdout.write(JSON.stringify(out));
