"""What `lab status` reads inside a node: `k3s-lab facts --json` (the stand-in's own view).

Read in the node, so it works when the API refuses every client, and with the node's own
clock (a skewed node reports its certificates as NOT YET VALID, as its k3s sees them).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from labctl.podman import Podman, PodmanError

BAD_STATUSES = ("EXPIRED", "NOT YET VALID")


@dataclass(frozen=True)
class NodeFacts:
    now: str
    leaves: list[dict[str, Any]]
    serving_cert: dict[str, Any] | None
    disk: dict[str, dict[str, int]]
    units: dict[str, str]
    clock_skew: str | None
    catalog: list[str] | None

    @property
    def earliest(self) -> dict[str, Any] | None:
        return min(self.leaves, key=lambda leaf: leaf["not_after"]) if self.leaves else None

    @property
    def expired(self) -> int:
        return sum(1 for leaf in self.leaves if leaf.get("status") in BAD_STATUSES)

    def var_log(self) -> dict[str, int]:
        usage = self.disk.get("/var/log") or {"total": 0, "used": 0}
        total, used = int(usage["total"]), int(usage["used"])
        return {"total": total, "used": used, "percent": round(100 * used / total) if total else 0}


# One podman exec per node: the stand-in's facts, then whatever registry answers on :5000
# (the process that runs, whatever the API thinks of the registry pod).
PROBE = (
    "k3s-lab facts --json || exit 1; echo {sep}; "
    "curl -sf --max-time 3 http://127.0.0.1:{port}/v2/_catalog || true"
)
SEPARATOR = "--- registry ---"


def probe(podman: Podman, container: str, registry_port: int) -> NodeFacts | str:
    """The node's facts, or the reason they could not be read."""
    script = PROBE.format(sep=shlex.quote(SEPARATOR), port=registry_port)
    try:
        result = podman.exec(container, ["sh", "-c", script], check=False, timeout=90)
    except PodmanError as err:
        return str(err)
    if result.returncode != 0:
        return (result.stderr.strip() or result.stdout.strip() or "k3s-lab facts failed")[-300:]
    facts_text, _, catalog_text = result.stdout.partition(SEPARATOR)
    data = json.loads(facts_text)
    return NodeFacts(
        now=str(data.get("now", "")),
        leaves=list(data.get("leaves") or []),
        serving_cert=data.get("serving_cert"),
        disk=dict(data.get("disk") or {}),
        units={k: v for k, v in (data.get("units") or {}).items() if v != "absent"},
        clock_skew=data.get("clock_skew"),
        catalog=_catalog(catalog_text),
    )


def _catalog(text: str) -> list[str] | None:
    try:
        return list(json.loads(text).get("repositories") or [])
    except (ValueError, AttributeError):
        return None
