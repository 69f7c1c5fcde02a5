"""ccxt's exceptions in domain terms: the one place that knows ccxt's error classes.

Errors are matched by ccxt class name (along the MRO), so this module never imports ccxt
(a 0.45 s import).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from stratus.domain import errors

# An order this venue (or ccxt for it) does not take: as final as a rejection.
_REFUSED = ("NotSupported", "ArgumentsRequired")


def ccxt_names(error: BaseException) -> list[str]:
    return [cls.__name__ for cls in type(error).__mro__]


# ccxt.binance chooses its USDⓈ-M error table by URL prefix (https://fapi.binance.com/):
# pointed elsewhere (STRATUS_EXCHANGE_API_URL: a proxy, the paper server) these codes
# come back as a bare ExchangeError. Read as ccxt reads them from Binance's own host.
_BINANCE_FUTURES_CODES = {
    "-2019": "InsufficientFunds",  # Margin is insufficient.
    "-2022": "InvalidOrder",  # ReduceOnly Order is rejected.
    "-4116": "InvalidOrder",  # ClientOrderId is duplicated.
    "-4164": "InvalidOrder",  # Order's notional must be no smaller than ...
}
_BINANCE_CODE = re.compile(r'^binance \{\s*"code"\s*:\s*(-\d+)')


def _classified(names: list[str], message: str) -> list[str]:
    """ccxt class names, plus the class Binance's own host would have raised."""
    found = _BINANCE_CODE.match(message) if names[0] == "ExchangeError" else None
    extra = _BINANCE_FUTURES_CODES.get(found.group(1)) if found else None
    return [extra, *names] if extra else names


def map_error(error: Exception, symbol: str = "") -> Exception | None:
    """The domain error for a ccxt exception, or None if it is not one of ccxt's."""
    message = str(error)
    names = _classified(ccxt_names(error), message)
    if "BaseError" not in names:
        return None
    if "RateLimitExceeded" in names or "DDoSProtection" in names:
        return errors.RateLimited(message)
    if "NetworkError" in names:  # timeouts, 5xx, exchange unavailable
        return errors.ExchangeUnavailable(message)
    if "DuplicateOrderId" in names or (
        "InvalidOrder" in names and ("duplicate" in message.lower() or "110072" in message)
    ):
        return errors.DuplicateOrder(message)
    if "OrderNotFound" in names:
        return errors.OrderNotFound(message)
    if "BadSymbol" in names:
        return errors.UnknownSymbol(symbol)
    if "InsufficientFunds" in names:
        return errors.OrderRejected("insufficient_funds", message)
    if any(name in names for name in ("InvalidOrder", "BadRequest", *_REFUSED)):
        return errors.OrderRejected("exchange_rejected", message)
    if "AuthenticationError" in names or "PermissionDenied" in names:
        return errors.ExchangeMisconfigured(message)
    return errors.ExchangeUnavailable(message)  # unknown exchange trouble: retry safely


@contextmanager
def mapped(symbol: str = "") -> Iterator[None]:
    try:
        yield
    except errors.StratusError:
        raise
    except Exception as error:
        domain = map_error(error, symbol)
        if domain is None:
            raise
        raise domain from error
