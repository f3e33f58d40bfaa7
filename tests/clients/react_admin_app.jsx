// A small react-admin app over a tablerest API, with the provider of clients/react-admin
// (installed by the test as node_modules/ra-data-tablerest), bundled by esbuild with API_URL
// defined: the books list (with its total) and an edit form whose server errors show under
// its fields, written as react-admin's tutorial writes them; with AUTH, behind its login page.
import { createRoot } from 'react-dom/client';
import {
  Admin, Datagrid, Edit, List, NumberField, NumberInput, Resource, SimpleForm, TextField,
  TextInput,
} from 'react-admin';
import tablerestDataProvider, { tablerestAuth } from 'ra-data-tablerest';

// API_URL and AUTH (true when the API signs users in) are esbuild's --define
const auth = AUTH ? tablerestAuth(API_URL) : undefined;

const BookList = () => (
  <List sort={{ field: 'id', order: 'ASC' }}>
    <Datagrid rowClick="edit">
      <TextField source="id" />
      <TextField source="title" />
      <TextField source="genre" />
      <NumberField source="year" options={{ useGrouping: false }} />
    </Datagrid>
  </List>
);

// pessimistic: the form waits for the server's answer, so its errors show under the fields
const BookEdit = () => (
  <Edit mutationMode="pessimistic">
    <SimpleForm>
      <TextInput source="title" />
      <TextInput source="genre" />
      <NumberInput source="year" />
      <TextInput source="isbn" />
    </SimpleForm>
  </Edit>
);

createRoot(document.getElementById('root')).render(
  <Admin dataProvider={tablerestDataProvider(API_URL, auth?.httpClient)} authProvider={auth?.authProvider}>
    <Resource name="books" list={BookList} edit={BookEdit} />
  </Admin>,
);
