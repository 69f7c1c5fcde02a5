"""The execution state store on Firestore (production; the emulator in tests).

Collections: `processed` (idempotency ledger), `claims` (webhook replay nonces and
dead-letter claims) and `counters` (rate limits), both with an `expires_at` field for a
TTL policy, `orders` (lifecycle documents keyed by clientOrderId, with `owed` set while
effects of a change are still owed), `kill_switch` (one document per scope) and
`exit_plans` (a strategy position's protective exits, keyed by account/strategy/symbol). The
client is created on first use and honours FIRESTORE_EMULATOR_HOST by itself.

Order documents are compare-and-set: the stored `version` is read and checked, then the
write carries a last-update-time precondition, so a writer that read an older document
fails instead of overwriting (optimistic, no server-side transaction locks).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from stratus.adapters.firestore_client import document_id, firestore_client
from stratus.domain.errors import ConcurrentUpdate
from stratus.domain.exits import ExitPlan
from stratus.domain.orders import OrderRecord, OrderStatus
from stratus.domain.risk import TradingState
from stratus.ports import Clock

PROCESSED = "processed"
CLAIMS = "claims"
COUNTERS = "counters"
ORDERS = "orders"
KILL_SWITCH = "kill_switch"
EXIT_PLANS = "exit_plans"
_LIVE = [OrderStatus.PENDING.value, OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value]


class FirestoreStateStore:
    def __init__(self, project: str, clock: Clock, database: str = "(default)") -> None:
        self._project = project
        self._database = database
        self._clock = clock

    @property
    def client(self) -> Any:
        return firestore_client(self._project, self._database)

    def _doc(self, collection: str, key: str) -> Any:
        return self.client.collection(collection).document(document_id(key))

    def is_done(self, key: str) -> bool:
        return bool(self._doc(PROCESSED, key).get().exists)

    def mark_done(self, key: str) -> None:
        self._doc(PROCESSED, key).set({"key": key, "done_at": self._clock.now()})

    def claim(self, key: str, ttl_seconds: int) -> bool:
        from google.api_core.exceptions import AlreadyExists

        expires = self._clock.now() + timedelta(seconds=ttl_seconds)
        try:
            self._doc(CLAIMS, key).create({"key": key, "expires_at": expires})
        except AlreadyExists:
            return False
        return True

    def increment(self, key: str, ttl_seconds: int) -> int:
        """One write: a server-side increment, whose result comes back with the commit."""
        from google.cloud.firestore import Increment

        expires = self._clock.now() + timedelta(seconds=ttl_seconds)
        fields = {"key": key, "count": Increment(1), "expires_at": expires}
        result = self._doc(COUNTERS, key).set(fields, merge=True)
        return int(result.transform_results[0].integer_value)

    def trading_state(self, scopes: Sequence[str]) -> dict[str, TradingState]:
        refs = [self._doc(KILL_SWITCH, scope) for scope in scopes]
        found: dict[str, TradingState] = {}
        for snapshot in self.client.get_all(refs):
            if snapshot.exists:
                data = snapshot.to_dict()
                found[data["scope"]] = TradingState(data["state"])
        return found

    def set_trading_state(self, scope: str, state: TradingState, reason: str) -> None:
        self._doc(KILL_SWITCH, scope).set(
            {
                "scope": scope,
                "state": state.value,
                "reason": reason,
                "updated_at": self._clock.now(),
            }
        )

    def create_order(self, record: OrderRecord) -> bool:
        from google.api_core.exceptions import AlreadyExists

        try:
            self._doc(ORDERS, record.client_order_id).create(_fields(record))
        except AlreadyExists:
            return False
        return True

    def get_order(self, client_order_id: str) -> OrderRecord | None:
        snapshot = self._doc(ORDERS, client_order_id).get()
        return _record(snapshot.to_dict()) if snapshot.exists else None

    def save_order(self, record: OrderRecord) -> OrderRecord:
        from google.api_core.exceptions import FailedPrecondition, NotFound

        ref = self._doc(ORDERS, record.client_order_id)
        snapshot = ref.get()
        if not snapshot.exists or snapshot.get("version") != record.version:
            raise ConcurrentUpdate(f"order {record.client_order_id} moved on")
        saved = record.model_copy(update={"version": record.version + 1})
        option = self.client.write_option(last_update_time=snapshot.update_time)
        try:
            ref.update(_fields(saved), option=option)
        except (FailedPrecondition, NotFound) as error:
            raise ConcurrentUpdate(f"order {record.client_order_id} moved on") from error
        return saved

    def orders(
        self, account: str | None = None, live: bool = False, owed: bool = False
    ) -> list[OrderRecord]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.client.collection(ORDERS)
        if account is not None:
            query = query.where(filter=FieldFilter("account", "==", account))
        if live:
            query = query.where(filter=FieldFilter("status", "in", _LIVE))
        if owed:  # equality filters only: served by single-field indexes, no composite one
            query = query.where(filter=FieldFilter("owed", "==", True))
        # Sorted here rather than by the query, so no composite index is needed.
        records = [_record(snapshot.to_dict()) for snapshot in query.stream()]
        return sorted(records, key=lambda r: (r.created_at, r.client_order_id))

    def save_exit_plan(self, plan: ExitPlan) -> None:
        document = {"document": plan.model_dump_json(), "has_exits": plan.has_exits}
        self._doc(EXIT_PLANS, _plan_key(*plan.key)).set(document)

    def exit_plan(self, account: str, strategy: str, symbol: str) -> ExitPlan | None:
        snapshot = self._doc(EXIT_PLANS, _plan_key(account, strategy, symbol)).get()
        if not snapshot.exists:
            return None
        return ExitPlan.model_validate_json(snapshot.to_dict()["document"])

    def exit_plans(self) -> list[ExitPlan]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        # One equality filter: served by the single-field index, no composite one.
        with_exits = FieldFilter("has_exits", "==", True)
        query = self.client.collection(EXIT_PLANS).where(filter=with_exits)
        plans = [
            ExitPlan.model_validate_json(snapshot.to_dict()["document"])
            for snapshot in query.stream()
        ]
        return sorted(plans, key=lambda plan: plan.key)


def _plan_key(account: str, strategy: str, symbol: str) -> str:
    return f"{account}/{strategy}/{symbol}"


def _fields(record: OrderRecord) -> dict[str, Any]:
    return {
        "account": record.request.account,
        "status": record.status.value,
        "owed": record.owes,
        "version": record.version,
        "created_at": record.created_at,
        "document": record.model_dump_json(),
    }


def _record(data: dict[str, Any]) -> OrderRecord:
    return OrderRecord.model_validate_json(data["document"])
