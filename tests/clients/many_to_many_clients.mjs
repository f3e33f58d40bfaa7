// kitsu and devour-client on a many-to-many relation, used as their documentation shows.
// Usage: node many_to_many_clients.mjs BASE_URL CLIENT ACTION ARTICLE [TAG_ID,...]
//   CLIENT: kitsu | devour; ACTION: read (the article with include=tags), or post | delete |
//   patch on /articles/ARTICLE/relationships/tags with those tag ids (none: an empty list).
// Prints one JSON object: what the client got, or the error it raised (with the answer's
// status and body), so the Python test can check each step against the database.
import Kitsu from 'kitsu';
import JsonApi from 'devour-client';

const [base, client, action, article, list] = process.argv.slice(2);
const tagIds = list ? list.split(',') : [];

async function kitsuStep() {
  const kitsu = new Kitsu({ baseURL: `${base}/api` });
  const path = `articles/${article}/relationships/tags`;
  if (action === 'read') {
    const got = await kitsu.get(`articles/${article}`, { params: { include: 'tags' } });
    return {
      title: got.data.title,
      tag_list: got.data.tag_list,
      tags: got.data.tags.data.map((t) => t.name),
    };
  }
  // kitsu's README: post/patch take the linkage as an array of {id}, delete an array of ids.
  const ids = tagIds.map((id) => ({ id }));
  const done = action === 'post' ? await kitsu.post(path, ids)
    : action === 'patch' ? await kitsu.patch(path, ids)
      : await kitsu.delete(path, tagIds);
  return { status: done.status };
}

async function devourStep() {
  const devour = new JsonApi({ apiUrl: `${base}/api`, logger: false });
  devour.define('tag', { name: '' }, { collectionPath: 'tags' });
  devour.define('article', {
    title: '', tag_list: [], tags: { jsonApi: 'hasMany', type: 'tag' },
  }, { collectionPath: 'articles' });
  if (action === 'read') {
    const got = await devour.find('article', article, { include: 'tags' });
    return {
      title: got.data.title,
      tag_list: got.data.tag_list,
      tags: got.data.tags.map((t) => t.name),
    };
  }
  // devour's README "URL Builder": one(model, id).relationships(name).post/patch/destroy.
  // Its destroy sends the payload as given (post and patch serialise it): identifiers there
  // need their type, as JSON:API asks.
  const ids = tagIds.map((id) => (action === 'delete' ? { type: 'tags', id } : { id }));
  const rel = devour.one('article', article).relationships('tags');
  const done = action === 'post' ? await rel.post(ids)
    : action === 'patch' ? await rel.patch(ids)
      : await rel.destroy(ids);
  return { errors: done.errors || null };
}

let out;
try {
  out = client === 'kitsu' ? await kitsuStep() : await devourStep();
} catch (e) {
  // kitsu throws axios' error (with the answer); devour rejects with the answer's errors.
  const response = e && e.response;
  out = {
    error: e && e.message ? e.message : JSON.stringify(e),
    status: response ? response.status : undefined,
    body: response ? response.data : undefined,
  };
}
console.log(JSON.stringify(out));
