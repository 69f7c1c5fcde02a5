"""Cloud Logging JSON lines carry severity, message and the trace id of the signal."""

from __future__ import annotations

import io
import json
import logging
import threading

from stratus.observability import (
    CloudLoggingFormatter,
    configure_logging,
    log_fields,
    trace_from_header,
    traced,
)


def test_json_lines_link_to_the_trace_from_the_header() -> None:
    trace = trace_from_header("105445aa7843bc8bf206b12000100000/1;o=1")
    assert trace == "105445aa7843bc8bf206b12000100000"
    assert trace_from_header("") is None
    configure_logging(json_logs=True, project="proj")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(CloudLoggingFormatter())
    log = logging.getLogger("test.trace")
    log.addHandler(handler)
    try:
        with traced(trace):
            log.warning("order rejected", extra=log_fields(reason="max_order_notional"))
        log.info("outside")
    finally:
        log.removeHandler(handler)
        configure_logging(json_logs=False)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["severity"] == "WARNING"
    assert inside["message"] == "order rejected"
    assert inside["reason"] == "max_order_notional"
    assert inside["trace_id"] == trace
    assert inside["logging.googleapis.com/trace"] == f"projects/proj/traces/{trace}"
    assert "trace_id" not in outside


def test_the_project_is_known_on_every_thread() -> None:
    configure_logging(json_logs=True, project="proj")
    lines: list[str] = []

    def log_on_a_thread() -> None:
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello", None, None)
        with traced("abc"):
            lines.append(CloudLoggingFormatter().format(record))

    thread = threading.Thread(target=log_on_a_thread)
    thread.start()
    thread.join()
    configure_logging(json_logs=False)
    assert json.loads(lines[0])["logging.googleapis.com/trace"] == "projects/proj/traces/abc"


def test_a_trace_id_from_outside_must_look_like_one() -> None:
    with traced("105445aa7843bc8bf206b12000100000") as kept:
        assert kept == "105445aa7843bc8bf206b12000100000"
    for hostile in ("x" * 65, "a b", "trace\nforged line", "\u00e9t\u00e9", ""):
        with traced(hostile) as replaced:
            assert replaced != hostile
            assert len(replaced) == 32
