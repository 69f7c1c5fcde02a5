"""Scheduled operations (Cloud Scheduler, `stratus up`, the CLI): snapshot, reconcile,
sweep.

All are idempotent and cover every account. One account's exchange being down does not
stop the others; the run then answers 503 so the scheduler retries it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Context, Decimal
from typing import Any

from stratus.domain.accounts import AssetBalance, Balances
from stratus.domain.errors import ExchangeError, PermanentError
from stratus.observability import log_fields
from stratus.service.http import HttpResult, error
from stratus.service.reconciliation import follow_orders, reconcile_account
from stratus.service.services import Services
from stratus.service.sweep import sweep as sweep_loose_ends

log = logging.getLogger(__name__)

SCHEDULE_TIME_HEADER = "X-CloudScheduler-ScheduleTime"
# The system of record keeps 18 decimal places (NUMERIC(38, 18)); a float's dust can have more.
STORED_PLACES = Decimal("1e-18")


def all_accounts(services: Services) -> list[str]:
    """Accounts with an exchange, a position, a working order or an owed effect."""
    names = set(services.exchanges.accounts())
    names.update(p.account for p in services.ledger.positions())
    names.update(r.request.account for r in services.state.orders(live=True))
    names.update(r.request.account for r in services.state.orders(owed=True))
    return sorted(names)


def follow_open_orders(services: Services) -> int:
    """Follow every working order to the exchange and finish what any document owes;
    how many fills were adopted."""
    loose = [*services.state.orders(live=True), *services.state.orders(owed=True)]
    accounts = sorted({r.request.account for r in loose})
    return sum(follow_orders(services, account).adopted for account in accounts)


def sweep(services: Services, headers: Mapping[str, str], body: bytes) -> HttpResult:
    """Finish owed effects and close pending orders whose message can no longer come
    (service/sweep.py); 503 while the exchange cannot say about some, so it runs again."""
    swept = sweep_loose_ends(services)
    return HttpResult(503 if swept.failed else 200, vars(swept))


def reconcile(services: Services, headers: Mapping[str, str], body: bytes) -> HttpResult:
    reports: dict[str, Any] = {}
    failed: dict[str, str] = {}
    for account in all_accounts(services):
        try:
            report = reconcile_account(services, account)
        except (ExchangeError, PermanentError) as trouble:
            failed[account] = str(trouble)
            log.error("reconcile failed", extra=log_fields(account=account, error=str(trouble)))
            continue
        reports[account] = report.model_dump(mode="json", exclude={"balances"})
    return HttpResult(503 if failed else 200, {"accounts": reports, "failed": failed})


def snapshot(services: Services, headers: Mapping[str, str], body: bytes) -> HttpResult:
    """Positions (ledger, marked at exchange prices) and exchange balances of every
    account, stored together once per schedule time; exchange positions are reported."""
    lowered = {key.lower(): value for key, value in headers.items()}
    stamp = lowered.get(SCHEDULE_TIME_HEADER.lower())
    try:
        taken_at = datetime.fromisoformat(stamp) if stamp else services.clock.now()
    except ValueError:
        return error(400, "bad_schedule_time", f"{SCHEDULE_TIME_HEADER} is not ISO-8601")
    if taken_at.tzinfo is None:
        return error(400, "bad_schedule_time", f"{SCHEDULE_TIME_HEADER} needs a timezone")
    done_key = f"snapshot:{taken_at.isoformat()}"
    if services.state.is_done(done_key):
        return HttpResult(200, {"taken_at": taken_at.isoformat(), "created": False})
    positions = [p for p in services.ledger.positions() if p.is_open]
    marks = {}
    balances: dict[str, dict[str, Decimal]] = {}
    wallets: list[Balances] = []
    accounts: dict[str, Any] = {}
    failed: dict[str, str] = {}
    for account in all_accounts(services):
        try:
            venue = services.exchanges.for_account(account)
            for position in (p for p in positions if p.account == account):
                marks[position.symbol] = _stored(venue.quote(position.symbol).mid)
            wallet = [_stored_balance(item) for item in venue.wallet()]
            wallets.append(Balances(account=account, fetched_at=taken_at, assets=wallet))
            balances[account] = {item.asset: item.total for item in wallet}
            accounts[account] = {
                "positions": {p.symbol: str(p.quantity) for p in venue.positions()},
                "balances": {c: str(total) for c, total in balances[account].items()},
            }
        except (ExchangeError, PermanentError) as trouble:
            failed[account] = str(trouble)
    if failed:  # a partial snapshot would be final: let the scheduler retry instead
        return HttpResult(503, {"taken_at": taken_at.isoformat(), "failed": failed})
    created = services.ledger.record_snapshot(taken_at, marks, balances)
    for held in wallets:  # free and used too: the system of record's current balances
        services.publish("balances", held)
    services.state.mark_done(done_key)
    log.info("snapshot", extra=log_fields(taken_at=taken_at.isoformat(), accounts=accounts))
    return HttpResult(
        201 if created else 200,
        {
            "taken_at": taken_at.isoformat(),
            "created": created,
            "positions": len(positions),
            "accounts": accounts,
        },
    )


def _stored_balance(item: AssetBalance) -> AssetBalance:
    return AssetBalance(
        asset=item.asset,
        free=_stored(item.free),
        used=_stored(item.used),
        total=_stored(item.total),
    )


def _stored(amount: Decimal) -> Decimal:
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -18:
        return amount.quantize(STORED_PLACES, context=Context(prec=60))
    return amount
