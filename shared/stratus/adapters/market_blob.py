"""The stored form of cached exchange markets: compressed JSON.

Bybit's linear markets with their raw `info` are ~1 MB of JSON, Firestore's document
limit is 1 MiB; zlib brings them to a tenth. `info` is kept because some ccxt exchanges
read it when building requests (binance reads info.orderTypes).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any


def pack(markets: Mapping[str, Mapping[str, Any]]) -> bytes:
    text = json.dumps(markets, separators=(",", ":"), sort_keys=True, default=str)
    return zlib.compress(text.encode(), level=6)


def unpack(blob: bytes) -> dict[str, dict[str, Any]]:
    markets = json.loads(zlib.decompress(blob))
    if not isinstance(markets, dict):
        raise ValueError("cached markets are not a JSON object")
    return markets
