"""The names a table and its relations take in URLs: safe path steps, from any script."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["slug"]

#: What a resource's name keeps of a table's: letters and digits of any script, ``_ . ~ -``
#: (a URL path's unreserved characters; the others would need escaping in every link).
_UNSAFE = re.compile(r"[^\w.~-]+")


def slug(name: str) -> str:
    """A resource name for a table name: letters (of any script: ``Ünïcödé`` stays) and
    digits kept, each run of other characters but ``_ . ~ -`` (spaces, ``/``, ``?``...) made
    one ``_`` (``Order Items`` -> ``Order_Items``). Links percent-encode the letters."""
    s = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip("_")
    # ``.`` and ``..`` are path steps that clients and proxies remove from URLs.
    return s if s.strip(".") else "table"
