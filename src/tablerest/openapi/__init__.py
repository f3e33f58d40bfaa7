"""The OpenAPI 3.1 document of an API, derived from the same resources and schemas it serves.

Request bodies use the JSON Schema of the validators themselves (pydantic), so the document
cannot disagree with what a write accepts. Rows are described from the columns as the JSON
encoder writes them (decimals as strings, binary as base64, enums as labels). Every error
response is ``application/problem+json`` with the ``Problem`` schema.

The document describes the API as one caller sees it (their :class:`~tablerest.resource.View`):
fields ``hidden_unless`` hides from them, and relations concealed from them, are not named
anywhere in it, so that the document never confirms what a request could not. Without a view
(``tablerest openapi``, or an API without permissions) it describes every declared field.

The package, by concern: :mod:`.document` assembles the document (and the key callers with the
same view share it under); :mod:`.paths` lays out each resource's paths, built by
:mod:`.collection`, :mod:`.item`, :mod:`.relations` and :mod:`.changes` (with :mod:`.auth` and
:mod:`.batch` for the API's own routes); :mod:`.parameters` writes the query language,
:mod:`.schemas` and :mod:`.jsonapi` the component schemas, :mod:`.fields` each field's schema,
:mod:`.common` the shared pieces; :mod:`.examples` gives the finished paths the examples the
docs page's Try it out sends. Each builder takes the :class:`.context.Context` of the
document under way; :mod:`.source` says what is read of the mounted API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .document import FORMATS, OPENAPI_VERSION, document, operations, view_key

__all__ = ["FORMATS", "OPENAPI_VERSION", "document", "operations", "view_key"]


def __getattr__(name: str) -> Any:
    # The builders are imported by the first document (the first GET of openapi.json, or
    # ``tablerest openapi``), not with every app: a serve worker whose docs nobody reads is
    # 0.3 MiB lighter. Importing .document sets this package's ``document`` to the module;
    # the function takes its place, as the eager import did.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(".document", __name__)
    for each in __all__:
        globals()[each] = getattr(module, each)
    return globals()[name]
