"""The market-metadata cache on Firestore: one document per key in `market_cache`.

The markets travel as one compressed blob (see market_blob) so a document stays far
below Firestore's 1 MiB limit. The client is created on first use and honours
FIRESTORE_EMULATOR_HOST by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratus.adapters.firestore_client import document_id, firestore_client
from stratus.adapters.market_blob import pack, unpack
from stratus.ports import Clock

COLLECTION = "market_cache"
MAX_BLOB_BYTES = 1_000_000  # Firestore rejects documents over 1 MiB


class FirestoreMarketCache:
    def __init__(self, project: str, clock: Clock, database: str = "(default)") -> None:
        self._project = project
        self._database = database
        self._clock = clock

    @property
    def client(self) -> Any:
        return firestore_client(self._project, self._database)

    def _doc(self, key: str) -> Any:
        return self.client.collection(COLLECTION).document(document_id(key))

    def get(self, key: str, max_age_seconds: int) -> dict[str, dict[str, Any]] | None:
        snapshot = self._doc(key).get()
        if not snapshot.exists:
            return None
        data = snapshot.to_dict()
        age = (self._clock.now() - data["fetched_at"]).total_seconds()
        return None if age > max_age_seconds else unpack(bytes(data["markets"]))

    def put(self, key: str, markets: Mapping[str, Mapping[str, Any]]) -> None:
        blob = pack(markets)
        if len(blob) > MAX_BLOB_BYTES:
            raise ValueError(f"markets for {key} pack to {len(blob)} bytes, over 1 MiB")
        self._doc(key).set({"key": key, "fetched_at": self._clock.now(), "markets": blob})
