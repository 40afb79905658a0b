"""Start-up decides "already migrated" without Alembic, and agrees with Alembic when it does."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from store import migrate, schema_head
from store.engine import make_engine


def test_the_newest_revision_is_the_one_alembic_finds() -> None:
    config = Config()
    config.set_main_option("script_location", str(schema_head.VERSIONS.parent))
    assert schema_head.script_heads() == set(ScriptDirectory.from_config(config).get_heads())


def test_a_migrated_database_is_at_head(engine: Engine) -> None:
    assert schema_head.at_head(engine)
    assert not migrate.pending(engine)


def test_a_new_database_is_not_at_head_until_migrated(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert not schema_head.at_head(engine)
    migrate.upgrade(engine)
    assert schema_head.at_head(engine)


def test_a_database_one_migration_behind_is_not_at_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'behind.db'}")
    (head,) = schema_head.script_heads()
    migrate.upgrade(engine, f"{head}-1")
    assert not schema_head.at_head(engine)
    assert migrate.pending(engine)


def test_branched_history_leaves_the_decision_to_alembic(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "b.py").write_text('revision = "b"\ndown_revision = "a"\n')
    (versions / "c.py").write_text("revision: str = 'c'\ndown_revision: str | None = 'a'\n")
    (versions / "m.py").write_text('revision = "m"\ndown_revision = ("b", "c")\n')
    assert schema_head.script_heads(versions) == {"m"}
    (versions / "m.py").unlink()
    assert schema_head.script_heads(versions) == {"b", "c"}


def test_a_revision_unknown_here_is_not_at_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'newer.db'}")
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'from-the-future'"))
    assert not schema_head.at_head(engine)
