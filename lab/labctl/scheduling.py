"""Moving pods between lab nodes the way the scheduler would, through the API only.

The lab's scheduler places a re-created pod on the least loaded node that tolerates its
taints; a temporary NoSchedule taint on the nodes being emptied is all it takes to steer it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from labctl.kubeclient import KubeClient, KubeError
from labctl.waiting import wait_for

TEMP_TAINT_KEY = "remedy.lab/moving"

Obj = dict[str, Any]


def taints(node: Obj) -> list[Obj]:
    return list(node.get("spec", {}).get("taints") or [])


def set_taints(client: KubeClient, name: str, new: list[Obj]) -> None:
    client.merge_patch(f"/api/v1/nodes/{name}", {"spec": {"taints": new or None}})


def pod_path(pod: Obj) -> str:
    meta = pod["metadata"]
    return f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"


def _in_scope(pod: Obj, namespaces: set[str] | None, terminating: bool = False) -> bool:
    return (
        (namespaces is None or pod["metadata"].get("namespace") in namespaces)
        and (terminating or not pod["metadata"].get("deletionTimestamp"))
        and any(o.get("kind") == "ReplicaSet" for o in pod["metadata"].get("ownerReferences") or [])
    )


def replicaset_pods(
    client: KubeClient, namespaces: set[str] | None, terminating: bool = False
) -> list[Obj]:
    return [p for p in client.items("/api/v1/pods") if _in_scope(p, namespaces, terminating)]


def _settled(client: KubeClient, off: set[str], namespaces: set[str] | None) -> bool:
    # Settled = the old pods are gone (not just terminating) and their replacements run.
    pods = replicaset_pods(client, namespaces, terminating=True)
    return all(
        p.get("spec", {}).get("nodeName") not in off
        and p.get("status", {}).get("phase") == "Running"
        for p in pods
    )


@contextmanager
def kept_out(client: KubeClient, nodes: set[str]) -> Iterator[None]:
    """A temporary NoSchedule taint on ``nodes``, lifted whatever happens."""
    temp = {"key": TEMP_TAINT_KEY, "value": "lab", "effect": "NoSchedule"}
    for name in nodes:
        node = client.get(f"/api/v1/nodes/{name}")
        set_taints(client, name, [*[t for t in taints(node) if t["key"] != TEMP_TAINT_KEY], temp])
    try:
        yield
    finally:
        for name in nodes:
            node = client.get(f"/api/v1/nodes/{name}")
            set_taints(client, name, [t for t in taints(node) if t["key"] != TEMP_TAINT_KEY])


def delete_pods(client: KubeClient, pods: list[Obj]) -> None:
    for pod in pods:
        try:
            client.delete(pod_path(pod))
        except KubeError as err:
            if err.status != 404:
                raise


def move_replicaset_pods(
    client: KubeClient, off: set[str], namespaces: set[str] | None, timeout: float = 90.0
) -> int:
    """Re-create the ReplicaSet pods running on ``off`` elsewhere; returns how many moved."""
    with kept_out(client, off):
        moving = [
            p
            for p in replicaset_pods(client, namespaces)
            if p.get("spec", {}).get("nodeName") in off
        ]
        delete_pods(client, moving)
        wait_for(
            f"the pods of {', '.join(sorted(off))} to run elsewhere",
            lambda: _settled(client, off, namespaces),
            timeout,
            1.0,
        )
    return len(moving)
