// ra-data-tablerest: a react-admin data provider for tablerest's own HTTP API.
//
// It speaks tablerest's query language (filter[f][op], sort=-f, limit/offset, count=) rather
// than asking the server to imitate another API's conventions, as ra-data-postgrest and
// ra-data-drf do for theirs. See README.md beside this file for what each method sends.
import { fetchUtils } from 'ra-core';
import { isPlainObject, problemError } from './errors.js';

export { problemError } from './errors.js';
export { tablerestAuth } from './auth.js';

// tablerest's default max_page_size: a larger perPage is read in pages of this size.
const MAX_PAGE_SIZE = 100;
// Limits(max_in_values) and Limits(max_batch_operations) default to 100 on the server.
const MAX_IDS = 100;
const COUNTS = ['exact', 'estimated', 'capped'];
// ETags kept for If-Match: those of the rows read most recently.
const MAX_ETAGS = 1000;

/**
 * A react-admin DataProvider for a tablerest API.
 *
 * @param {string} apiUrl the API root, e.g. `http://127.0.0.1:8000/api`
 * @param {(url: string, options?: object) => Promise<{status: number, headers: Headers, body: string, json: any}>} [httpClient]
 *   what makes the requests: ra-core's `fetchUtils.fetchJson` by default; pass your own to add
 *   an `Authorization` header, as with react-admin's stock providers
 * @param {{count?: 'exact' | 'estimated' | 'capped' | false, maxPageSize?: number, batch?: boolean, ifMatch?: boolean}} [options]
 * @returns {import('ra-core').DataProvider}
 */
