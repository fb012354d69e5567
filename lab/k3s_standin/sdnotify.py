"""``sd_notify`` for ``Type=notify`` units, as k3s calls it once it is ready."""

from __future__ import annotations

import os
import socket


def notify(state: str) -> bool:
    """Send ``state`` to ``$NOTIFY_SOCKET``; False when not run by systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(state.encode())
    return True
