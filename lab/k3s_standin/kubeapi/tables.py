"""Server-side printing: ``meta.k8s.io/v1`` Table responses with kubectl's usual columns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .clock import parse_rfc3339

Obj = dict[str, Any]
Column = tuple[str, str, int, Callable[[Obj, datetime], Any]]


def human_duration(seconds: float) -> str:  # noqa: PLR0911 - one exit per unit, as in Go
    """apimachinery's ``duration.HumanDuration``."""
    sec = int(seconds)
    if sec < 0:
        return "<invalid>"
    if sec < 120:
        return f"{sec}s"
    minutes, hours = sec // 60, sec // 3600
    if minutes < 10:
        rest = sec % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years, rest = days // 365, days % 365
    if years < 8:
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


def _since(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "<unknown>"
    return human_duration((now - parse_rfc3339(stamp)).total_seconds())


def _age(obj: Obj, now: datetime) -> str:
    return _since(obj["metadata"].get("creationTimestamp"), now)


def _name(obj: Obj, _now: datetime) -> str:
    return obj["metadata"]["name"]


def _node_status(obj: Obj, _now: datetime) -> str:
    conditions = obj.get("status", {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    text = (
        "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
    )
    if obj.get("spec", {}).get("unschedulable"):
        text += ",SchedulingDisabled"
    return text


def _node_roles(obj: Obj, _now: datetime) -> str:
    labels = obj["metadata"].get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    return ",".join(roles) or "<none>"


def _address(kind: str) -> Callable[[Obj, datetime], str]:
    def cell(obj: Obj, _now: datetime) -> str:
        for addr in obj.get("status", {}).get("addresses") or []:
            if addr.get("type") == kind:
                return addr.get("address", "")
        return "<none>"

    return cell


def _pod_ready(obj: Obj, _now: datetime) -> str:
    containers = obj.get("spec", {}).get("containers") or []
    statuses = obj.get("status", {}).get("containerStatuses") or []
    return f"{sum(1 for s in statuses if s.get('ready'))}/{len(containers)}"


def _pod_status(obj: Obj, _now: datetime) -> str:
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    status = obj.get("status", {})
    return status.get("reason") or status.get("phase", "Unknown")


def _pod_restarts(obj: Obj, _now: datetime) -> int:
    return sum(
        s.get("restartCount", 0) for s in obj.get("status", {}).get("containerStatuses") or []
    )


def _get(*path: str, default: Any = "") -> Callable[[Obj, datetime], Any]:  # noqa: ANN401
    def cell(obj: Obj, _now: datetime) -> Any:  # noqa: ANN401
        value: Any = obj
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        return default if value is None else value

    return cell


def _deploy_ready(obj: Obj, _now: datetime) -> str:
    return (
        f"{obj.get('status', {}).get('readyReplicas', 0)}/{obj.get('spec', {}).get('replicas', 0)}"
    )


def _containers(obj: Obj, _now: datetime) -> str:
    return ",".join(
        c.get("name", "") for c in obj["spec"]["template"]["spec"].get("containers") or []
    )


def _images(obj: Obj, _now: datetime) -> str:
    return ",".join(
        c.get("image", "") for c in obj["spec"]["template"]["spec"].get("containers") or []
    )


def _selector(obj: Obj, _now: datetime) -> str:
    labels = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "<none>"


def _svc_ports(obj: Obj, _now: datetime) -> str:
    ports = obj.get("spec", {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _data_count(obj: Obj, _now: datetime) -> int:
    return len(obj.get("data") or {}) + len(obj.get("binaryData") or {})


def _event_object(obj: Obj, _now: datetime) -> str:
    involved = obj.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _event_last_seen(obj: Obj, now: datetime) -> str:
    return _since(
        obj.get("lastTimestamp")
        or obj.get("eventTime")
        or obj["metadata"].get("creationTimestamp"),
        now,
    )


NAME: Column = ("Name", "string", 0, _name)
AGE: Column = ("Age", "string", 0, _age)
COLUMNS: dict[str, list[Column]] = {
    "Node": [
        NAME,
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, _node_roles),
        AGE,
        ("Version", "string", 0, _get("status", "nodeInfo", "kubeletVersion")),
        ("Internal-IP", "string", 1, _address("InternalIP")),
        ("External-IP", "string", 1, _address("ExternalIP")),
        ("OS-Image", "string", 1, _get("status", "nodeInfo", "osImage")),
        ("Kernel-Version", "string", 1, _get("status", "nodeInfo", "kernelVersion")),
        ("Container-Runtime", "string", 1, _get("status", "nodeInfo", "containerRuntimeVersion")),
    ],
    "Pod": [
        NAME,
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "string", 0, _pod_restarts),
        AGE,
        ("IP", "string", 1, _get("status", "podIP", default="<none>")),
        ("Node", "string", 1, _get("spec", "nodeName", default="<none>")),
        ("Nominated Node", "string", 1, _get("status", "nominatedNodeName", default="<none>")),
        ("Readiness Gates", "string", 1, lambda _o, _n: "<none>"),
    ],
    "Deployment": [
        NAME,
        ("Ready", "string", 0, _deploy_ready),
        ("Up-to-date", "integer", 0, _get("status", "updatedReplicas", default=0)),
        ("Available", "integer", 0, _get("status", "availableReplicas", default=0)),
        AGE,
        ("Containers", "string", 1, _containers),
        ("Images", "string", 1, _images),
        ("Selector", "string", 1, _selector),
    ],
    "ReplicaSet": [
        NAME,
        ("Desired", "integer", 0, _get("spec", "replicas", default=0)),
        ("Current", "integer", 0, _get("status", "replicas", default=0)),
        ("Ready", "integer", 0, _get("status", "readyReplicas", default=0)),
        AGE,
        ("Containers", "string", 1, _containers),
        ("Images", "string", 1, _images),
        ("Selector", "string", 1, _selector),
    ],
    "Service": [
        NAME,
        ("Type", "string", 0, _get("spec", "type")),
        ("Cluster-IP", "string", 0, _get("spec", "clusterIP")),
        ("External-IP", "string", 0, lambda _o, _n: "<none>"),
        ("Port(s)", "string", 0, _svc_ports),
        AGE,
    ],
    "Secret": [NAME, ("Type", "string", 0, _get("type")), ("Data", "string", 0, _data_count), AGE],
    "ConfigMap": [NAME, ("Data", "string", 0, _data_count), AGE],
    "Namespace": [NAME, ("Status", "string", 0, _get("status", "phase")), AGE],
    "Event": [
        ("Last Seen", "string", 0, _event_last_seen),
        ("Type", "string", 0, _get("type")),
        ("Reason", "string", 0, _get("reason")),
        ("Object", "string", 0, _event_object),
        ("Message", "string", 0, _get("message")),
    ],
    "Lease": [NAME, ("Holder", "string", 0, _get("spec", "holderIdentity")), AGE],
    "PersistentVolumeClaim": [
        NAME,
        ("Status", "string", 0, _get("status", "phase")),
        ("Volume", "string", 0, _get("spec", "volumeName")),
        ("Capacity", "string", 0, _get("status", "capacity", "storage")),
        (
            "Access Modes",
            "string",
            0,
            lambda o, _n: ",".join(o.get("spec", {}).get("accessModes") or []),
        ),
        ("StorageClass", "string", 0, _get("spec", "storageClassName")),
        AGE,
    ],
}


def _metadata_only(obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(kind: str, items: list[Obj], resource_version: str, now: datetime, include: str) -> Obj:
    columns = COLUMNS.get(kind, [NAME, AGE])
    rows = []
    for obj in items:
        row: Obj = {"cells": [fn(obj, now) for _, _, _, fn in columns]}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = _metadata_only(obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": name,
                "type": typ,
                "format": "name" if name == "Name" else "",
                "description": name,
                "priority": prio,
            }
            for name, typ, prio, _ in columns
        ],
        "rows": rows,
    }
