"""Whether a database is at the newest migration, answered without importing Alembic.

Alembic (with Mako, Pygments and every SQLAlchemy dialect it brings) costs a long-running
process about 10 MiB for good, and a start-up on a migrated database has nothing for it to do.
The newest revision is read from the migration files themselves; anything unusual (no
version table, several heads, a revision these files do not know) answers "not at head", and
the caller lets Alembic decide.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

VERSIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def script_heads(versions: Path = VERSIONS) -> set[str]:
    """The revisions no other migration builds on (one, unless the history branched)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        if revision is None:
            continue  # __init__.py
        revisions.add(revision[1])
        down = _DOWN.search(source)
        if down is not None:
            parents.update(_QUOTED.findall(down[1]))
    return revisions - parents


def at_head(engine: Engine) -> bool:
    """Whether the database records exactly the one newest revision of the migration files."""
    heads = script_heads()
    if len(heads) != 1:
        return False
    try:
        with engine.connect() as connection:
            current = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return False  # never migrated: no version table yet
    return [row[0] for row in current] == list(heads)
