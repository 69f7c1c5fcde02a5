"""The schema comes from migrations only, and the models match it."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from stratus import migrations
from stratus.adapters.sql.db import Database, make_engine
from stratus.adapters.sql.ledger import SqlLedger
from stratus.adapters.sql.schema_head import HEAD, at_head
from stratus.adapters.sql.tables import Base
from tests.integration.manager.conftest import Api


def test_models_match_the_migrations(database_url: str) -> None:
    engine = make_engine(database_url)
    ours = set(Base.metadata.tables)

    def include_name(name: str | None, kind: str, parents: dict[str, str | None]) -> bool:
        # Other stores (execution state, market cache) keep their tables beside ours.
        if kind == "schema":
            return True
        return (name in ours) if kind == "table" else parents.get("table_name") in ours

    with engine.connect() as connection:
        options = {"compare_type": True, "include_name": include_name}
        context = MigrationContext.configure(connection, opts=options)
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_nothing_and_back(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    migrations.upgrade(engine)
    assert migrations.current(engine) == migrations.head()
    assert "positions" in inspect(engine).get_table_names()
    migrations.downgrade(engine, "base")
    assert inspect(engine).get_table_names() == ["alembic_version"]
    migrations.upgrade(engine)
    assert migrations.current(engine) == migrations.head()
    engine.dispose()


def test_balance_snapshots_come_and_go_with_their_revision(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/b.db")
    migrations.upgrade(engine)
    assert "balance_snapshots" in inspect(engine).get_table_names()
    migrations.downgrade(engine, "0002")
    tables = inspect(engine).get_table_names()
    assert "balance_snapshots" not in tables
    assert "position_snapshots" in tables
    engine.dispose()


def test_readiness_needs_the_schema_at_head(api: Api) -> None:
    assert api.get("/ready", role="").json()["status"] == "ready"
    engine = api.store.database.engine
    migrations.downgrade(engine, "0001")
    try:
        answer = api.get("/ready", role="")
        assert answer.status_code == 503
        assert "stratus db upgrade" in answer.json()["detail"]
    finally:
        migrations.upgrade(engine)
    assert api.get("/health", role="").status_code == 200


def _migrate(url: str) -> None:
    migrations.upgrade_embedded(make_engine(url))


def test_processes_starting_together_migrate_once(tmp_path: object) -> None:
    import multiprocessing

    url = f"sqlite:///{tmp_path}/race.db"
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=_migrate, args=(url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0] * 4
    assert migrations.current(make_engine(url)) == migrations.head()


def test_the_cheap_head_check_names_alembics_head(tmp_path: object) -> None:
    """SqlLedger skips Alembic when at_head says so: a stale HEAD would skip a migration."""
    assert migrations.head() == HEAD
    engine = make_engine(f"sqlite:///{tmp_path}/h.db")
    assert not at_head(engine)
    migrations.upgrade(engine, "0001")
    assert not at_head(engine)
    SqlLedger(Database(engine))  # an embedded ledger brings the schema to head
    assert at_head(engine)
    engine.dispose()
