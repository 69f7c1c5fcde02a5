"""Taking control: manual orders, cancels, closes, flatten and sync, as messages.

Nothing here calls an exchange. A manual order or a close is a signal (source "manual"),
so on_signal sizes it and check_risk judges it like any other; a cancel or a sync is a
`controls` message the control function carries out with the executor's rules; flatten
throws the kill switch to `reducing`, then asks for the rest. Each request is published
first and then written to the audit log with the person who asked; every id is derived
from the request, so a retried request publishes the same message, which its handler
deduplicates.
"""

from __future__ import annotations

import hashlib
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel

from stratus.adapters.sql import audit
from stratus.domain.common import Side
from stratus.domain.control import Control, ControlKind
from stratus.domain.orders import OrderRecord, client_order_id_for, request_id_for
from stratus.domain.positions import Position
from stratus.domain.records import Conflict, NotFound
from stratus.domain.risk import TradingState, TradingStateChange
from stratus.domain.signals import Signal, SignalAction
from stratus.manager.store import Store
from stratus.service.services import Services

MANUAL_SOURCE = "manual"


class Submitted(BaseModel):
    """A signal the manager published: its fate is GET /signals, its first order's
    client_order_id is known before it exists (ids are derived, never drawn)."""

    signal_id: str
    client_order_id: str


class CancelRequested(BaseModel):
    client_order_id: str
    status: str  # where the order stood when the cancel was asked for
    control_id: str


class FlattenProgress(BaseModel):
    """Where a flatten stands; `done` once nothing is open and nothing works. Ask again
    (it is idempotent) to close what waited for its cancels."""

    scope: str
    trading_state: TradingState
    canceling: list[str]  # client_order_ids asked to cancel
    closing: list[Submitted]  # closes asked for now or still working
    waiting: list[str]  # account/strategy/symbol: closed once its working orders are gone
    done: bool


