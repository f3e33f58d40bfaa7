import type { DataProvider, fetchUtils } from 'ra-core';

/** What makes the requests: ra-core's `fetchUtils.fetchJson`, or a wrapper of it. */
export type HttpClient = (
  url: string,
  options?: fetchUtils.Options,
) => Promise<{ status: number; headers: Headers; body: string; json: any }>;

export interface TablerestProviderOptions {
  /**
   * How getList and getManyReference count (tablerest's `count=`): `exact` (default),
   * `estimated`, `capped`, or `false` for no count (the answer then has `pageInfo`).
   */
  count?: 'exact' | 'estimated' | 'capped' | false;
  /** The server's largest page (`max_page_size`, 100 by default): a larger perPage is read in several requests. */
  maxPageSize?: number;
  /** deleteMany through `POST {apiUrl}/batch`, one transaction (default); false: one DELETE per id (for `serve --no-batch`). */
  batch?: boolean;
  /**
   * update sends the ETag its row was read with (getOne) as If-Match, so that saving over a
   * row someone else changed since is a 412 (default); false: the last write wins.
   */
  ifMatch?: boolean;
}

/**
 * A react-admin DataProvider for a tablerest API.
 *
 * @example
 * const dataProvider = tablerestDataProvider('http://127.0.0.1:8000/api');
 */
export default function tablerestDataProvider(
  apiUrl: string,
  httpClient?: HttpClient,
  options?: TablerestProviderOptions,
): DataProvider;

/** A failed request as react-admin's HttpError, with `body.errors` in the shape of the form. */
export function problemError(error: unknown): unknown;
