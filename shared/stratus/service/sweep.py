"""The sweep: every minute, finish what crashes and lost messages left undone.

It reads only loose ends, never the history: order documents whose effects are still
owed (a query on the `owed` field), and pending orders whose `orders` message can no
longer arrive (past Pub/Sub's delivery window with no live send lease). The first are
finished; the second are adopted if a send placed them, else closed with the reason
`undelivered` and their reservation given back. Working orders are reconcile's: the sweep
asks the exchange only about pending orders a send was attempted for. Last, every
position with protective exits has them brought to it (service/exits.py): a lost
`protect` control, or a crash between its steps, is finished here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from stratus.domain.errors import ConcurrentUpdate, ExchangeError, PermanentError
from stratus.domain.orders import OrderStatus
from stratus.observability import log_fields
from stratus.service.exits import sweep_exits
from stratus.service.outbox import (
    UNDELIVERED,
    UNDELIVERED_DETAIL,
    close_unsent,
    finish,
    may_still_be_sent,
)
from stratus.service.services import Services

log = logging.getLogger(__name__)


@dataclass
class Swept:
    finished: int = 0  # documents whose owed effects were completed
    closed: list[str] = field(default_factory=list)  # pending orders closed or adopted
    failed: dict[str, str] = field(default_factory=dict)  # clientOrderId -> why not yet
    protected: int = 0  # positions whose protective exits were brought to them


def sweep(services: Services) -> Swept:
    loose = {r.client_order_id: r for r in services.state.orders(owed=True)}
    for record in services.state.orders(live=True):
        if record.status is OrderStatus.PENDING and not may_still_be_sent(services, record):
            loose[record.client_order_id] = record
    swept = Swept()
    for key, record in loose.items():
        try:
            current = close_unsent(services, record, UNDELIVERED, UNDELIVERED_DETAIL)
            if current is not record:
                swept.closed.append(key)
            finish(services, current)
            swept.finished += 1
        except ConcurrentUpdate:
            continue  # someone is on it right now; their change owes its own finish
        except (ExchangeError, PermanentError) as trouble:
            swept.failed[key] = str(trouble)  # the next sweep asks again
    if loose:
        log.info("sweep", extra=log_fields(**vars(swept)))
    swept.protected = sweep_exits(services)
    return swept
