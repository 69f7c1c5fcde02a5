"""The pg8000 placeholder rewrite, remembered per statement text, answers what pg8000's
own rewrite answers for the positional styles (SQLAlchemy's is "format"), and leaves
the named ones to pg8000."""

from __future__ import annotations

import pg8000.legacy
import pytest
from pg8000 import dbapi

from stratus.adapters.sql.driver import _remember_placeholders

CASES = [
    ("format", "SELECT %s, '%%s', %s FROM t WHERE a = %s", (1, 2, 3)),
    ("qmark", 'SELECT ?, "?", ?', (1, 2)),
    ("named", "SELECT :a, ':b', :b, :a -- :c\n FROM t", {"a": 1, "b": 2}),
    ("pyformat", "SELECT %(a)s, %(b)s, %(a)s", {"a": 1, "b": "x"}),
]


@pytest.mark.parametrize(("style", "query", "args"), CASES)
def test_remembered_rewrites_match_pg8000(style: str, query: str, args: object) -> None:
    _remember_placeholders()
    remembered = pg8000.legacy.convert_paramstyle
    original = remembered.__wrapped_original__
    assert dbapi.convert_paramstyle is remembered
    for _ in range(2):  # the first call fills the cache, the second reads it
        assert remembered(style, query, args) == original(style, query, args)
