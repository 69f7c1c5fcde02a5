"""Bearer tokens, roles, and Google ID tokens (signed here by a local RSA key)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt

from tests.integration.manager.conftest import AUDIENCE, SERVICE, Api, bearer, fill


def test_every_api_route_needs_a_token(api: Api) -> None:
    answer = api.get("/api/v1/positions", role="")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert api.get("/api/v1/positions", role="", headers=bearer("stx_wrong")).status_code == 401
    assert (
        api.get("/api/v1/positions", role="", headers={"Authorization": "Basic x"}).status_code
        == 401
    )
    assert api.get("/live", role="").status_code == 200


def test_roles(api: Api) -> None:
    api.account()
    assert api.get("/api/v1/positions", role="reader").status_code == 200
    assert (
        api.post("/api/v1/positions/update", role="reader", json={"fills": [fill(1)]}).status_code
        == 403
    )
    assert (
        api.post("/api/v1/positions/update", role="trader", json={"fills": [fill(1)]}).status_code
        == 200
    )
    assert (
        api.post("/api/v1/tokens", role="trader", json={"name": "x", "role": "reader"}).status_code
        == 403
    )
    assert api.post("/api/v1/keys/rotate", role="trader").status_code == 403


def test_tokens_are_stored_hashed_and_revocable(api: Api) -> None:
    issued = api.post("/api/v1/tokens", json={"name": "ci", "role": "reader"})
    assert issued.status_code == 201
    token = issued.json()["token"]
    with api.store.database.engine.connect() as connection:
        stored = repr(connection.exec_driver_sql("SELECT * FROM api_tokens").fetchall())
    assert token not in stored
    assert api.get("/api/v1/positions", role="", headers=bearer(token)).status_code == 200
    assert token not in api.get("/api/v1/tokens").text
    assert api.delete(f"/api/v1/tokens/{issued.json()['token_id']}").status_code == 204
    assert api.get("/api/v1/positions", role="", headers=bearer(token)).status_code == 401
    assert api.delete("/api/v1/tokens/unknown").status_code == 404


def test_google_id_token_of_a_known_service_account(api: Api, id_token: Any) -> None:
    api.account()
    token = id_token()
    answer = api.post(
        "/api/v1/positions/update", role="", headers=bearer(token), json={"fills": [fill(1)]}
    )
    assert answer.status_code == 200
    # The functions' service identity may read decrypted credentials; trader tokens may not.
    assert (
        api.get("/api/v1/accounts/acct-1/credentials", role="", headers=bearer(token)).status_code
        == 200
    )
    assert api.post("/api/v1/accounts", role="", headers=bearer(token), json={}).status_code in (
        403,
        422,
    )
    audit = api.get("/api/v1/audit", params={"action": "fill.apply"}).json()["items"]
    assert audit[0]["actor"] == SERVICE
    fetches = len(id_token.fetched)
    api.get("/api/v1/positions", role="", headers=bearer(token))
    assert len(id_token.fetched) == fetches  # verified once, then remembered until expiry


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://someone-else.test"},
        {"email": "stranger@p.iam.gserviceaccount.com"},
        {"email_verified": False},
        {"iss": "https://evil.test"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    ],
)
def test_google_id_tokens_rejected(api: Api, id_token: Any, claims: dict[str, Any]) -> None:
    answer = api.get("/api/v1/positions", role="", headers=bearer(id_token(**claims)))
    assert answer.status_code == 401


def test_forged_signature_is_rejected(api: Api, id_token: Any) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    forged = jwt.encode(
        crypt.RSASigner.from_string(pem, key_id="test-key"),
        {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "email": SERVICE,
            "email_verified": True,
            "iat": int(time.time()),
            "exp": int(time.time()) + 600,
        },
    ).decode()
    assert api.get("/api/v1/positions", role="", headers=bearer(forged)).status_code == 401
