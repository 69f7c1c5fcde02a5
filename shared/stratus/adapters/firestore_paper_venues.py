"""Paper venues on Firestore (the `PaperVenueStore` port): what the functions of the
emulator stack, or of a paper deployment on Google Cloud, share as their exchange.

Collections: `paper_venues` (one document per account: its version and the venue's own
document) and `paper_orders` (finished orders, `expires_at` for a TTL policy). A save is
one batch: the venue document, preconditioned on the update time of the version read
(compare-and-set, as the order documents of firestore_state), and the finished orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stratus.adapters.firestore_client import document_id, firestore_client
from stratus.domain.errors import ConcurrentUpdate
from stratus.ports import FinishedOrder, StoredVenue

VENUES = "paper_venues"
ORDERS = "paper_orders"


class FirestoreVenueStore:
    def __init__(self, project: str, database: str = "(default)") -> None:
        self._project = project
        self._database = database

    @property
    def client(self) -> Any:
        return firestore_client(self._project, self._database)

    def _venue(self, account: str) -> Any:
        return self.client.collection(VENUES).document(document_id(account))

    def _order(self, account: str, order_id: str) -> Any:
        return self.client.collection(ORDERS).document(document_id(f"{account}/{order_id}"))

    def load(self, account: str) -> StoredVenue | None:
        snapshot = self._venue(account).get()
        if not snapshot.exists:
            return None
        return StoredVenue(snapshot.get("version"), snapshot.get("document"))

    def save(
        self, account: str, version: int, document: str, finished: Sequence[FinishedOrder]
    ) -> None:
        from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound

        ref = self._venue(account)
        fields = {"account": account, "version": version + 1, "document": document}
        batch = self.client.batch()
        if version == 0:
            batch.create(ref, fields)
        else:
            snapshot = ref.get()
            if not snapshot.exists or snapshot.get("version") != version:
                raise ConcurrentUpdate(f"paper venue {account} moved on")
            option = self.client.write_option(last_update_time=snapshot.update_time)
            batch.update(ref, fields, option=option)
        for order in finished:
            batch.set(self._order(account, order.order_id), _fields(account, order))
        try:
            batch.commit()
        except (AlreadyExists, FailedPrecondition, NotFound) as error:
            raise ConcurrentUpdate(f"paper venue {account} moved on") from error

    def finished_orders(
        self, account: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> list[str]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        if order_id is not None:
            snapshot = self._order(account, order_id).get()
            found = [snapshot.to_dict()] if snapshot.exists else []
            return [f["document"] for f in found if client_order_id in (None, f["client_order_id"])]
        query = self.client.collection(ORDERS).where(filter=FieldFilter("account", "==", account))
        if client_order_id is not None:
            query = query.where(filter=FieldFilter("client_order_id", "==", client_order_id))
        return [snapshot.get("document") for snapshot in query.stream()]

    def accounts(self) -> list[str]:
        return sorted(
            s.get("account") for s in self.client.collection(VENUES).select(["account"]).stream()
        )


def _fields(account: str, order: FinishedOrder) -> dict[str, Any]:
    return {
        "account": account,
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "expires_at": order.expires_at,
        "document": order.document,
    }
