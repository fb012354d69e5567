# Copyright: remedy.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain-data questions about Kubernetes objects as kubernetes.core returns them.

Shared by the collection's Jinja tests (plugins/test/k8s.py) so that roles can say
``nodes | select('remedy.k3s.node_ready')`` instead of nesting filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


def _get(obj: object, *path: str) -> Any:  # noqa: ANN401 -- walks untyped API JSON
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def node_ready(node: Mapping[str, Any]) -> bool:
    """The Node's Ready condition is True."""
    conditions = _get(node, "status", "conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def control_plane_node(node: Mapping[str, Any]) -> bool:
    """k3s labels its servers node-role.kubernetes.io/control-plane=true."""
    labels = _get(node, "metadata", "labels") or {}
    return str(labels.get(CONTROL_PLANE_LABEL, "")).lower() == "true"


def schedulable_node(node: Mapping[str, Any]) -> bool:
    """Not cordoned and without a NoSchedule/NoExecute taint that plain pods lack."""
    if _get(node, "spec", "unschedulable"):
        return False
    taints = _get(node, "spec", "taints") or []
    return not any(t.get("effect") in ("NoSchedule", "NoExecute") for t in taints)


def tolerates(tolerations: list[Mapping[str, Any]] | None, taint: Mapping[str, Any]) -> bool:
    """Whether a pod with these tolerations tolerates the taint (Kubernetes' rules)."""
    return any(_toleration_matches(t, taint) for t in tolerations or [])


def _toleration_matches(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if not key:
        return operator == "Exists"
    if key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    return str(toleration.get("value") or "") == str(taint.get("value") or "")


def owned_by(obj: Mapping[str, Any], kind: str) -> bool:
    """One of the object's ownerReferences is of this kind (e.g. ReplicaSet)."""
    owners = _get(obj, "metadata", "ownerReferences") or []
    return any(owner.get("kind") == kind for owner in owners)