export default function tablerestDataProvider(
  apiUrl,
  httpClient = fetchUtils.fetchJson,
  options = {},
) {
  const root = apiUrl.replace(/\/+$/, '');
  const count = options.count === undefined ? 'exact' : options.count;
  if (count !== false && !COUNTS.includes(count)) {
    throw new Error(`count must be one of ${COUNTS.join(', ')} or false, not ${count}`);
  }
  const maxPageSize = options.maxPageSize || MAX_PAGE_SIZE;
  const batch = options.batch !== false;
  const ifMatch = options.ifMatch !== false;
  let index = null; // the promise of GET {apiUrl}: each resource's key and fields
  // The ETag of each row as getOne (or update) last read it: update sends it as If-Match, so
  // that saving a form over a row someone else changed since is a 412, not a lost update.
  const etags = new Map();
  const remember = (resource, id, headers) => {
    const tag = headers && headers.get('ETag');
    const name = `${resource}/${id}`;
    etags.delete(name); // re-inserted last: the Map stays in the order rows were read
    if (!tag) return;
    etags.set(name, tag);
    if (etags.size > MAX_ETAGS) etags.delete(etags.keys().next().value);
  };

  const request = async (url, init = {}) => {
    // Accept on every request, so that plain JSON comes back also from `serve --format
    // jsonapi` and through an httpClient that only adds an Authorization header
    const headers = new Headers(init.headers || {});
    if (!headers.has('Accept')) headers.set('Accept', 'application/json');
    try {
      return await httpClient(url, { ...init, headers });
    } catch (error) {
      throw problemError(error);
    }
  };

  // react-admin needs an `id` on every record; tablerest names keys as the table does. The
  // API index says which columns make each resource's key, read once per provider.
  const describe = async (resource) => {
    if (index === null) {
      index = request(root).then(
        ({ json }) => new Map((json.resources || []).map((r) => [r.name, r])),
        (error) => {
          index = null; // try again next time (e.g. after signing in)
          throw error;
        },
      );
    }
    const found = (await index).get(resource);
    const declared = found && Array.isArray(found.primary_key) ? found.primary_key : ['id'];
    // a view without a key: its rows need a column named id, else `serve --key` gives one
    const keyless = declared.length === 0;
    const key = keyless ? ['id'] : declared;
    const fields = found ? found.fields : [];
    const plain = key.length === 1 && key[0] === 'id';
    return {
      url: `${root}/${encodeURIComponent(resource)}`,
      key,
      plain,
      // react-admin's lists sort by id unless told otherwise: no such column, no such sort
      sortsById: !keyless || fields.includes('id'),
      // `id` is ours (not a column) when the key has another name and no field is called id
      synthetic: !plain && !fields.includes('id'),
      record(row) {
        if (row === null || typeof row !== 'object') return row;
        if (keyless && !('id' in row)) {
          throw new Error(
            `${resource} has no key, and react-admin needs an id: serve it with ` +
              `tablerest serve --key ${resource}=COLUMN[,COLUMN...]`,
          );
        }
        if (plain) return row;
        const id = key.length === 1 ? row[key[0]] : key.map((f) => String(row[f])).join(',');
        return { ...row, id };
      },
      body(data) {
        if (!this.synthetic || data === null || typeof data !== 'object') return data;
        const { id, ...rest } = data;
        return rest;
      },
      item(id) {
        // a composite key is its values in key order, comma-separated, in the URL
        const parts = key.length === 1 ? [String(id)] : String(id).split(',');
        return `${this.url}/${parts.map(encodeURIComponent).join(',')}`;
      },
    };
  };

  const withBody = (method, body) => ({
    method,
    body: JSON.stringify(body),
    headers: new Headers({ 'Content-Type': 'application/json' }),
  });

  // One list request, or several when perPage is above the server's page size limit.
  const list = async (info, query, params, extraFilter) => {
    if (!addFilters(query, { ...(params.filter || {}), ...extraFilter }, info)) {
      return { data: [], total: 0 }; // an empty list of values (IN ()) matches nothing
    }
    addSort(query, params.sort, info);
    addMeta(query, params.meta);
    const { page = 1, perPage } = params.pagination || {};
    if (count !== false) query.set('count', count);
    let offset = perPage ? (page - 1) * perPage : 0;
    let wanted = perPage || 0;
    const data = [];
    let total;
    let hasNextPage = false;
    for (;;) {
      if (perPage) {
        query.set('offset', String(offset));
        query.set('limit', String(Math.min(wanted, maxPageSize)));
      }
      const { json: answer } = await request(`${info.url}?${query}`, { signal: params.signal });
      data.push(...answer.data.map((row) => info.record(row)));
      if (total === undefined && answer.meta && typeof answer.meta.total === 'number') {
        total = answer.meta.total;
      }
      hasNextPage = Boolean(answer.links && answer.links.next);
      query.delete('count'); // counted once
      wanted -= answer.data.length;
      offset += answer.data.length;
      if (!perPage || !hasNextPage || wanted <= 0 || answer.data.length === 0) break;
    }
    if (total !== undefined) return { data, total };
    return { data, pageInfo: { hasNextPage, hasPreviousPage: page > 1 } };
  };

  const getOne = async (resource, params) => {
    const info = await describe(resource);
    const query = new URLSearchParams();
    addMeta(query, params.meta);
    const suffix = query.toString() ? `?${query}` : '';
    const { json: row, headers } = await request(info.item(params.id) + suffix, {
      signal: params.signal,
    });
    // If-Match compares with the row as a GET without parameters shows it: keep no other tag
    remember(resource, params.id, suffix ? null : headers);
    return { data: info.record(row) };
  };

  return {
    getList: async (resource, params = {}) =>
      list(await describe(resource), new URLSearchParams(), params, {}),

    getOne,

    getMany: async (resource, params) => {
      const info = await describe(resource);
      if (info.key.length > 1) {
        // no IN over several columns: one read per id
        const rows = await Promise.all(
          params.ids.map((id) => getOne(resource, { id, meta: params.meta, signal: params.signal })),
        );
        return { data: rows.map((r) => r.data) };
      }
      const data = [];
      for (const ids of chunks(params.ids, Math.min(MAX_IDS, maxPageSize))) {
        const query = new URLSearchParams();
        for (const id of ids) query.append(`filter[${info.key[0]}]`, String(id));
        addMeta(query, params.meta);
        query.set('limit', String(ids.length));
        const { json: page } = await request(`${info.url}?${query}`, { signal: params.signal });
        data.push(...page.data.map((row) => info.record(row)));
      }
      return { data };
    },

    getManyReference: async (resource, params) =>
      list(await describe(resource), new URLSearchParams(), params, { [params.target]: params.id }),

    create: async (resource, params) => {
      const info = await describe(resource);
      const { json: row } = await request(info.url, withBody('POST', info.body(params.data)));
      return { data: info.record(row) };
    },

    update: async (resource, params) => {
      const info = await describe(resource);
      // PATCH is a merge patch: send what the form changed, so that fields the form does not
      // show (or that someone else changed meanwhile) are left as they are.
      const changes = info.body(changed(params.data, params.previousData));
      const init = withBody('PATCH', changes);
      const tag = ifMatch && etags.get(`${resource}/${params.id}`);
      if (tag) init.headers.set('If-Match', tag);
      const { json: row, headers } = await request(info.item(params.id), init);
      remember(resource, params.id, headers);
      return { data: info.record(row) };
    },

    updateMany: async (resource, params) => {
      const info = await describe(resource);
      for (const id of params.ids) remember(resource, id, null); // these rows change
      const changes = info.body(params.data);
      if (info.key.length > 1) {
        for (const id of params.ids) await request(info.item(id), withBody('PATCH', changes));
        return { data: params.ids };
      }
      // one bulk PATCH: every row or none
      const rows = params.ids.map((id) => ({ ...changes, [info.key[0]]: id }));
      await request(info.url, withBody('PATCH', rows));
      return { data: params.ids };
    },

    delete: async (resource, params) => {
      const info = await describe(resource);
      // tablerest answers a delete with 204 and no body: react-admin wants the record
      const record = params.previousData || (await getOne(resource, { id: params.id })).data;
      remember(resource, params.id, null);
      await request(info.item(params.id), { method: 'DELETE' });
      return { data: record };
    },

    deleteMany: async (resource, params) => {
      const info = await describe(resource);
      for (const id of params.ids) remember(resource, id, null);
      if (!batch || info.key.length > 1) {
        for (const id of params.ids) await request(info.item(id), { method: 'DELETE' });
        return { data: params.ids };
      }
      // POST /batch: each chunk of ids in one transaction (all deleted, or none)
      for (const ids of chunks(params.ids, MAX_IDS)) {
        const operations = ids.map((key) => ({ op: 'delete', resource, key }));
        await request(`${root}/batch`, withBody('POST', { operations }));
      }
      return { data: params.ids };
    },
  };
}

