"""The operations layer: what can be done to a resource's rows, under HTTP.

Each operation takes a caller's view (:mod:`.caller`, the authorize stage, worked out once
per request) and a parsed intent, and runs validation of what depends on the caller,
permissions, owner claims, hooks, the transaction, conflict diagnosis and change recording;
it returns rows, never HTTP responses. The HTTP routes (:mod:`tablerest.routes`), the batch
endpoint, ``tablerest import`` and applications' own code all call it.

- ``caller``: the caller's view (row scopes, visible and writable fields, concealed
  relations), made once per request.
- ``context``: one resource's statements, encoders and cached plans.
- ``reads`` (with ``embed``): pages, items, relations, groups, exports.
- ``writes`` (with ``rowchecks``): create, change and delete rows.
- ``bulk``: upserts and bulk updates; ``nesting``: creates with nested related rows.
- ``intents``: what a create asks for and what it wrote.
- ``service``: one resource's operations together; ``registry``: all of an API's.
"""
