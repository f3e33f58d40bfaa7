"""The decode stage: what a client sent -> typed intents, with no SQL and no database.

Query strings and request bodies end here as the values the operations take: a list, group or
item query, or a validated write (plain JSON, a form, a JSON:API document and a nested
document all end as the same intent).

- :mod:`.queries`: query strings -> list, group and item intents (filters, sorts, pages,
  fields, includes), fields resolved against the caller's view; :mod:`.paging` a list's page
  and count, :mod:`.filtervalues` a filter's value.
- :mod:`.bodies`: request bodies -> the validated intent of a write, as the caller sees the
  API; with :mod:`.jsonapi` (JSON:API documents -> flat field values) and :mod:`.nested`
  (nested documents -> a tree of validated rows).
- :mod:`.values`: text from a URL (a filter value, a key part, a policy's constant) -> a
  column's value; :mod:`.urlkeys`: an item URL's key -> key values.
- :mod:`.exactjson`: JSON with every number kept as it was sent.

Nothing is imported here.
"""
