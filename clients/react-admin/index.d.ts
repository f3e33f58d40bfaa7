import type { AuthProvider, DataProvider, fetchUtils } from 'ra-core';

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

export interface TablerestAuthOptions {
  /** Where the tokens are kept: `localStorage` in a browser (default), else in memory. */
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
  /** What makes the sign-in requests: ra-core's `fetchUtils.fetchJson` by default. */
  fetchJson?: HttpClient;
}

/**
 * Sign-in against tablerest's token routes (`POST {apiUrl}/auth/token`, `/auth/refresh`,
 * `/auth/logout`, `GET /auth/me`): react-admin's `authProvider`, and the `httpClient` to give
 * the data provider, which sends the access token and refreshes it before it expires.
 *
 * @example
 * const { authProvider, httpClient } = tablerestAuth('http://127.0.0.1:8000/api');
 * const dataProvider = tablerestDataProvider('http://127.0.0.1:8000/api', httpClient);
 */
export function tablerestAuth(
  apiUrl: string,
  options?: TablerestAuthOptions,
): { authProvider: AuthProvider; httpClient: HttpClient };
