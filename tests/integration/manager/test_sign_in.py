"""People sign in with a Google ID token (`gcloud auth print-identity-token`), mapped to
roles by terraform's admins/traders/readers. The manager verifies Google's signature
against keys it fetches over HTTP: here a key set generated and served locally, in the
format Google serves at GOOGLE_CERTS_URL. Machine tokens expire and can be listed and
revoked."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from google.auth import crypt, jwt

from stratus.adapters.clock import ManualClock
from stratus.adapters.paper.venues import PaperVenues
from stratus.config import GCLOUD_CLIENT_ID, Settings
from stratus.manager.app import create_app
from stratus.manager.store import Store
from stratus.service.bootstrap import build
from tests.integration.manager.conftest import AUDIENCE, SERVICE, Api, MasterKey, bearer

PEOPLE = {"Admin@Example.com": "admin", "trader@example.com": "trader"}


def _key() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key, pem


def _certificate(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stratus-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def google() -> Iterator[tuple[str, str]]:
    """A local stand-in for Google's key endpoint: (its URL, the signing key's PEM)."""
    key, pem = _key()
    body = json.dumps({"local-key": _certificate(key)}).encode()

    class Certs(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Certs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/oauth2/v1/certs", pem
    server.shutdown()
    server.server_close()


def token(pem: str, key_id: str = "local-key", **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": "https://accounts.google.com",
        "aud": GCLOUD_CLIENT_ID,  # what gcloud auth print-identity-token signs for
        "email": "admin@example.com",
        "email_verified": True,
        "iat": now,
        "exp": now + 3600,
        "sub": "42",
        **claims,
    }
    signed: bytes = jwt.encode(crypt.RSASigner.from_string(pem, key_id=key_id), payload)
    return signed.decode()


@pytest.fixture
def people(database_url: str, google: tuple[str, str]) -> Iterator[Api]:
    clock = ManualClock(dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC))
    settings = Settings(
        database_url=database_url,
        manager_audience=AUDIENCE,
        manager_service_accounts={SERVICE: "trader"},
        manager_people=PEOPLE,
        manager_google_certs_url=google[0],
    )
    services = build(settings, clock=clock, exchanges=PaperVenues(clock), secrets=MasterKey())
    app = create_app(services)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, app.state.store, {})
    Store.of(services).database.engine.dispose()


def as_person(api: Api, method: str, path: str, bearer_token: str, **kw: Any) -> Any:
    return api.call(method, path, role="", headers=bearer(bearer_token), **kw)


def test_a_person_signs_in_with_their_google_identity(people: Api, google: tuple[str, str]) -> None:
    admin = token(google[1])
    issued = as_person(
        people, "POST", "/api/v1/tokens", admin, json={"name": "ci", "role": "reader"}
    )
    assert issued.status_code == 201, issued.text
    trail = as_person(people, "GET", "/api/v1/audit", admin, params={"action": "token.issue"})
    assert trail.json()["items"][0]["actor"] == "user:admin@example.com"
    trader = token(google[1], email="trader@example.com")
    assert as_person(people, "GET", "/api/v1/positions", trader).status_code == 200
    assert as_person(people, "GET", "/api/v1/tokens", trader).status_code == 403  # admin only
    manager_audience = token(google[1], aud=AUDIENCE)  # minted for the manager's URL
    assert as_person(people, "GET", "/api/v1/tokens", manager_audience).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "stranger@example.com"},  # in no role
        {"aud": "https://someone-else.test"},
        {"iss": "https://evil.test"},
        {"email_verified": False},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"email": SERVICE},  # a service identity's token must be for the manager itself
    ],
)
def test_tokens_that_fail_a_check_are_refused(
    people: Api, google: tuple[str, str], claims: dict[str, Any]
) -> None:
    assert (
        as_person(people, "GET", "/api/v1/positions", token(google[1], **claims)).status_code == 401
    )


def test_a_token_signed_by_another_key_is_refused(people: Api) -> None:
    _, other = _key()
    assert as_person(people, "GET", "/api/v1/positions", token(other)).status_code == 401
    unknown_key = token(other, key_id="no-such-key")
    assert as_person(people, "GET", "/api/v1/positions", unknown_key).status_code == 401


def test_machine_tokens_expire_and_can_be_listed_and_revoked(
    api: Api, manual_clock: ManualClock
) -> None:
    issued = api.post(
        "/api/v1/tokens", json={"name": "bot", "role": "trader", "expires_in_days": 2}
    )
    assert issued.status_code == 201
    plaintext, token_id = issued.json()["token"], issued.json()["token_id"]
    [listed] = [t for t in api.get("/api/v1/tokens").json() if t["token_id"] == token_id]
    assert listed["expires_at"].startswith("2026-03-04T12:00:00")
    assert "token" not in listed
    assert api.get("/api/v1/positions", role="", headers=bearer(plaintext)).status_code == 200
    manual_clock.advance(timedelta(days=2))
    api.client.app.state.authenticator.forget()  # type: ignore[attr-defined]
    assert api.get("/api/v1/positions", role="", headers=bearer(plaintext)).status_code == 401
    too_long = {"name": "x", "role": "reader", "expires_in_days": 5000}
    assert api.post("/api/v1/tokens", json=too_long).status_code == 422
    assert api.delete(f"/api/v1/tokens/{token_id}").status_code == 204
    [revoked] = [t for t in api.get("/api/v1/tokens").json() if t["token_id"] == token_id]
    assert revoked["revoked_at"] is not None
