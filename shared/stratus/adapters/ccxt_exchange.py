"""Real exchanges through ccxt: one configured client per account, any ccxt id.

Cold starts stay cheap: only ccxt.base and the account's exchange module are imported
(ccxt_loader), markets come from the MarketCache through `set_markets` instead of
load_markets (11 requests and ~1 s of rate-limiter sleep on Bybit), and Bybit is told
it talks to a unified trading account so it does not ask on every first order. Requests
are paced by a rolling per-second budget (rate_limit), so an order's create and fill
lookup go back to back instead of 100 ms apart.
Credentials come from ExchangeCredentials and live only inside the ccxt object.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from stratus.adapters.ccxt_errors import map_error
from stratus.adapters.ccxt_loader import exchange_class
from stratus.adapters.exchange_gateway import ExchangeGateway
from stratus.adapters.rate_limit import RollingWindow
from stratus.config import Settings
from stratus.domain.errors import ExchangeMisconfigured, PermanentError
from stratus.ports import ExchangeAccount, ExchangeCredentials, MarketCache

log = logging.getLogger(__name__)

# Per exchange: ccxt options for how Stratus trades (USDT-margined linear perpetuals).
EXCHANGE_OPTIONS: dict[str, dict[str, Any]] = {
    "bybit": {
        "defaultType": "swap",
        "defaultSettle": "USDT",
        "fetchMarkets": {"types": ["linear"]},  # 1 request instead of 11
        # New Bybit accounts are all unified (UTA); saying so skips 2 private calls.
        "enableUnifiedAccount": True,
        "enableUnifiedMargin": False,
    },
    "binance": {
        "defaultType": "future",
        # USDⓈ-M only: 1 request (/fapi/v1/exchangeInfo) instead of 5 (spot, its margin
        # pair lists, fapi, dapi).
        "fetchMarkets": {"types": ["linear"]},
        # Calls without a symbol (reconciliation's open orders) would go to spot: ccxt
        # resolves fetch_open_orders() as spot whatever defaultType says, unless a
        # subType is set. And it refuses that call unless the higher weight is intended.
        "defaultSubType": "linear",
        "fetchOpenOrders": {"warnWithoutSymbol": False},
    },
}
# Capabilities switched off: the currency lists (private calls inside load_markets:
# Bybit's coin query, Binance's sapi capital config) describe deposit networks, which
# order placement never reads.
EXCHANGE_HAS_NOT: dict[str, tuple[str, ...]] = {
    "bybit": ("fetchCurrencies",),
    "binance": ("fetchCurrencies",),
}


def environment(account: ExchangeAccount) -> str:
    return "demo" if account.demo else "sandbox" if account.sandbox else "live"


def market_cache_key(account: ExchangeAccount, api_url: str = "") -> str:
    """Markets differ per exchange, environment and (for local servers) host."""
    key = f"{account.exchange_id}/{environment(account)}"
    return f"{key}@{urlsplit(api_url).netloc}" if api_url else key


def point_at(urls: dict[str, Any], base_url: str) -> dict[str, Any]:
    """urls['api'] with every host replaced by base_url's, paths kept (works for Bybit's
    {'public': 'https://api.{hostname}', ...} and Binance's 'https://fapi.binance.com/fapi/v1')."""
    target = urlsplit(base_url)

    def moved(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: moved(inner) for key, inner in value.items()}
        if isinstance(value, str) and "://" in value:
            parts = urlsplit(value)
            path = target.path.rstrip("/") + parts.path
            return urlunsplit((target.scheme, target.netloc, path, parts.query, ""))
        return value

    api = urls["api"]
    return {**urls, "api": moved(api)}


def make_client(account: ExchangeAccount, settings: Settings) -> Any:
    """A ccxt client for the account: credentials, environment, local URL override."""
    try:
        cls = exchange_class(account.exchange_id)
    except ValueError as error:
        raise ExchangeMisconfigured(str(error)) from error
    client = cls(
        {
            "apiKey": account.api_key,
            "secret": account.secret,
            "enableRateLimit": settings.exchange_rate_limit,
            "timeout": settings.exchange_timeout_ms,
            "options": dict(EXCHANGE_OPTIONS.get(account.exchange_id, {})),
        }
    )
    switched_off = EXCHANGE_HAS_NOT.get(account.exchange_id, ())
    client.has = {**client.has, **dict.fromkeys(switched_off, False)}  # a copy: `has` is shared
    try:
        if account.sandbox:
            client.set_sandbox_mode(True)
        if account.demo:
            client.enable_demo_trading(True)
    except Exception as error:  # ccxt NotSupported: this exchange has no such environment
        raise ExchangeMisconfigured(f"{account.exchange_id}: {error}") from error
    if settings.exchange_api_url:
        client.urls = point_at(client.urls, settings.exchange_api_url)
    # ccxt calls self.throttle(cost) before each request when enableRateLimit is on.
    client.throttle = RollingWindow.for_ccxt(client.rateLimit).throttle
    return client


class CcxtExchanges:
    """The Exchanges port over ccxt; one gateway per account, built on first use."""

    def __init__(
        self,
        settings: Settings,
        accounts: ExchangeCredentials,
        markets: MarketCache | None = None,
    ) -> None:
        self._settings = settings
        self._accounts = accounts
        self._markets = markets
        self._gateways: dict[str, ExchangeGateway] = {}
        self._lock = threading.Lock()

    def for_account(self, account: str) -> ExchangeGateway:
        with self._lock:
            gateway = self._gateways.get(account)
            if gateway is None:
                gateway = ExchangeGateway(self._client(account))
                self._gateways[account] = gateway
            return gateway

    def accounts(self) -> list[str]:
        return self._accounts.accounts()

    def _client(self, name: str) -> Any:
        try:
            account = self._accounts.exchange_account(name)
        except KeyError:
            raise PermanentError("unknown_account", f"no exchange account {name!r}") from None
        client = make_client(account, self._settings)
        self._prime_markets(client, market_cache_key(account, self._settings.exchange_api_url))
        return client

    def _prime_markets(self, client: Any, key: str) -> None:
        """Cached markets into the client; on a miss load them once and cache them."""
        if self._markets is None:
            return
        ttl = self._settings.market_cache_ttl_seconds
        cached = self._markets.get(key, ttl)
        if cached:
            client.set_markets(cached)
            return
        try:
            client.load_markets()
        except Exception as error:
            raise (map_error(error) or error) from error
        try:
            self._markets.put(key, client.markets)
        except Exception:  # a cache that cannot be written must not stop trading
            log.warning("could not cache markets", extra={"key": key}, exc_info=True)
