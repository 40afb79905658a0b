"""Shared settings for the property-based battery, and a tally of the cases it generated.

Each property runs a fixed number of derandomized examples, so the battery is reproducible
and its cost known; the tally is printed at the end of the run (and written to the file
named by SMSBRIDGE_FUZZ_REPORT, when set) so the number of generated cases can be stated.
Under pytest-xdist each worker counts its own cases and hands them to the controller, which
prints (and writes) the total of all workers.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

_tally: Counter[str] = Counter()
# xdist workers that went down without handing over their tally (a crash): the total is short.
_lost_workers: list[str] = []


def fuzz(examples: int) -> settings:
    """Settings for one property: `examples` derandomized cases, no deadline."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        # A failure is reported as found: shrinking against a live server can take minutes.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )


def tick(name: str) -> None:
    """Count one generated case of the property `name`."""
    _tally[name] += 1


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand this worker's tally to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fuzz_tally"] = dict(_tally)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """On the xdist controller: add a finished worker's tally to the total."""
    workeroutput = getattr(node, "workeroutput", None) or {}
    if "fuzz_tally" not in workeroutput:
        _lost_workers.append(str(getattr(node, "gateway", node)))
    _tally.update(workeroutput.get("fuzz_tally", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many generated cases each property ran, and the total."""
    if not _tally or hasattr(terminalreporter.config, "workerinput"):
        return
    lines = [f"{name}: {count}" for name, count in sorted(_tally.items())]
    total = f"fuzzing: {sum(_tally.values())} generated cases in {len(_tally)} properties"
    if _lost_workers:
        total += f" (not counting {len(_lost_workers)} crashed xdist worker(s))"
    terminalreporter.section("fuzzing")
    for line in [*lines, total]:
        terminalreporter.write_line(line)
    report = os.environ.get("SMSBRIDGE_FUZZ_REPORT")
    if report:
        Path(report).write_text("\n".join([*lines, total]) + "\n", encoding="utf-8")


class ErrorLog(logging.Handler):
    """Collects ERROR records from every thread (a worker's unhandled exception logs one)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record."""
        self.records.append(record)

    def __enter__(self) -> ErrorLog:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        logging.getLogger().removeHandler(self)

    def messages(self) -> list[str]:
        """What was logged, with the exception type when there was one."""
        return [f"{r.name}: {r.getMessage()} {_kind(r)}".strip() for r in self.records]


def _kind(record: logging.LogRecord) -> str:
    kind = record.exc_info[0] if record.exc_info else None
    return kind.__name__ if kind else ""
