"""Name the process as k3s does (``k3s-server`` / ``k3s-agent`` in ps, top and pgrep)."""

from __future__ import annotations

import ctypes
import ctypes.util

PR_SET_NAME = 15


def set_name(name: str) -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
