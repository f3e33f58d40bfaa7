"""The public surface is small and pinned: a change to it is a deliberate, visible change."""

from __future__ import annotations

import tablerest


def test_exported_names_are_pinned_and_sorted() -> None:
    assert tablerest.__all__ == [
        "Api",
        "Auth",
        "BadRequest",
        "ChangeFeed",
        "Conflict",
        "Context",
        "Envelope",
        "ErrorRenderer",
        "FieldError",
        "Forbidden",
        "Identity",
        "InvalidParameter",
        "Limits",
        "NotFound",
        "Observability",
        "Permission",
        "RateLimits",
        "ReadReplicas",
        "Resource",
        "TablerestError",
        "Unauthorized",
        "ValidationFailed",
        "WriteContext",
        "authenticated",
        "caller",
        "json_object",
        "nobody",
        "owner",
        "public",
        "role",
    ]
    assert sorted(tablerest.__all__) == tablerest.__all__
    for name in tablerest.__all__:
        assert getattr(tablerest, name).__doc__, f"{name} has no docstring"
