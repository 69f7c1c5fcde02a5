"""Signals with their fate, dead letters and reconciliation reports (read), and the push
endpoint through which Pub/Sub hands the recorder its topics (stratus.manager.recorder)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from stratus.adapters.sql.outcomes import DeadLetter, DeadLetterCount, SignalFilter
from stratus.domain.common import Identifier, Symbol
from stratus.domain.outcomes import SignalOutcome, SignalStatus
from stratus.domain.reconciliation import ReconciliationReport
from stratus.domain.records import OrderEntry
from stratus.manager.auth import Pusher, Reader
from stratus.manager.bodies import StrictJsonRoute
from stratus.manager.recorder import Recorder
from stratus.manager.routes.deps import StoreDep
from stratus.manager.schemas import Paged, Paging, paged
from stratus.ports import Envelope
from stratus.topology import topology

router = APIRouter(route_class=StrictJsonRoute)


class SignalOut(SignalOutcome):
    orders: list[OrderEntry]  # what it became, from the orders ledger


@router.get("/signals", response_model=Paged[SignalOut], tags=["signals"])
def list_signals(
    store: StoreDep,
    _: Reader,
    page: Paging,
    status: SignalStatus | None = None,
    account: Identifier | None = None,
    strategy: Identifier | None = None,
    symbol: Symbol | None = None,
    source: Identifier | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> Paged[SignalOut]:
    """Every signal and its fate, newest first: accepted with the orders it became,
    refused at the webhook, rejected by risk or dead-lettered, each with the reason."""
    where = SignalFilter(
        status.value if status else None, account, strategy, symbol, source, since, until
    )
    fates, total = store.outcomes.signals(where, page)
    items = [SignalOut(**fate.outcome.model_dump(), orders=fate.orders) for fate in fates]
    return paged(items, total, page)


Topic = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")]


@router.get("/dead-letters", response_model=Paged[DeadLetter], tags=["dead letters"])
def list_dead_letters(
    store: StoreDep, _: Reader, page: Paging, topic: Topic | None = None
) -> Paged[DeadLetter]:
    """Messages that could never be processed, newest first."""
    return paged(*store.outcomes.dead_letters(page, topic), page)


@router.get("/dead-letters/counts", response_model=list[DeadLetterCount], tags=["dead letters"])
def dead_letter_counts(store: StoreDep, _: Reader) -> list[DeadLetterCount]:
    return store.outcomes.dead_letter_counts()


@router.get(
    "/reconciliation/reports",
    response_model=Paged[ReconciliationReport],
    tags=["reconciliation"],
)
def reconciliation_reports(
    store: StoreDep,
    _: Reader,
    page: Paging,
    account: Identifier | None = None,
    clean: bool | None = None,
) -> Paged[ReconciliationReport]:
    """What each reconciliation run found and did, newest first."""
    return paged(*store.outcomes.reports(page, account, clean), page)


class PushMessage(BaseModel):
    data: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)
    message_id: str = Field(alias="messageId", min_length=1, max_length=128)
    publish_time: AwareDatetime | None = Field(default=None, alias="publishTime")


class Push(BaseModel):
    message: PushMessage
    subscription: str = ""


PushTopic = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{0,62}$")]


@router.post("/pubsub/{topic}", status_code=204, tags=["recorder"])
def push(topic: PushTopic, body: Push, request: Request, _: Pusher) -> Response:
    """Pub/Sub push of a topic the recorder keeps (signals, refusals, rejections,
    reconciliation reports, dead letters). 2xx acknowledges; a failure is redelivered."""
    if topic not in topology().recorded():
        raise HTTPException(404, f"the recorder does not keep topic {topic!r}")
    try:
        data = base64.b64decode(body.message.data, validate=True)
    except binascii.Error:
        raise HTTPException(400, "message.data is not base64") from None
    envelope = Envelope(
        message_id=body.message.message_id,
        topic=topic,
        data=data,
        attributes=body.message.attributes,
        published_at=body.message.publish_time or datetime.now(UTC),
    )
    recorder: Recorder = request.app.state.recorder
    recorder.record(envelope)
    return Response(status_code=204)
