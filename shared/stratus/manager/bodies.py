"""Request bodies read as strict JSON (stratus.contracts.json_text), not by json.loads.

FastAPI reads a JSON body through `Request.json()` before it validates anything, so each
router's route class hands its endpoints a request whose `json()` is strict: bounded
nesting, no duplicate keys, no NaN or Infinity, numbers kept as their text (amounts read
them exactly). A refusal is a 400 whose `error` says why (duplicate_key, too_deep,
malformed_json).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from stratus.contracts import json_text
from stratus.domain.errors import InvalidMessage
from stratus.manager.errors import BadRequest

# Far above any body the API takes (a snapshot of 10,000 marks is ~0.5 MiB), far below
# what would keep an instance busy parsing.
MAX_BODY_BYTES = 4 * 1024 * 1024


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_strict_json"):
            try:
                self._strict_json = json_text.loads(await self.body())
            except InvalidMessage as error:
                raise BadRequest(error.reason, error.detail) from None
        return self._strict_json


class StrictJsonRoute(APIRoute):
    """The route class of every manager router."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
