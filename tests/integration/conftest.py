"""What the integration tiers share: a PostgreSQL database for the session.

STRATUS_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432/test) names the server; a fresh
database is created for the session, migrated to head, and dropped after it.
Unreachable: skipped locally with how to get it, a failure in CI.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stratus import migrations
from stratus.adapters.sql.db import make_engine
from tests.conftest import fresh_database


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_database("stratus_test") as url:
        engine = make_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        yield url
