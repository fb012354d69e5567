"""Polling with a deadline: the lab waits on podman and the API, never on fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable


class WaitTimeout(RuntimeError):
    """What the lab waited for did not happen in time; the message names it."""


def wait_for(what: str, probe: Callable[[], bool], timeout: float, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(interval)
    raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}")
