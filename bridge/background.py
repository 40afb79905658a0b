"""A daemon thread that runs its loop until stopped: the shape of every background task."""

from __future__ import annotations

import threading


class BackgroundLoop:
    """Subclasses write `_loop`, waiting on `self._stop` between rounds so `stop` ends them."""

    def __init__(self, *, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        """Start the background thread."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to finish its round, and wait for it."""
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        raise NotImplementedError
