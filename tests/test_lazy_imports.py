"""What a `serve` process does not carry until it needs it (issue 9, G8: memory).

Each of these weighs megabytes for as long as the process lives once imported: Alembic on a
migrated database, the PostgreSQL dialect and driver on SQLite, httpx before any media is
fetched, the emoji tables before a reply has a `:code:`, Bolt before a Slack request needs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.request.internals import parse_body as bolt_parse_body

from bot.events import parse_body
from tests.conftest import base_env

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("alembic", "psycopg", "sqlalchemy.dialects.postgresql", "httpx", "emoji", "slack_bolt")

_APP = """
import json, sys
from bridge.config import load_settings
from bridge.app import create_app
create_app(load_settings(env_file=None), public_url="http://127.0.0.1:8000")
print(json.dumps(sorted({m for m in sys.modules if m.startswith(tuple(sys.argv[1:]))})))
"""


def test_an_app_on_sqlite_imports_none_of_the_heavy_optional_parts(tmp_path: Path) -> None:
    env = {"PATH": "", **base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'lazy.db'}")}
    done = subprocess.run(
        [sys.executable, "-c", _APP, *HEAVY],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("", None),
        ('{"type": "event_callback", "event": {"type": "message"}}', "application/json"),
        ('{"type": "url_verification", "challenge": "x"}', None),
        ("payload=%7B%22type%22%3A%22block_actions%22%7D", "application/x-www-form-urlencoded"),
        ("command=%2Fsms&text=find+payload&user_id=U1", "application/x-www-form-urlencoded"),
        ("command=%2Fsms&text=&user_id=U1", "application/x-www-form-urlencoded"),
        ("token=x&payload_less=1", None),
    ],
)
def test_bodies_are_parsed_as_bolt_parses_them(body: str, content_type: str | None) -> None:
    ours: Any = parse_body(body, content_type)
    assert ours == bolt_parse_body(body, content_type)
