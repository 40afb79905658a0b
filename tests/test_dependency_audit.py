"""`.ci/audit-deps`: a known vulnerability fails the build; an unanswered audit says so.

The vulnerability data comes from PyPI, which tests cannot reach: a stand-in `pip-audit` writes
the report the real one writes (its documented JSON format), and the script's verdict on it is
what is tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / ".ci" / "audit-deps"


def audit(tmp_path: Path, report: Mapping[str, object] | None) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    body = json.dumps(report) if report is not None else None
    write = f"printf '%s' '{body}' > \"$out\"" if body is not None else "echo boom >&2"
    (bin_dir / "pip-audit").write_text(
        "#!/usr/bin/env bash\n"
        'while [ $# -gt 0 ]; do [ "$1" = --output ] && out=$2; shift; done\n'
        f"{write}\nexit 1\n"
    )
    (bin_dir / "pip-audit").chmod(0o755)
    env = {**os.environ, "VENV_BIN": str(bin_dir)}
    return subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, env=env, check=False
    )


def test_a_known_vulnerability_fails_the_build(tmp_path: Path) -> None:
    report = {
        "dependencies": [
            {
                "name": "urllib3",
                "version": "1.26.4",
                "vulns": [{"id": "PYSEC-2021-108", "fix_versions": ["1.26.5"], "aliases": []}],
            },
            {"name": "twilio", "version": "9.13.0", "vulns": []},
        ]
    }
    done = audit(tmp_path, report)
    assert done.returncode == 1
    assert "urllib3 1.26.4: PYSEC-2021-108 (fixed in 1.26.5)" in done.stderr
    assert "1 known vulnerabilities" in done.stderr


@pytest.mark.parametrize(
    "report",
    [
        None,
        {"dependencies": [{"name": "twilio", "skip_reason": "Dependency not found on PyPI"}]},
    ],
)
def test_an_audit_pypi_did_not_answer_warns_and_passes(
    tmp_path: Path, report: dict[str, object] | None
) -> None:
    done = audit(tmp_path, report)
    assert done.returncode == 0
    assert "WARNING" in done.stdout and "NOT audited" in done.stdout


def test_a_clean_audit_passes(tmp_path: Path) -> None:
    done = audit(tmp_path, {"dependencies": [{"name": "twilio", "version": "9", "vulns": []}]})
    assert done.returncode == 0
    assert "no known vulnerabilities in the 1 audited packages" in done.stdout
