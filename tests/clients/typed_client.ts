// A typed client generated from the served OpenAPI document (openapi-typescript) and called
// with openapi-fetch, as their documentation shows. Compiled with tsc --strict: a document
// that types a field wrongly fails here, before anything runs.
// Usage (after tsc): node typed_client.js BASE_URL
import createClient from "openapi-fetch";
import type { paths } from "./api.js";

const base = process.argv[2];
// The API negotiates JSON, JSON:API and exports: the client says which ones it reads (rows
// as plain JSON, errors as problem documents).
const client = createClient<paths, "application/json" | "application/problem+json">({
  baseUrl: base,
});

const page = await client.GET("/api/books", { params: { query: { "page[size]": 2 } } });
if (page.data === undefined) throw new Error(JSON.stringify(page.error));
const one = await client.GET("/api/books/{id}", { params: { path: { id: 2 } } });
if (one.data === undefined) throw new Error(JSON.stringify(one.error));
const missing = await client.GET("/api/books/{id}", { params: { path: { id: 999999 } } });
// Operator filters are declared parameters, typed as the column: in takes an array.
const old = await client.GET("/api/books", {
  params: { query: { "filter[year][lt]": 1900, "filter[genre][in]": ["poetry", "drama"] } },
});
if (old.data === undefined) throw new Error(JSON.stringify(old.error));
const created = await client.POST("/api/books", {
  body: { title: "Typed", genre: "poetry", year: 2003, pages: 30, author_id: 1 },
});
if (created.data === undefined || Array.isArray(created.data)) {
  throw new Error(JSON.stringify(created.error));
}
const key = created.data.id;
if (key === undefined) throw new Error("a created row without its key");
const patched = await client.PATCH("/api/books/{id}", {
  params: { path: { id: key } },
  body: { pages: 31 },
});
const removed = await client.DELETE("/api/books/{id}", { params: { path: { id: key } } });

const result: Record<string, unknown> = {
  page_number: page.data.meta.page.number,
  page_size: page.data.meta.page.size,
  titles: page.data.data.map((book) => book.title),
  next: page.data.links.next,
  one: one.data.title,
  missing: missing.response.status,
  missing_title: missing.error?.title,
  old_years: old.data.data.map((book) => book.year),
  created: created.response.status,
  patched: patched.data?.pages,
  removed: removed.response.status,
};
console.log(JSON.stringify(result));
