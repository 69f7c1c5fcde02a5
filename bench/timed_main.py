"""functions/main.py for bench.emulator_latency: execute_order as in production, its paper
venues timed (bench.pipeline.TimedVenues), each acknowledgement appended with its wall
clock time to the file named by BENCH_ACKS_FILE. Every other target is the real one.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import functions_framework

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # functions-framework loads this file by path: find bench/

from bench.pipeline import TimedVenues  # noqa: E402
from stratus.service.bootstrap import services  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "stratus_functions_main", REPO / "functions" / "main.py"
)
assert _spec is not None
assert _spec.loader is not None
real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(real)

_timed: TimedVenues | None = None
_lock = threading.Lock()


def _with_timed_venues() -> None:
    """Wrap the process' venues once, on the first delivery (services() is lazy)."""
    global _timed
    with _lock:
        if _timed is None:
            built = services()
            journal = Path(os.environ["BENCH_ACKS_FILE"])
            _timed = TimedVenues(built.exchanges, time.time, journal)
            built.exchanges = _timed


@functions_framework.cloud_event
def execute_order(event: Any) -> None:
    _with_timed_venues()
    real.execute_order(event)
