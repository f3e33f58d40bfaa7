"""Keyset cursors: opaque, tamper-evident tokens for ``page[after]`` / ``page[before]``.

A cursor holds the sort values of one row and a signature of the sort it was made for, with an
HMAC over both. A cursor edited by hand, or used with another sort or resource, is a 400. The
values inside are not secret (they are the row's own sort values): the HMAC only makes the token
tamper-evident.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

import orjson

from ..errors import InvalidParameter

__all__ = ["decode_cursor", "encode_cursor"]

_MAC_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def encode_cursor(values: Sequence[Any], signature: str, secret: bytes) -> str:
    """A token for a row's sort ``values``, valid only for the sort named by ``signature``."""
    payload = orjson.dumps([signature, *values], default=str)
    return _b64(payload) + "." + _b64(_mac(secret, payload))


def decode_cursor(token: str, signature: str, secret: bytes, parameter: str) -> list[Any]:
    """The sort values in ``token``, as JSON values; a 400 naming ``parameter`` if it is bad."""
    bad = InvalidParameter(parameter, "The cursor is not valid for this list and sort")
    body, _, mac = token.partition(".")
    try:
        payload, given = _unb64(body), _unb64(mac)
    except (binascii.Error, ValueError):
        raise bad from None
    if not hmac.compare_digest(given, _mac(secret, payload)):
        raise bad
    try:
        decoded = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise bad from None
    if not isinstance(decoded, list) or not decoded or decoded[0] != signature:
        raise bad
    return decoded[1:]
