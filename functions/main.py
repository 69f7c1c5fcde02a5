"""Cloud Functions (gen2) targets: each decodes its trigger and calls one core handler.

Names match topology.yaml; deploy with the stratus package beside this file.
"""

from __future__ import annotations

from typing import Any

import functions_framework

from stratus.entrypoints import run_cloud_event, run_http
from stratus.service.handlers import ingest, operations


@functions_framework.http
def ingest_signal(request: Any) -> tuple[str, int, dict[str, str]]:
    return run_http(ingest.ingest_signal, request)


@functions_framework.cloud_event
def on_signal(event: Any) -> None:
    run_cloud_event("on_signal", event)


@functions_framework.cloud_event
def check_risk(event: Any) -> None:
    run_cloud_event("check_risk", event)


@functions_framework.cloud_event
def execute_order(event: Any) -> None:
    run_cloud_event("execute_order", event)


@functions_framework.cloud_event
def update_position(event: Any) -> None:
    run_cloud_event("update_position", event)


@functions_framework.cloud_event
def control(event: Any) -> None:
    run_cloud_event("control", event)


@functions_framework.cloud_event
def notify(event: Any) -> None:
    run_cloud_event("notify", event)


@functions_framework.http
def snapshot(request: Any) -> tuple[str, int, dict[str, str]]:
    return run_http(operations.snapshot, request)


@functions_framework.http
def reconcile(request: Any) -> tuple[str, int, dict[str, str]]:
    return run_http(operations.reconcile, request)


@functions_framework.http
def sweep(request: Any) -> tuple[str, int, dict[str, str]]:
    return run_http(operations.sweep, request)
