"""What the integration tiers share: a PostgreSQL database for the session.

STRATUS_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432/test) names the server; a fresh
database is created for the session, migrated to head, and dropped after it.
Unreachable: skipped locally with how to get it, a failure in CI.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from stratus import migrations
from stratus.adapters.sql.db import make_engine
from tests.conftest import unavailable

POSTGRES_URL = os.environ.get(
    "STRATUS_TEST_POSTGRES_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"stratus_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
            # Throwaway data: do not wait for the WAL flush on every commit.
            connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except (DBAPIError, OSError) as error:
        admin.dispose()
        unavailable(
            "PostgreSQL",
            f"{error.__class__.__name__}; start one on 127.0.0.1:5432 (user postgres, trust "
            "auth, database test) or set STRATUS_TEST_POSTGRES_URL",
        )
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
