"""Secrets: environment or files locally, Secret Manager in production."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class LocalSecrets:
    """Looks in STRATUS_SECRET_<NAME> (dashes as underscores), then <secrets_dir>/<name>,
    then the development defaults given (only ever non-empty outside production)."""

    def __init__(self, secrets_dir: str = "", defaults: Mapping[str, str] | None = None) -> None:
        self._dir = Path(secrets_dir) if secrets_dir else None
        self._defaults = dict(defaults or {})

    def get(self, name: str) -> str:
        env = os.environ.get("STRATUS_SECRET_" + name.upper().replace("-", "_"))
        if env is not None:
            return env
        if self._dir is not None and (self._dir / name).is_file():
            return (self._dir / name).read_text().strip()
        if name in self._defaults:
            return self._defaults[name]
        raise KeyError(
            f"secret {name!r} is not set (STRATUS_SECRET_{name.upper().replace('-', '_')})"
        )


class SecretManagerSecrets:
    """Google Secret Manager; the client is created on first use and reused."""

    def __init__(self, project: str) -> None:
        self._project = project
        self._client: Any = None

    def get(self, name: str) -> str:
        from google.api_core.exceptions import NotFound
        from google.cloud import secretmanager

        if self._client is None:
            self._client = secretmanager.SecretManagerServiceClient()
        path = f"projects/{self._project}/secrets/{name}/versions/latest"
        try:
            response = self._client.access_secret_version(name=path)
        except NotFound as error:
            raise KeyError(f"secret {name!r} not found in project {self._project}") from error
        return str(response.payload.data.decode())
