// index.d.ts of clients/react-admin as a TypeScript user of react-admin meets it (compiled
// with tsc --strict --noEmit by the test): the provider is a DataProvider, the httpClient a
// wrapper of ra-core's fetchJson that adds a token, the options checked.
import { fetchUtils, type AuthProvider, type DataProvider } from 'ra-core';
import tablerestDataProvider, {
  tablerestAuth,
  type TablerestProviderOptions,
} from 'ra-data-tablerest';

const httpClient = (url: string, options: fetchUtils.Options = {}) => {
  const headers = new Headers(options.headers);
  headers.set('Authorization', 'Bearer token');
  return fetchUtils.fetchJson(url, { ...options, headers });
};

const options: TablerestProviderOptions = {
  count: 'capped',
  maxPageSize: 50,
  batch: false,
  ifMatch: false,
};
export const plain: DataProvider = tablerestDataProvider('http://127.0.0.1:8000/api');
export const signedIn: DataProvider = tablerestDataProvider(
  'http://127.0.0.1:8000/api',
  httpClient,
  options,
);
export const uncounted: DataProvider = tablerestDataProvider('/api', undefined, { count: false });

// @ts-expect-error: count is exact, estimated, capped or false
tablerestDataProvider('/api', undefined, { count: 'sometimes' });
// @ts-expect-error: the API root is a string
tablerestDataProvider(8000);

// the auth provider and its signing httpClient
const { authProvider, httpClient: signed } = tablerestAuth('http://127.0.0.1:8000/api');
export const withAuth: [AuthProvider, DataProvider] = [
  authProvider,
  tablerestDataProvider('http://127.0.0.1:8000/api', signed),
];
