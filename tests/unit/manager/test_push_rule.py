"""Who may push the recorder its topics: any service identity, or a trader's token."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from stratus.adapters.sql.tokens import Role
from stratus.manager.auth import Principal, Require

PUSH = Require(Role.TRADER, service_role=Role.READER)


def test_a_reader_service_identity_may_push() -> None:
    push_identity = Principal("stratus-pubsub-push@p.iam.gserviceaccount.com", Role.READER, True)
    assert PUSH(push_identity) is push_identity


def test_a_trader_token_may_push_and_a_reader_token_may_not() -> None:
    trader = Principal("token:relay", Role.TRADER)
    assert PUSH(trader) is trader
    with pytest.raises(HTTPException) as refused:
        PUSH(Principal("token:someone", Role.READER))
    assert refused.value.status_code == 403


def test_the_push_identity_is_no_executor() -> None:
    executor = Require(Role.TRADER, service_only=True)
    with pytest.raises(HTTPException):
        executor(Principal("stratus-pubsub-push@p.iam.gserviceaccount.com", Role.READER, True))
