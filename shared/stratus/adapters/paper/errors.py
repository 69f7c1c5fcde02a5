"""ccxt's exception classes, imported only when one is raised.

A plain ``from ccxt.base import errors`` first runs ``ccxt/__init__``, which loads every
exchange (measured: ~0.25 s and 200+ modules); ccxt_loader imports the errors module
alone, and only when the paper venue first raises. Raising through here gives callers
the real ccxt classes, so ``except InvalidOrder`` works the same on paper as live.
"""

from __future__ import annotations


def ccxt_error(name: str, message: str) -> Exception:
    """An instance of ccxt's exception class `name` (e.g. "InvalidOrder")."""
    from stratus.adapters.ccxt_loader import errors_module

    error_class: type[Exception] = getattr(errors_module(), name)
    return error_class(message)
