"""Framework-free HTTP results, so Flask (functions) and FastAPI (stratus up) share handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stratus.observability import current_trace_id


@dataclass(frozen=True)
class HttpResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, reason: str, detail: str) -> HttpResult:
    """A 4xx with a machine-readable reason, a human detail and the trace id."""
    return HttpResult(status, {"error": reason, "detail": detail, "trace_id": current_trace_id()})
