"""The stratus CLI's way to a manager: `stratus up`'s on this machine, or a production
one (`--manager URL`) as a person signed in with their Google identity.

The bearer is, in order: --token, STRATUS_TOKEN, the local development admin token for
a manager on this machine, else `gcloud auth print-identity-token` (docs/deploy.md).
Every failure is a RemoteError whose text is one line: the CLI prints it, never a
traceback.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from typing import Any
from urllib.parse import urlparse

import httpx

from stratus.config import Settings
from stratus.domain.errors import StratusError

LOCAL_MANAGER = "http://127.0.0.1:8080"
PAGE = 200


class RemoteError(StratusError):
    """What the manager answered (or why it could not be asked), in one line."""


def add_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--manager",
        default=os.environ.get("STRATUS_CLI_MANAGER", LOCAL_MANAGER),
        help="the manager's URL (default: STRATUS_CLI_MANAGER, else the local stack's)",
    )
    command.add_argument("--token", help="a bearer token (default: STRATUS_TOKEN, see above)")
    command.add_argument("--json", action="store_true", help="print JSON for scripts")


class Remote:
    def __init__(self, url: str, token: str, http: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"}
        self._http = http or httpx.Client(base_url=self.url, timeout=15.0)
        self._http.headers.update(headers)

    @classmethod
    def of(cls, args: argparse.Namespace) -> Remote:
        return cls(args.manager, bearer(args.manager, args.token))

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def items(self, path: str, **params: Any) -> list[Any]:
        """Every item of a paged list (at most 10 pages: a terminal shows far fewer)."""
        found: list[Any] = []
        for page in range(10):
            answer = self.get(path, limit=PAGE, offset=page * PAGE, **params)
            found.extend(answer["items"])
            if len(found) >= answer["total"] or not answer["items"]:
                break
        return found

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self._http.request(method, "/api/v1" + path, **kwargs)
        except httpx.HTTPError as error:
            raise RemoteError(f"cannot reach the manager at {self.url}: {error}") from None
        if answer.is_success:
            return answer.json() if answer.content else None
        raise RemoteError(_explain(answer))


def bearer(url: str, token: str | None) -> str:
    given = token or os.environ.get("STRATUS_TOKEN")
    if given:
        return given
    if urlparse(url).hostname in ("127.0.0.1", "localhost", "::1"):
        return Settings().manager_dev_token.get_secret_value()
    try:
        printed = subprocess.run(
            ["gcloud", "auth", "print-identity-token"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise RemoteError(
            f"no token: pass --token or sign in with gcloud ({error})".splitlines()[0]
        ) from None
    return printed.stdout.strip()


def _explain(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return f"the manager answered {answer.status_code}"
    if not isinstance(body, dict):
        return f"the manager answered {answer.status_code}"
    detail = body.get("detail", "")
    if isinstance(detail, list):  # a validation error: field by field
        detail = "; ".join(
            f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail
        )
    return f"{answer.status_code} {body.get('error', 'error')}: {detail}"
