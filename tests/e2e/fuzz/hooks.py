"""Schemathesis hooks (loaded with SCHEMATHESIS_HOOKS): how to generate the string formats the
document uses beyond RFC 3339's, so that schema-valid data is made of valid values."""

from __future__ import annotations

import datetime as dt

import schemathesis
from hypothesis import strategies as st

_MOMENTS = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 12, 31))

# The OpenAPI format registry's names for date-times and times without an offset.
schemathesis.openapi.format("date-time-local", _MOMENTS.map(lambda d: d.isoformat()))
schemathesis.openapi.format("time-local", st.times().map(lambda t: t.isoformat()))
