"""What `lab status` reads inside a node, in one podman exec.

PROBE is run by the node's python3 (Debian bookworm: cryptography 38), so it sticks to
APIs that version has and prints one JSON document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from labctl.podman import Podman

PROBE = r"""
import datetime, glob, json, os, shutil, subprocess
from cryptography import x509
now = datetime.datetime.utcnow()
leaves = []
for base in ("/var/lib/rancher/k3s/server/tls", "/var/lib/rancher/k3s/agent"):
    for path in sorted(glob.glob(base + "/*.crt") + glob.glob(base + "/etcd/*.crt")):
        name = os.path.basename(path)
        if "-ca" in name or name.endswith("ca.crt"):
            continue
        try:
            with open(path, "rb") as fh:
                cert = x509.load_pem_x509_certificate(fh.read())
        except Exception:
            continue
        leaves.append({"file": path, "not_after": cert.not_valid_after.isoformat() + "Z",
                       "not_before": cert.not_valid_before.isoformat() + "Z",
                       "expired": cert.not_valid_after < now,
                       "not_yet_valid": cert.not_valid_before > now})
disk = shutil.disk_usage("/var/log")
units = {}
for unit in ("k3s", "k3s-agent"):
    out = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True)
    units[unit] = out.stdout.strip()
print(json.dumps({"now": now.isoformat() + "Z", "leaves": leaves,
                  "disk": {"total": disk.total, "used": disk.used, "free": disk.free},
                  "units": units}))
"""


@dataclass(frozen=True)
class NodeFacts:
    now: str
    leaves: list[dict[str, Any]]
    disk_total: int
    disk_used: int
    units: dict[str, str]

    @property
    def earliest(self) -> dict[str, Any] | None:
        return min(self.leaves, key=lambda leaf: leaf["not_after"]) if self.leaves else None

    @property
    def expired(self) -> int:
        return sum(1 for leaf in self.leaves if leaf["expired"] or leaf["not_yet_valid"])

    @property
    def disk_percent(self) -> int:
        return round(100 * self.disk_used / self.disk_total) if self.disk_total else 0


def probe(podman: Podman, container: str) -> NodeFacts | str:
    """The node's facts, or the reason they could not be read."""
    result = podman.exec(container, ["python3", "-c", PROBE], check=False, timeout=30)
    if result.returncode != 0:
        return (result.stderr.strip() or result.stdout.strip() or "probe failed")[-300:]
    data = json.loads(result.stdout)
    return NodeFacts(
        now=data["now"],
        leaves=data["leaves"],
        disk_total=data["disk"]["total"],
        disk_used=data["disk"]["used"],
        units=data["units"],
    )
