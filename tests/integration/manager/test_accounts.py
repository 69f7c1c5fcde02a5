"""Accounts: CRUD, secrets that never come back out, and the audit trail of each change."""

from __future__ import annotations

import json
import logging

import pytest

from tests.integration.manager.conftest import SERVICE, START, Api, fill

FULLWIDTH_BYBIT = "".join(chr(ord(c) + 0xFEE0) for c in "bybit")  # U+FF42...
BODY = {"account": "acct-1", "exchange_id": "bybit", "api_key": "AK-123", "secret": "SK-456"}


def test_create_get_list_update_delete(api: Api) -> None:
    created = api.post("/api/v1/accounts", json={**BODY, "label": "main", "sandbox": True})
    assert created.status_code == 201
    assert created.json()["version"] == 1
    assert api.get("/api/v1/accounts/acct-1", role="reader").json()["label"] == "main"
    listed = api.get("/api/v1/accounts", role="reader").json()
    assert (listed["total"], [a["account"] for a in listed["items"]]) == (1, ["acct-1"])

    updated = api.patch("/api/v1/accounts/acct-1", json={"label": "renamed", "version": 1})
    assert updated.status_code == 200
    assert (updated.json()["label"], updated.json()["version"]) == ("renamed", 2)
    stale = api.patch("/api/v1/accounts/acct-1", json={"label": "again", "version": 1})
    assert (stale.status_code, stale.json()["error"]) == (409, "stale_version")

    assert api.delete("/api/v1/accounts/acct-1").status_code == 204
    assert api.get("/api/v1/accounts/acct-1").status_code == 404
    assert api.delete("/api/v1/accounts/acct-1").status_code == 404


def test_duplicate_account_is_a_conflict(api: Api) -> None:
    assert api.post("/api/v1/accounts", json=BODY).status_code == 201
    again = api.post("/api/v1/accounts", json=BODY)
    assert (again.status_code, again.json()["error"]) == (409, "account_exists")


