"""`stratus db`, `stratus keys` and `stratus accounts` against a database by URL."""

from __future__ import annotations

import json

import pytest

from stratus.adapters.sql.schema_head import HEAD
from stratus.cli import main
from stratus.crypto import Keyring, dev_master_key


def use_keys(monkeypatch: pytest.MonkeyPatch, api_key: str, secret: str) -> None:
    """What `stratus accounts add` and `set-keys` read instead of prompting."""
    monkeypatch.setenv("STRATUS_ACCOUNT_API_KEY", api_key)
    monkeypatch.setenv("STRATUS_ACCOUNT_SECRET", secret)


@pytest.fixture
def local_db(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("STRATUS_DATABASE_URL", url)
    monkeypatch.setenv("STRATUS_SECRET_MASTER_KEY", dev_master_key("cli"))
    return url


def test_db_upgrade_and_current(local_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current"]) == 1  # empty: not at head
    assert main(["db", "upgrade"]) == 0
    assert f"empty -> {HEAD}" in capsys.readouterr().out
    assert main(["db", "current"]) == 0


def test_db_upgrade_on_postgres(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATUS_DATABASE_URL", postgres_url)
    assert main(["db", "upgrade"]) == 0  # already at head: nothing to do, still fine
    assert main(["db", "current"]) == 0


def test_add_account_then_rotate_the_master_key(
    local_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_keys(monkeypatch, "cli-key", "cli-secret")
    assert main(["accounts", "add", "acct-cli", "--exchange", "bybit", "--sandbox"]) == 0
    assert main(["keys", "new-version"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert Keyring.parse(printed).current == "v2"
    monkeypatch.setenv("STRATUS_SECRET_MASTER_KEY", printed)
    assert main(["keys", "rotate"]) == 0
    out = capsys.readouterr().out
    assert "re-wrapped 1 data key(s) under v2; 0 left" in out
    # Drop v1: the account still decrypts under v2 alone.
    only_v2 = json.loads(printed)
    only_v2["keys"].pop("v1")
    monkeypatch.setenv("STRATUS_SECRET_MASTER_KEY", json.dumps(only_v2))
    from stratus.service.bootstrap import build

    assert build().accounts.exchange_account("acct-cli").secret == "cli-secret"
    assert main(["accounts", "list"]) == 0
    listing = capsys.readouterr().out
    assert "acct-cli" in listing
    assert "cli-secret" not in listing


def test_issue_a_token(local_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "token", "--name", "ci", "--role", "trader"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("stx_")


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


def test_errors_are_one_line_with_the_reason(
    local_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_keys(monkeypatch, "cli-key-0123456789WXYZ", "cli-secret")
    assert main(["accounts", "add", "acct-cli", "--exchange", "bybit"]) == 0
    assert "key ...WXYZ" in capsys.readouterr().out
    assert main(["accounts", "add", "acct-cli", "--exchange", "bybit"]) == 1
    assert _one_line_error(capsys) == (
        "stratus accounts: error: account_exists: account 'acct-cli' already exists"
    )
    assert main(["accounts", "add", "other", "--exchange", "kraken"]) == 1
    assert "unknown exchange 'kraken': Stratus trades on paper, " in _one_line_error(capsys)
    assert main(["accounts", "add", "bad id", "--exchange", "paper", "--currency", "usd"]) == 1
    assert _one_line_error(capsys).count(": String should match pattern") == 2
    monkeypatch.setenv("STRATUS_ACCOUNT_SECRET", "with space")
    assert main(["accounts", "add", "spaced", "--exchange", "paper"]) == 1
    assert _one_line_error(capsys).endswith(
        "secret: Value error, must be printable ASCII without spaces"
    )
    assert main(["accounts", "set-keys", "nobody"]) == 1
    assert _one_line_error(capsys) == "stratus accounts: error: account 'nobody' not found"
    assert main(["accounts", "list"]) == 0
    assert capsys.readouterr().out.endswith("1 account(s)\n")  # nothing else was stored


def test_set_keys_replaces_both_and_shows_the_new_fingerprint(
    local_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_keys(monkeypatch, "old-key-0123456789WXYZ", "old-secret")
    assert main(["accounts", "add", "acct-cli", "--exchange", "binance"]) == 0
    use_keys(monkeypatch, "new-key-0123456789ABCD", "new-secret")
    assert main(["accounts", "set-keys", "acct-cli"]) == 0
    assert "replaced the keys of acct-cli (key ...ABCD)" in capsys.readouterr().out
    from stratus.service.bootstrap import build

    keys = build().accounts.exchange_account("acct-cli")
    assert (keys.api_key, keys.secret) == ("new-key-0123456789ABCD", "new-secret")
    assert main(["accounts", "list"]) == 0
    listing = capsys.readouterr().out
    assert "...ABCD" in listing
    assert "new-secret" not in listing
