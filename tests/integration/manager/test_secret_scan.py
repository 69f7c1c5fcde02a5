"""A scripted session, then a search for the exchange keys it used: they never appear in
the database (any table, any column), the logs (SQL statements and parameters included),
or any answer but the executor's."""

from __future__ import annotations

import logging
import random
import string
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import MetaData

from stratus.crypto import Keyring
from tests.integration.manager.conftest import Api, MasterKey, fill
from tests.integration.manager.route_table import operations

ROLES = ("reader", "trader", "admin", "service")
WINDOW = 8  # no 8 characters in a row of a key may show (a fingerprint shows 4)


def known_keys(count: int) -> list[tuple[str, str]]:
    """Recognisable, reproducible keys: what the scan looks for."""
    draw = random.Random(13)
    alphabet = string.ascii_uppercase + string.digits

    def key(prefix: str) -> str:
        return prefix + "".join(draw.choice(alphabet) for _ in range(28))

    return [(key("AK"), key("SK")) for _ in range(count)]


def fragments(secret: str) -> Iterator[str]:
    for start in range(len(secret) - WINDOW + 1):
        yield secret[start : start + WINDOW]


def database_text(api: Api) -> str:
    """Every row of every table, as text (bytes decoded as latin-1, so nothing is lost)."""
    tables = MetaData()
    engine = api.store.database.engine
    tables.reflect(engine)
    shown = []
    with engine.connect() as connection:
        for table in tables.sorted_tables:
            for row in connection.execute(table.select()):
                for value in row:
                    shown.append(
                        value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    )
    return "\n".join(shown)


def test_keys_never_leak_into_the_database_logs_or_answers(
    api: Api,
    master_key: MasterKey,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # statements and parameters
    (key1, secret1), (key2, secret2), (key3, secret3) = known_keys(3)
    answers: list[str] = []

    def keep(text: str) -> None:
        answers.append(text)

    # A session: accounts with known keys, a replaced secret, a failed create that echoes
    # its body back as a validation error, trading, a master-key rotation.
    for name, key, secret in (("acct-1", key1, secret1), ("acct-2", key2, "first-" + secret2)):
        body = {"account": name, "exchange_id": "bybit", "api_key": key, "secret": secret}
        keep(api.post("/api/v1/accounts", json=body).text)
    keep(api.patch("/api/v1/accounts/acct-2", json={"secret": secret2}).text)
    refused = {"account": "bad id", "exchange_id": "kraken", "api_key": key3, "secret": secret3}
    keep(api.post("/api/v1/accounts", json=refused).text)
    keep(api.put("/api/v1/accounts/acct-1/balances/USDT", json={"free": "1000"}).text)
    keep(api.post("/api/v1/positions/update", json={"fills": [fill(1)]}).text)
    master_key.value = Keyring.parse(master_key.value).with_new_version().dump()
    rotation = api.post("/api/v1/keys/rotate")
    assert rotation.json()["rewrapped"] == 2
    keep(rotation.text)

    # The executor reads them: the scan's strings are the real ones.
    for name, key, secret in (("acct-1", key1, secret1), ("acct-2", key2, secret2)):
        executor = api.get(f"/api/v1/accounts/{name}/credentials", role="service").json()
        assert (executor["api_key"], executor["secret"]) == (key, secret)

    # Everyone else reads everything they can ask for.
    app = api.client.app
    assert isinstance(app, FastAPI)
    reads = [op for op in operations(app) if op.method == "GET" and "credentials" not in op.path]
    for role in ROLES:
        for operation in reads:
            keep(api.get(operation.path, role=role).text)
        if role != "service":
            for account in ("acct-1", "acct-2"):
                keep(api.get(f"/api/v1/accounts/{account}/credentials", role=role).text)
    assert len(answers) > 100

    logs = caplog.text + "".join(capfd.readouterr())
    places = {"database": database_text(api), "logs": logs, "answers": "\n".join(answers)}
    assert "account.credentials.read" in places["database"]  # the reads were audited
    assert "INSERT INTO accounts" in logs  # the logs hold every statement and parameter
    for secret in (key1, secret1, key2, secret2, "first-" + secret2, key3, secret3):
        for where, text in places.items():
            leaked = [part for part in fragments(secret) if part in text]
            assert not leaked, f"{secret[:2]}... shows in the {where}: {leaked[:3]}"
