"""Load one ccxt exchange class without importing all of ccxt.

``ccxt/__init__.py`` imports every exchange (~200 modules, ~0.3 s of a cold start), and
``from ccxt.bybit import bybit`` runs that ``__init__`` first. This module registers an
*unexecuted* ``ccxt`` package object (its spec and ``__path__``, nothing else) so that
``ccxt.base`` and the one exchange module import on their own.

The placeholder stays honest for code that later does ``import ccxt`` and expects the
whole library: the first attribute it does not have runs the real ``ccxt/__init__`` in
place (``__getattr__`` below), after which it *is* the normal ccxt package.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import threading
from types import ModuleType
from typing import Any

_EXCHANGE_ID = re.compile(r"^[a-z][a-z0-9]*$")
_lock = threading.Lock()


def exchange_class(exchange_id: str) -> type[Any]:
    """The ccxt class for `exchange_id` ("bybit", "binance", ...), loading only it."""
    if not _EXCHANGE_ID.match(exchange_id):
        raise ValueError(f"not a ccxt exchange id: {exchange_id!r}")
    with _lock:
        package = _package()
        try:
            module = importlib.import_module(f"ccxt.{exchange_id}")
        except ModuleNotFoundError as error:
            raise ValueError(f"ccxt has no exchange {exchange_id!r}") from error
    cls: type[Any] = getattr(module, exchange_id)
    # Full ccxt binds the class, not the module, to `ccxt.<id>`: keep that true here.
    if not getattr(package, "__stratus_complete__", True):
        package.__dict__[exchange_id] = cls
    return cls


def errors_module() -> ModuleType:
    """ccxt.base.errors (the exception classes), without the exchanges."""
    with _lock:
        _package()
        return importlib.import_module("ccxt.base.errors")


def _package() -> ModuleType:
    """`ccxt` in sys.modules: the real one if loaded already, else the placeholder."""
    loaded = sys.modules.get("ccxt")
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("ccxt")  # locates the package, executes nothing
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError("ccxt is not installed")
    package = importlib.util.module_from_spec(spec)
    package.__stratus_complete__ = False  # type: ignore[attr-defined]
    package.__getattr__ = _completing(package)  # type: ignore[method-assign]
    sys.modules["ccxt"] = package
    return package


def _completing(package: ModuleType) -> Any:
    def __getattr__(name: str) -> Any:
        if name.startswith("__") or package.__dict__.get("__stratus_complete__", True):
            raise AttributeError(name)
        with _lock:
            if not package.__dict__["__stratus_complete__"]:
                package.__dict__["__stratus_complete__"] = True
                spec = package.__spec__
                assert spec is not None
                assert spec.loader is not None
                spec.loader.exec_module(package)  # the real ccxt/__init__
        try:
            return package.__dict__[name]
        except KeyError:
            raise AttributeError(f"module 'ccxt' has no attribute {name!r}") from None

    return __getattr__
