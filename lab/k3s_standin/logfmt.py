"""Log lines in the two formats k3s's processes write.

* logrus (k3s's own messages): ``INFO[0000] msg`` on a terminal, otherwise
  ``time="2026-11-30T14:12:30Z" level=info msg="..."`` (logrus' TextFormatter).
* klog (the embedded kubelet and apiserver): ``E1130 14:12:30.123456    1234 file.go:146] ...``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from typing import TextIO

_START = time.monotonic()
_LEVELS = {"debug": "DEBU", "info": "INFO", "warning": "WARN", "error": "ERRO", "fatal": "FATA"}


def logrus_line(level: str, message: str, tty: bool, now: dt.datetime | None = None) -> str:
    if tty:
        elapsed = int(time.monotonic() - _START)
        return f"{_LEVELS[level]}[{elapsed:04d}] {message}"
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f'time="{stamp}" level={level} msg={go_quote(message)}'


def go_quote(text: str) -> str:
    """Close to Go's ``%q`` for the ASCII text k3s logs."""
    return json.dumps(text, ensure_ascii=False)


def logrus(level: str, message: str, stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    out.write(logrus_line(level, message, out.isatty()) + "\n")
    out.flush()


def klog_line(
    severity: str, source: str, message: str, now: dt.datetime | None = None, pid: int = 0
) -> str:
    """``E1130 14:12:30.123456    1234 controller.go:146] "Failed ..." err="..."``."""
    stamp = now or dt.datetime.now(dt.UTC)
    head = f"{severity}{stamp:%m%d %H:%M:%S}.{stamp.microsecond:06d}"
    return f"{head} {pid or os.getpid():7d} {source}] {message}"
