"""The Node and toleration questions roles ask through remedy.k3s's Jinja tests."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.remedy.k3s.plugins.module_utils.k8s_objects import (
    control_plane_node,
    node_ready,
    owned_by,
    schedulable_node,
    tolerates,
)

TAINT = {"key": "CriticalAddonsOnly", "value": "true", "effect": "NoExecute"}


def node(ready: str = "True", server: bool = False, **spec: Any) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": "n"}
    if server:
        labels["node-role.kubernetes.io/control-plane"] = "true"
    return {
        "metadata": {"name": "n", "labels": labels},
        "spec": spec,
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": ready},
            ]
        },
    }


@pytest.mark.parametrize(
    ("status", "expected"), [("True", True), ("False", False), ("Unknown", False)]
)
def test_node_ready_reads_the_ready_condition(status: str, expected: bool) -> None:
    assert node_ready(node(ready=status)) is expected


def test_node_without_status_is_not_ready() -> None:
    assert node_ready({"metadata": {"name": "x"}}) is False


def test_control_plane_label_marks_servers() -> None:
    assert control_plane_node(node(server=True)) is True
    assert control_plane_node(node()) is False


def test_cordoned_or_tainted_nodes_are_not_schedulable() -> None:
    assert schedulable_node(node()) is True
    assert schedulable_node(node(unschedulable=True)) is False
    assert schedulable_node(node(taints=[TAINT])) is False
    assert schedulable_node(node(taints=[{**TAINT, "effect": "PreferNoSchedule"}])) is True


@pytest.mark.parametrize(
    ("toleration", "expected"),
    [
        ({"key": "CriticalAddonsOnly", "operator": "Exists"}, True),
        ({"key": "CriticalAddonsOnly", "operator": "Equal", "value": "true"}, True),
        ({"key": "CriticalAddonsOnly", "value": "true", "effect": "NoExecute"}, True),
        ({"key": "CriticalAddonsOnly", "value": "false"}, False),
        ({"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}, False),
        ({"operator": "Exists"}, True),
        ({"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}, False),
    ],
)
def test_tolerates_follows_kubernetes_matching(toleration: dict[str, str], expected: bool) -> None:
    assert tolerates([toleration], TAINT) is expected


def test_no_tolerations_tolerate_nothing() -> None:
    assert tolerates(None, TAINT) is False
    assert tolerates([], TAINT) is False


def test_owned_by_reads_owner_references() -> None:
    pod = {"metadata": {"ownerReferences": [{"kind": "ReplicaSet", "name": "blog-5d9"}]}}
    assert owned_by(pod, "ReplicaSet") is True
    assert owned_by(pod, "DaemonSet") is False
    assert owned_by({"metadata": {}}, "ReplicaSet") is False