def test_credentials_are_encrypted_at_rest_and_never_returned(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.post("/api/v1/accounts", json=BODY)
    api.patch("/api/v1/accounts/acct-1", json={"secret": "SK-789"})
    answers = [
        api.get("/api/v1/accounts/acct-1").text,
        api.get("/api/v1/accounts").text,
        api.get("/api/v1/audit").text,
    ]
    with api.store.database.engine.connect() as connection:
        raw = repr(connection.exec_driver_sql("SELECT * FROM accounts").fetchall())
    for text in [*answers, raw, caplog.text]:
        assert "AK-123" not in text
        assert "SK-456" not in text
        assert "SK-789" not in text
    directory = api.store.accounts.exchange_account("acct-1")
    assert (directory.api_key, directory.secret) == ("AK-123", "SK-789")  # key kept, secret new
    assert "SK-789" not in repr(directory)


def test_only_the_executors_service_identity_reads_credentials(api: Api) -> None:
    api.post("/api/v1/accounts", json=BODY)
    answer = api.get("/api/v1/accounts/acct-1/credentials", role="service")
    assert answer.status_code == 200
    assert (answer.json()["api_key"], answer.json()["secret"]) == ("AK-123", "SK-456")
    for person in ("admin", "trader", "reader"):
        refused = api.get("/api/v1/accounts/acct-1/credentials", role=person)
        assert refused.status_code == 403
        assert "SK-456" not in refused.text
    missing = api.get("/api/v1/accounts/nobody/credentials", role="service")
    assert missing.status_code == 404


def test_every_read_of_decrypted_keys_is_audited(api: Api) -> None:
    api.post("/api/v1/accounts", json=BODY)
    api.get("/api/v1/accounts/acct-1/credentials", role="service")
    api.get("/api/v1/accounts/acct-1/credentials", role="admin")  # refused: no read
    api.store.accounts.exchange_account("acct-1")  # the executor in process
    reads = api.get("/api/v1/audit", params={"action": "account.credentials.read"}).json()
    assert [(e["actor"], e["entity_id"]) for e in reads["items"]] == [
        ("system", "acct-1"),
        (SERVICE, "acct-1"),
    ]
    assert [e["at"] for e in reads["items"]] == [START.isoformat().replace("+00:00", "Z")] * 2
    assert reads["items"][0]["after"] == {"api_key_fingerprint": "...3"}
    assert "SK-456" not in json.dumps(reads)
    assert "AK-123" not in json.dumps(reads)


def test_people_see_a_fingerprint_and_replace_keys(api: Api) -> None:
    created = api.post("/api/v1/accounts", json={**BODY, "api_key": "bybit-key-0123456789WXYZ"})
    assert created.json()["api_key_fingerprint"] == "...WXYZ"
    replaced = api.patch(
        "/api/v1/accounts/acct-1", json={"api_key": "new-key-0123456789ABCD", "secret": "SK-2"}
    )
    assert replaced.json()["api_key_fingerprint"] == "...ABCD"
    assert api.get("/api/v1/accounts/acct-1", role="reader").json()["api_key_fingerprint"] == (
        "...ABCD"
    )
    keys = api.store.accounts.exchange_account("acct-1")
    assert (keys.api_key, keys.secret) == ("new-key-0123456789ABCD", "SK-2")


def test_only_admins_manage_accounts(api: Api) -> None:
    for role in ("trader", "reader"):
        assert api.post("/api/v1/accounts", role=role, json=BODY).status_code == 403
    api.post("/api/v1/accounts", json=BODY)
    assert (
        api.patch("/api/v1/accounts/acct-1", role="trader", json={"label": "x"}).status_code == 403
    )
    assert api.delete("/api/v1/accounts/acct-1", role="trader").status_code == 403


def test_account_with_open_positions_cannot_be_deleted(api: Api) -> None:
    api.account()
    api.post("/api/v1/positions/update", json={"fills": [fill(1)]})
    refused = api.delete("/api/v1/accounts/acct-1")
    assert (refused.status_code, refused.json()["error"]) == (409, "account_has_open_positions")
    api.post("/api/v1/positions/update", json={"fills": [fill(2, "sell")]})
    assert api.delete("/api/v1/accounts/acct-1").status_code == 204


def test_every_mutation_is_audited_with_actor_and_trace(api: Api) -> None:
    api.post("/api/v1/accounts", json=BODY, headers={"X-Cloud-Trace-Context": "abc123/1;o=1"})
    api.patch("/api/v1/accounts/acct-1", json={"label": "renamed"})
    entries = api.get("/api/v1/audit", params={"entity": "account"}, role="reader").json()
    actions = [(e["action"], e["actor"]) for e in entries["items"]]
    assert actions == [
        ("account.update", "token:local-dev-admin"),
        ("account.create", "token:local-dev-admin"),
    ]
    update, create = entries["items"]
    assert create["trace_id"] == "abc123"
    assert (create["before"], create["after"]["label"]) == (None, "")
    assert (update["before"]["label"], update["after"]["label"]) == ("", "renamed")
    assert "secret" not in json.dumps(entries)


def test_balances_per_account_and_asset(api: Api) -> None:
    api.account(equity="5000")
    put = api.put(
        "/api/v1/accounts/acct-1/balances/BTC", role="trader", json={"free": "1.5", "used": "0.5"}
    )
    assert put.json()["total"] == "2"
    listed = api.get("/api/v1/accounts/acct-1/balances", role="reader").json()
    assert [(b["asset"], b["total"]) for b in listed["items"]] == [("BTC", "2"), ("USDT", "5000")]
    only = api.get("/api/v1/balances", params={"asset": "BTC"}).json()["items"]
    assert [b["account"] for b in only] == ["acct-1"]
    assert api.put("/api/v1/accounts/nobody/balances/BTC", json={"free": "1"}).status_code == 404
    assert (
        api.put(
            "/api/v1/accounts/acct-1/balances/BTC", role="reader", json={"free": "1"}
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    "exchange_id", ["kraken", "BYBIT", "bybit ", "", "x" * 33, FULLWIDTH_BYBIT]
)
def test_unknown_exchange_ids_are_refused_with_the_known_ones(api: Api, exchange_id: str) -> None:
    refused = api.post("/api/v1/accounts", json={**BODY, "exchange_id": exchange_id})
    assert refused.status_code == 422
    [problem] = refused.json()["detail"]
    assert problem["loc"] == ["body", "exchange_id"]
    assert api.get("/api/v1/accounts").json()["total"] == 0
    assert api.post("/api/v1/accounts", json=BODY).status_code == 201
    patched = api.patch("/api/v1/accounts/acct-1", json={"exchange_id": exchange_id})
    assert patched.status_code == 422
    assert api.get("/api/v1/accounts/acct-1").json()["exchange_id"] == "bybit"


def test_the_reason_names_the_exchanges_stratus_trades_on(api: Api) -> None:
    refused = api.post("/api/v1/accounts", json={**BODY, "exchange_id": "kraken"})
    assert refused.json()["detail"][0]["msg"] == (
        "Value error, unknown exchange 'kraken': Stratus trades on paper, bybit, binance"
    )
    for known in ("paper", "bybit", "binance"):
        body = {**BODY, "account": f"on-{known}", "exchange_id": known}
        assert api.post("/api/v1/accounts", json=body).status_code == 201


def test_credentials_must_be_printable_and_are_never_echoed(api: Api) -> None:
    for bad in ("with space", "tab\there", FULLWIDTH_BYBIT, "x" * 513):
        refused = api.post("/api/v1/accounts", json={**BODY, "secret": bad})
        assert refused.status_code == 422
        assert bad not in refused.text
