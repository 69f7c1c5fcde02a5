"""ccxt's exception classes, imported only when one is raised.

Importing even ``ccxt.base.errors`` first runs ``ccxt/__init__``, which loads every
exchange (measured: ~0.25 s and 200+ modules), so the paper exchange's happy path must
not import ccxt at all. Raising through here gives callers the real ccxt classes, so
``except InvalidOrder`` works the same on paper as against the live venue.
"""

from __future__ import annotations


def ccxt_error(name: str, message: str) -> Exception:
    """An instance of ccxt's exception class `name` (e.g. "InvalidOrder")."""
    from ccxt.base import errors

    error_class: type[Exception] = getattr(errors, name)
    return error_class(message)
