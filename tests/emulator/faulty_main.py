"""functions/main.py with faults for the emulator tests, selected by the trace id that
travels with every message of one signal (attribute trace_id):

- "nack-once-*": do the work, then fail the first delivery of each message, as when an
  instance crashes after its side effects but before the ack; Pub/Sub redelivers and the
  work must not happen twice.
- "poison-*": fail every delivery, as a bug would; after max delivery attempts the
  message must reach the dead-letter topic and stop blocking its ordering key.

Every delivery of a faulty message is logged with the deliveryAttempt of its push body
(functions-framework leaves that field out of the CloudEvent: it is read from the request).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import flask
import functions_framework

_spec = importlib.util.spec_from_file_location(
    "stratus_functions_main", Path(__file__).resolve().parents[2] / "functions" / "main.py"
)
assert _spec is not None
assert _spec.loader is not None
real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(real)

_failed: set[str] = set()
_lock = threading.Lock()


class InjectedFault(RuntimeError):
    pass


def _with_faults(function: str, event: Any) -> None:
    message = (event.data or {}).get("message") or {}
    trace = (message.get("attributes") or {}).get("trace_id", "")
    if trace.startswith(("poison-", "nack-once-")):
        attempt = (flask.request.get_json(silent=True) or {}).get("deliveryAttempt")
        print(f"{function}: message {message.get('messageId')} delivery attempt {attempt}")
    if trace.startswith("poison-"):
        raise InjectedFault(f"{function}: poison message {message.get('messageId')}")
    getattr(real, function)(event)
    if trace.startswith("nack-once-"):
        with _lock:
            first = message.get("messageId") not in _failed
            _failed.add(str(message.get("messageId")))
        if first:
            raise InjectedFault(f"{function}: lost the ack of {message.get('messageId')}")


@functions_framework.cloud_event
def execute_order(event: Any) -> None:
    _with_faults("execute_order", event)


@functions_framework.cloud_event
def update_position(event: Any) -> None:
    _with_faults("update_position", event)
