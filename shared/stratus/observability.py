"""Structured logs in Cloud Logging's JSON format, with a trace id across every step.

The trace id is born at ingestion (or taken from X-Cloud-Trace-Context), travels as the
`trace_id` message attribute, and is put on every log line through a context variable.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

TRACE_ATTRIBUTE = "trace_id"
_trace_id: ContextVar[str] = ContextVar("trace_id", default="")
# What a trace id from outside (a header, a message attribute) may look like; anything else
# gets a new id, so no sender can put arbitrary text on every log line and message.
_TRACE_FORM = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
# Process-wide, unlike the trace: the serving threads never ran configure_logging.
_project = {"id": ""}


def new_trace_id() -> str:
    return uuid.uuid4().hex


def current_trace_id() -> str:
    return _trace_id.get()


def trace_from_header(header: str | None) -> str | None:
    """The trace id in 'TRACE_ID/SPAN_ID;o=1' (X-Cloud-Trace-Context), if any."""
    if not header:
        return None
    trace = header.split("/", 1)[0].strip()
    return trace or None


@contextmanager
def traced(trace_id: str | None) -> Iterator[str]:
    outside = trace_id if trace_id and _TRACE_FORM.fullmatch(trace_id) else None
    token = _trace_id.set(outside or new_trace_id())
    try:
        yield _trace_id.get()
    finally:
        _trace_id.reset(token)


class CloudLoggingFormatter(logging.Formatter):
    """One JSON object per line, as Cloud Logging's agent parses them from stdout."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        trace = _trace_id.get()
        if trace:
            entry["trace_id"] = trace
            if _project["id"]:
                entry["logging.googleapis.com/trace"] = f"projects/{_project['id']}/traces/{trace}"
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        trace = _trace_id.get()
        fields = getattr(record, "fields", None)
        extra = " ".join(f"{k}={v}" for k, v in fields.items()) if isinstance(fields, dict) else ""
        prefix = f"[{trace[:8]}] " if trace else ""
        line = f"{record.levelname:<7} {prefix}{record.getMessage()} {extra}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(json_logs: bool, project: str = "", level: int | str = logging.INFO) -> None:
    """Logs to stdout as JSON (Cloud Logging) or plain to stderr, from `level` up
    (STRATUS_LOG_LEVEL)."""
    _project["id"] = project
    handler = logging.StreamHandler(sys.stdout if json_logs else sys.stderr)
    handler.setFormatter(CloudLoggingFormatter() if json_logs else PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def log_fields(**fields: object) -> dict[str, object]:
    """`logger.info("...", extra=log_fields(order=...))` adds structured fields."""
    return {"fields": fields}
