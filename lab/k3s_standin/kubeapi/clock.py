"""The server's clock: wall time plus an offset the lab can move forward."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path


class Clock:
    """Wall-clock time shifted by an offset that survives restarts (kept in ``clock.json``)."""

    def __init__(self, state_file: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._state_file = state_file
        self._offset = 0.0
        if state_file is not None and state_file.exists():
            self._offset = float(json.loads(state_file.read_text())["offset_seconds"])

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(UTC) + timedelta(seconds=offset)

    def timestamp(self) -> float:
        return self.now().timestamp()

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds
            offset = self._offset
        if self._state_file is not None:
            tmp = self._state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"offset_seconds": offset}))
            tmp.replace(self._state_file)


def rfc3339(moment: datetime) -> str:
    """Kubernetes ``metav1.Time`` text: second precision, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
