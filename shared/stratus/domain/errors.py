"""The domain's error hierarchy. Each docstring says how the pipeline handles it.

Rule of thumb: raising anything from a handler means "retry this message"; a
PermanentError means "this can never succeed": the message is acknowledged and sent to its
dead-letter topic with `reason`.
"""

from __future__ import annotations


class StratusError(Exception):
    """Base of every error Stratus raises on purpose."""


class PermanentError(StratusError):
    """Can never succeed: acknowledge, dead-letter with the reason, never retry."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class InvalidMessage(PermanentError):
    """The message does not match its schema or its model's rules."""


class UnknownSymbol(PermanentError):
    """The exchange does not list the symbol."""

    def __init__(self, symbol: str) -> None:
        super().__init__("unknown_symbol", f"the exchange does not list {symbol!r}")


class ConcurrentUpdate(StratusError):
    """Two writers met on one record (optimistic lock): retry the whole use case."""


class InvalidTransition(StratusError):
    """An order state change the state machine forbids: a bug or an out-of-order event."""


class ExchangeError(StratusError):
    """Base of errors mapped from the exchange client at the adapter boundary."""


class ExchangeUnavailable(ExchangeError):
    """Timeout, network error, 5xx, rate limit. Ambiguous for a create: the order may
    have been placed, so look it up by clientOrderId before any retry; then retry with
    backoff."""


class RateLimited(ExchangeUnavailable):
    """The exchange asked us to slow down (Bybit retCode 10006): back off, then retry."""


class OrderRejected(ExchangeError, PermanentError):
    """The exchange refused the order for good (bad parameters, no funds): never retry."""

    def __init__(self, reason: str, detail: str) -> None:
        PermanentError.__init__(self, reason, detail)


class DuplicateOrder(ExchangeError):
    """The clientOrderId was already used: the order is placed; look it up."""


class OrderNotFound(ExchangeError):
    """The exchange does not know this order (never placed, or long gone)."""


class ExchangeMisconfigured(ExchangeError, PermanentError):
    """Bad credentials or permissions: retrying cannot help until a human fixes it."""

    def __init__(self, detail: str) -> None:
        PermanentError.__init__(self, "exchange_auth", detail)


class DestinationFailed(StratusError):
    """A notification destination refused or could not be reached: retried (Pub/Sub
    redelivers), then dead-lettered; trading never waits for it."""
