"""Unit tests of the pieces with rules of their own: patches, selectors, printing, schemas."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from k3s_standin.kubeapi import patch, schema, selectors, tables
from k3s_standin.kubeapi.errors import ApiError

DEPLOYMENT = schema.named("io.k8s.api.apps.v1.Deployment")
POD_SPEC_PATH = {"spec": {"template": {"spec": {}}}}


def _deploy(containers: list[dict]) -> dict:
    return {"spec": {"template": {"spec": {"containers": containers}}}}


def test_strategic_merge_merges_containers_by_name() -> None:
    live = _deploy(
        [
            {"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "b:1"},
        ]
    )
    result = patch.strategic_merge_patch(live, _deploy([{"name": "b", "image": "b:2"}]), DEPLOYMENT)
    assert result["spec"]["template"]["spec"]["containers"] == [
        {"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]},
        {"name": "b", "image": "b:2"},
    ]


def test_strategic_merge_directives() -> None:
    live = _deploy([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}])
    deleted = patch.strategic_merge_patch(
        live, _deploy([{"name": "a", "$patch": "delete"}]), DEPLOYMENT
    )
    assert deleted["spec"]["template"]["spec"]["containers"] == [{"name": "b", "image": "b:1"}]
    ordered = patch.strategic_merge_patch(
        live,
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                        "containers": [{"name": "a", "image": "a:2"}],
                    }
                }
            }
        },
        DEPLOYMENT,
    )
    assert [c["image"] for c in ordered["spec"]["template"]["spec"]["containers"]] == ["b:1", "a:2"]
    replaced = patch.strategic_merge_patch(
        live, {"spec": {"$patch": "replace", "replicas": 3}}, DEPLOYMENT
    )
    assert replaced["spec"] == {"replicas": 3}
    volumes = {"spec": {"template": {"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}}}}
    retained = patch.strategic_merge_patch(
        volumes,
        {
            "spec": {
                "template": {
                    "spec": {
                        "volumes": [
                            {
                                "name": "v",
                                "$retainKeys": ["name", "hostPath"],
                                "hostPath": {"path": "/x"},
                            }
                        ]
                    }
                }
            }
        },
        DEPLOYMENT,
    )
    assert retained["spec"]["template"]["spec"]["volumes"] == [
        {"name": "v", "hostPath": {"path": "/x"}}
    ]


def test_strategic_merge_replaces_atomic_lists_and_deletes_nulls() -> None:
    node = schema.named("io.k8s.api.core.v1.Node")
    live = {
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "spec": {"taints": [{"key": "x", "effect": "NoSchedule"}]},
    }
    result = patch.strategic_merge_patch(
        live,
        {
            "metadata": {"labels": {"a": None}},
            "spec": {"taints": [{"key": "y", "effect": "NoExecute"}]},
        },
        node,
    )
    assert result == {
        "metadata": {"labels": {"b": "2"}},
        "spec": {"taints": [{"key": "y", "effect": "NoExecute"}]},
    }


def test_merge_and_json_patch() -> None:
    assert patch.merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": [1]}}) == {
        "a": {"c": 2, "d": [1]}
    }
    doc = {"spec": {"taints": [{"key": "x"}]}, "metadata": {"labels": {"k/v": "1"}}}
    ops = [
        {"op": "add", "path": "/spec/taints/-", "value": {"key": "y"}},
        {"op": "remove", "path": "/metadata/labels/k~1v"},
        {"op": "test", "path": "/spec/taints/0/key", "value": "x"},
    ]
    assert patch.json_patch(doc, ops) == {
        "spec": {"taints": [{"key": "x"}, {"key": "y"}]},
        "metadata": {"labels": {}},
    }
    with pytest.raises(ApiError) as failed:
        patch.json_patch(doc, [{"op": "replace", "path": "/spec/missing", "value": 1}])
    assert failed.value.code == 422


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("app=web,tier!=db", {"app": "web", "tier": "fe"}, True),
        ("app in (web, api),!legacy", {"app": "api"}, True),
        ("app notin (web)", {"app": "web"}, False),
        ("env", {"app": "web"}, False),
        ("app==web", {"app": "web"}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict, matches: bool) -> None:
    assert selectors.label_selector(selector)({"metadata": {"labels": labels}}) is matches


def test_field_selectors() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"nodeName": "n1"},
        "status": {"phase": "Running"},
    }
    assert selectors.field_selector("spec.nodeName=n1,status.phase!=Failed")(pod)
    assert not selectors.field_selector("metadata.namespace=other")(pod)
    assert selectors.field_selector("spec.unschedulable=false")({"spec": {}})
    with pytest.raises(ApiError):
        selectors.field_selector("nonsense")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 600, "3h10m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (40 * 86400, "40d"),
        (800 * 86400, "2y70d"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert tables.human_duration(seconds) == text


def test_schema_data_is_what_the_generator_makes() -> None:
    pytest.importorskip("kubernetes_validate")
    assert schema.DATA_FILE.read_text() == schema.render(schema.generate_from_kubernetes_validate())


def test_schema_carries_merge_keys() -> None:
    containers = schema.field(
        schema.field(schema.named("io.k8s.api.core.v1.Pod"), "spec"), "containers"
    )
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"


def test_package_imports_only_what_the_lab_containers_have() -> None:
    """Debian bookworm's containers have python3-yaml, -cryptography and -openssl, nothing else."""
    allowed = {"yaml", "cryptography", "OpenSSL"}
    package = Path(schema.__file__).parent
    stdlib = set(__import__("sys").stdlib_module_names)
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top == "kubernetes_validate" and source.name == "schema.py":
                    continue  # host-only generator, imported lazily
                assert top in stdlib or top in allowed, f"{source.name} imports {name}"