@dataclass
class Controls:
    services: Services
    store: Store
    _trail: list[tuple[str, str, str, BaseModel]] = field(default_factory=list)

    # --- orders and positions ----------------------------------------------------------

    def place(self, signal: Signal, actor: str) -> Submitted:
        """A manual order or close: published as a signal, then audited."""
        self.services.publish("signals", signal)
        submitted = Submitted(
            signal_id=signal.signal_id,
            client_order_id=client_order_id(signal.signal_id),
        )
        self._audit(actor, f"signal.{signal.action.value}", "signal", signal.signal_id, signal)
        return submitted

    def close_signal(
        self, account: str, strategy: str, symbol: str, quantity: Decimal | None, key: str | None
    ) -> Signal:
        """A close of the strategy's own position (its sub-ledger), all of it or at most
        `quantity`; on_signal sizes it from what the strategy will hold. Without a key its
        id comes from the position as it stands, so a repeat of the same request is one
        close, and a close after the position moved is a new one."""
        position = self.services.ledger.position(account, strategy, symbol)
        if not position.is_open:
            raise NotFound("position", f"{account}/{strategy}/{symbol}")
        signal_id = f"manual-{key}" if key else _close_id(position, quantity)
        signal = self._signal(signal_id, account, strategy, symbol, SignalAction.CLOSE, None)
        return signal.model_copy(update={"close_quantity": quantity})

    def order_signal(
        self,
        key: str,
        account: str,
        strategy: str,
        symbol: str,
        side: Side,
        quantity: Decimal,
        limit_price: Decimal | None,
    ) -> Signal:
        action = SignalAction.BUY if side is Side.BUY else SignalAction.SELL
        return self._signal(
            f"manual-{key}", account, strategy, symbol, action, quantity, limit_price
        )

    def cancel(self, coid: str, actor: str) -> CancelRequested:
        """Asks the control function to cancel a working order. 404 for an order nobody
        knows, Conflict (409) for one already final."""
        record = self.services.state.get_order(coid)
        if record is not None:
            account, symbol, status = record.request.account, record.request.symbol, record.status
            final = status.is_terminal
        else:  # the ledger still knows orders whose documents were cleaned up
            entry = self.store.portfolio.order(coid)  # NotFound: 404
            account, symbol, status_text = entry.account, entry.symbol, entry.status
            final = status_text not in ("pending", "open", "partially_filled")
        state = status.value if record is not None else status_text
        if final:
            raise Conflict("order_final", f"order {coid} is {state}")
        control = Control(
            control_id=f"cancel-{coid}",
            kind=ControlKind.CANCEL,
            account=account,
            client_order_id=coid,
            symbol=symbol,
            requested_by=actor,
            requested_at=self.services.clock.now(),
        )
        self.services.publish("controls", control)
        self._audit(actor, "order.cancel", "order", coid, control)
        return CancelRequested(client_order_id=coid, status=state, control_id=control.control_id)

    # --- accounts ------------------------------------------------------------------------

    def sync(self, account: str | None, actor: str) -> Control:
        now = self.services.clock.now()
        if account is not None:
            self.store.accounts.get(account)  # NotFound: 404
        control = Control(
            control_id=f"sync-{account or 'all'}-{now.strftime('%Y%m%dT%H%M%S%f')}",
            kind=ControlKind.SYNC,
            account=account,
            requested_by=actor,
            requested_at=now,
        )
        self.services.publish("controls", control)
        self._audit(actor, "account.sync", "account", account or "*", control)
        return control

    def flatten(self, account: str | None, actor: str) -> FlattenProgress:
        """Kill switch to `reducing` (the account's, or global), cancel every working
        order that is not a close, close every open strategy position once nothing else
        of its own works (a close is sized from what the working orders would leave, so
        it waits for their cancels). Idempotent: call it again until `done`."""
        if account is not None:
            self.store.accounts.get(account)  # NotFound: 404
        scope = f"account:{account}" if account else "global"
        state = self._reducing(scope, actor)
        # Protective exits stand: they only reduce, and go once the position is flat.
        working = [
            r for r in self.services.state.orders(account, live=True) if not r.request.exit_kind
        ]
        canceling = [r for r in working if not r.request.closes_position]
        for record in canceling:
            with suppress(Conflict):  # final since it was listed: nothing to cancel
                self.cancel(record.client_order_id, actor)
        closing: list[Submitted] = []
        waiting: list[str] = []
        for position in self.services.ledger.positions(account):
            if not position.is_open:
                continue
            mine = [r for r in working if _same_book(r, position)]
            if any(not r.request.closes_position for r in mine):
                waiting.append(f"{position.account}/{position.strategy}/{position.symbol}")
                continue
            if mine:  # a close works already: its fills take the position toward flat
                closing.extend(_submitted(r) for r in mine)
                continue
            signal = self.close_signal(
                position.account, position.strategy, position.symbol, None, None
            )
            closing.append(self.place(signal, actor))
        done = not (canceling or closing or waiting)
        progress = FlattenProgress(
            scope=scope,
            trading_state=state,
            canceling=[r.client_order_id for r in canceling],
            closing=closing,
            waiting=waiting,
            done=done,
        )
        self._audit(actor, "account.flatten", "account", account or "*", progress)
        return progress

    # --- helpers -------------------------------------------------------------------------

    def _reducing(self, scope: str, actor: str) -> TradingState:
        """At least `reducing` (a halt stays a halt); the change is announced."""
        current = self.services.state.trading_state([scope]).get(scope, TradingState.ACTIVE)
        if current is not TradingState.ACTIVE:
            return current
        reason = f"flatten by {actor}"
        self.services.state.set_trading_state(scope, TradingState.REDUCING, reason)
        change = TradingStateChange(
            scope=scope,
            state=TradingState.REDUCING,
            reason=reason,
            changed_at=self.services.clock.now(),
        )
        self.services.publish("trading-state", change)
        self._audit(actor, "kill_switch.set", "kill_switch", scope, change)
        return TradingState.REDUCING

    def _signal(
        self,
        signal_id: str,
        account: str,
        strategy: str,
        symbol: str,
        action: SignalAction,
        quantity: Decimal | None,
        limit_price: Decimal | None = None,
    ) -> Signal:
        self.store.accounts.get(account)  # NotFound: 404, before anything is published
        return Signal(
            signal_id=signal_id,
            source=MANUAL_SOURCE,
            account=account,
            strategy=strategy,
            symbol=symbol,
            action=action,
            quantity=quantity,
            limit_price=limit_price,
            created_at=self.services.clock.now(),
        )

    def _audit(
        self, actor: str, action: str, entity: str, entity_id: str, after: BaseModel
    ) -> None:
        with self.store.database.transaction() as session:
            audit.record(
                session,
                actor=actor,
                action=action,
                entity=entity,
                entity_id=entity_id,
                before=None,
                after=after,
                at=self.services.clock.now(),
            )


def client_order_id(signal_id: str) -> str:
    """The client_order_id the signal's first leg will have."""
    return client_order_id_for(request_id_for(signal_id, 0))


def _close_id(position: Position, quantity: Decimal | None) -> str:
    seen = f"{position.account}|{position.strategy}|{position.symbol}|{position.quantity}"
    stamp = position.updated_at.isoformat() if position.updated_at else ""
    digest = hashlib.sha256(f"{seen}|{stamp}|{quantity or ''}".encode()).hexdigest()[:24]
    return f"close-{digest}"


def _same_book(record: OrderRecord, position: Position) -> bool:
    request = record.request
    return (request.account, request.strategy, request.symbol) == (
        position.account,
        position.strategy,
        position.symbol,
    )


def _submitted(record: OrderRecord) -> Submitted:
    return Submitted(signal_id=record.request.signal_id, client_order_id=record.client_order_id)