/**
 * react-admin filter values to tablerest query parameters. `{genre: 'poetry'}` is
 * `filter[genre]=poetry`, an array is any of its values (`filter[id]=1&filter[id]=2`),
 * `{'year@ge': 2000}` is `filter[year][ge]=2000`, null is `filter[f][null]=true`, a nested
 * object goes through a relation (`{author: {country: 'NZ'}}`: `filter[author.country]=NZ`),
 * `q` is tablerest's search. Returns false when a filter can match nothing (an empty array).
 */
function addFilters(query, filter, info, prefix = '') {
  for (const [name, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    if (name === 'q' && !prefix) {
      query.append('q', String(value));
      continue;
    }
    const at = name.lastIndexOf('@');
    let field = at > 0 ? name.slice(0, at) : name;
    const op = at > 0 ? name.slice(at + 1) : null;
    if (!prefix && field === 'id' && info.key.length === 1 && !info.plain) field = info.key[0];
    const path = prefix + field;
    if (op === null && isPlainObject(value)) {
      if (!addFilters(query, value, info, `${path}.`)) return false;
      continue;
    }
    if (value === null) {
      // equal to null: is null; not equal to null: is not null (any other operator: 400)
      const isNull = op === null || op === 'eq' ? 'true' : op === 'ne' ? 'false' : 'null';
      query.append(`filter[${path}][null]`, isNull);
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0) {
      if (op === null || op === 'eq' || op === 'in') return false;
      continue; // none of no values, each of no values: no condition
    }
    const param = op === null ? `filter[${path}]` : `filter[${path}][${op}]`;
    for (const v of values) query.append(param, text(v));
  }
  return true;
}

function addSort(query, sort, info) {
  if (!sort || !sort.field || (sort.field === 'id' && !info.sortsById)) return;
  const minus = String(sort.order).toUpperCase() === 'DESC' ? '-' : '';
  const fields = sort.field === 'id' && !info.plain ? info.key : [sort.field];
  query.set('sort', fields.map((f) => minus + f).join(','));
}

// `meta: {include: 'author', fields: 'id,title'}` of a react-admin call: embedded rows and
// sparse fieldsets, as tablerest's `include` and `fields` parameters.
function addMeta(query, meta) {
  if (!meta) return;
  for (const name of ['include', 'fields']) {
    if (meta[name] !== undefined) {
      query.set(name, Array.isArray(meta[name]) ? meta[name].join(',') : String(meta[name]));
    }
  }
}

// The fields of `data` whose values differ from `previous` (all of them without `previous`).
function changed(data, previous) {
  if (!previous) return data;
  const out = {};
  for (const [name, value] of Object.entries(data)) {
    if (!(name in previous) || JSON.stringify(value) !== JSON.stringify(previous[name])) {
      out[name] = value;
    }
  }
  return out;
}

function text(value) {
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

function chunks(items, size) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
