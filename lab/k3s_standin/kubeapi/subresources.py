"""What the ``scale``, ``eviction`` and ``log`` subresources compute."""

from __future__ import annotations

from typing import Any

from . import selectors
from .objects import pod_ready
from .store import Store

Obj = dict[str, Any]


def scale_of(obj: Obj) -> Obj:
    """The ``autoscaling/v1`` Scale of a deployment or replica set."""
    meta = obj["metadata"]
    labels = (obj["spec"].get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": obj["spec"].get("replicas", 0)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in labels.items()),
        },
    }


def pdb_blocks(store: Store, pdb: Obj, pod: Obj) -> str | None:
    """Why evicting ``pod`` would violate ``pdb``, or None when it would not."""
    spec = pdb.get("spec") or {}
    labels = pod["metadata"].get("labels") or {}
    if not selectors.match_label_selector(spec.get("selector"), labels):
        return None
    pods = [
        p
        for p in store.list("pods", pod["metadata"].get("namespace"))
        if selectors.match_label_selector(spec.get("selector"), p["metadata"].get("labels") or {})
    ]
    healthy = sum(1 for p in pods if pod_ready(p))
    wanted = spec.get("minAvailable")
    if wanted is None and spec.get("maxUnavailable") is not None:
        wanted = len(pods) - int(str(spec["maxUnavailable"]).rstrip("%") or 0)
    if isinstance(wanted, str) and wanted.endswith("%"):
        wanted = -(-len(pods) * int(wanted[:-1]) // 100)
    if wanted is None or healthy - 1 >= int(wanted):
        return None
    return (
        f"The disruption budget {pdb['metadata']['name']} needs {wanted} healthy pods "
        f"and has {healthy} currently"
    )


def log_line(pod: Obj, container: str) -> str:
    node = pod["spec"].get("nodeName", "")
    return (
        f"{pod['status'].get('startTime', '')} {container} running on {node} "
        "(k3s stand-in: no container runtime, this is the lab's log line)\n"
    )
