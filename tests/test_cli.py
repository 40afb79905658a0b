"""The command line as an operator uses it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from store.engine import make_engine
from tests.conftest import base_env

ROOT = Path(__file__).resolve().parent.parent


def smsbridge(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    done = smsbridge(tmp_path, "db", "upgrade", DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    tables = set(inspect(make_engine(url)).get_table_names())
    assert {"contact", "conversation", "message", "delivery_job", "consent_change"} <= tables
    assert smsbridge(tmp_path, "db", "upgrade", DATABASE_URL=url).returncode == 0


def test_a_malformed_variable_stops_start_up_with_one_line(tmp_path: Path) -> None:
    done = smsbridge(tmp_path, "serve", **base_env(QUIET_HOURS="all day"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "QUIET_HOURS" in lines[0]


def test_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DEFAULT_TIMEZONE=Not/AZone\n")
    done = smsbridge(tmp_path, "db", "upgrade")
    assert done.returncode == 2 and "DEFAULT_TIMEZONE" in done.stderr


def test_serve_without_credentials_names_what_is_missing(tmp_path: Path) -> None:
    done = smsbridge(tmp_path, "serve", SLACK_CHANNEL="C0INBOX")
    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN" in done.stderr and "SLACK_CHANNEL," not in done.stderr
