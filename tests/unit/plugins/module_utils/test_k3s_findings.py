"""Findings, their order and remedies, from the data diagnose collects."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ansible_collections.remedy.k3s.plugins.module_utils import k3s_findings as kf

CFG: dict[str, Any] = {
    "inventory": "inventory/prod/hosts.yml",
    "inventory_servers": ["server"],
    "disk_warn_percent": 85,
    "disk_critical_percent": 95,
    "clock_warn_seconds": 5,
    "clock_critical_seconds": 60,
    "system_namespaces": ["kube-system", "kube-public", "kube-node-lease"],
    "registry_urls": ["http://127.0.0.1:5000"],
    "registry_namespace": "default",
    "registry_labels": {"app": "registry"},
    "registry_hosts": ["registry.lab:5000"],
}


def cert(path: str, status: str, source: str = "file") -> dict[str, Any]:
    return {"path": path, "status": status, "source": source, "not_after": "2026-11-29T00:00:00Z"}


def healthy_node(name: str, role: str) -> dict[str, Any]:
    unit = "k3s" if role == "server" else "k3s-agent"
    return {
        "name": name,
        "roles": [role],
        "reachable": True,
        "certs": {"certificates": [cert(f"/x/{name}.crt", "ok")]},
        "probe": {
            "disks": [
                {"path": "/", "fsid": 1, "total": 100, "used": 20, "free": 80, "percent": 20.0},
                {
                    "path": "/var/log",
                    "fsid": 2,
                    "total": 256,
                    "used": 1,
                    "free": 255,
                    "percent": 0.4,
                },
            ],
            "journal": {"usage": 10, "effective": {"SystemMaxUse": 64}},
            "units": {unit: {"active_state": "active", "sub_state": "running", "restarts": 0}},
            "journal_errors": {"x509_errors": 0, "recent_api_errors": 0},
            "clock": {"offset": 0.3, "uncertainty": 0.5},
            "registries": [],
        },
    }


def node_obj(name: str, ready: bool, server: bool = False) -> dict[str, Any]:
    labels = {"node-role.kubernetes.io/control-plane": "true"} if server else {}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}]},
    }


def pod(
    name: str, node: str | None, phase: str = "Running", ns: str = "default", image: str = ""
) -> dict[str, Any]:
    app = name.split("-", maxsplit=1)[0]
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"app": app},
            "ownerReferences": [{"kind": "ReplicaSet"}],
        },
        "spec": {
            "nodeName": node,
            "containers": [{"image": image or f"registry.lab:5000/{app}:1.0"}],
        },
        "status": {"phase": phase},
    }


@pytest.fixture
def lab() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    nodes = [healthy_node("server", "server"), healthy_node("agent1", "agent")]
    nodes[1]["probe"]["registries"] = [
        {
            "url": "http://127.0.0.1:5000",
            "reachable": True,
            "status": 200,
            "repositories": ["blog"],
        }
    ]
    api = {
        "credential": "operator",
        "attempts": [{"credential": "operator", "outcome": "ok", "validate_certs": True}],
        "nodes": [node_obj("server", True, server=True), node_obj("agent1", True)],
        "pods": [
            pod("blog-1", "agent1"),
            pod("registry-1", "agent1", image="registry:2"),
            pod("coredns-1", "server", ns="kube-system", image="rancher/mirrored-coredns:1.12"),
        ],
    }
    return nodes, api


def ids(found: list[dict[str, Any]]) -> list[str]:
    return [f["id"] for f in found]


def test_a_healthy_cluster_has_no_findings(lab) -> None:
    nodes, api = lab
    assert kf.build_findings(nodes, api, CFG) == []


def test_the_whole_incident_is_ordered_tactical_first(lab) -> None:
    nodes, api = lab
    server, agent = nodes
    server["probe"]["disks"][1].update(used=256, free=0, percent=100.0)
    agent["probe"]["clock"] = {"offset": -28800.0, "uncertainty": 1.0}
    server["certs"]["certificates"] = [
        cert("/tls/client-admin.crt", "expired"),
        cert("/tls/dynamic-cert.json", "expired", source="dynamic"),
    ]
    agent["probe"]["registries"][0]["repositories"] = []
    api["nodes"][1] = node_obj("agent1", False)
    api["pods"][0] = pod("blog-1", "server")
    api["attempts"] = [
        {"credential": "operator", "outcome": "refused", "msg": "401 Unauthorized"},
        {"credential": "server", "outcome": "refused", "msg": "401 Unauthorized"},
        {"credential": "break_glass", "outcome": "ok"},
    ]
    api["credential"] = "break_glass"

    found = kf.build_findings(nodes, api, CFG)

    assert ids(found) == [
        "disk_full",
        "clock_skew",
        "api_credentials_refused",
        "certs_expired",
        "serving_cert_expired",
        "nodes_not_ready",
        "apps_on_servers",
        "registry_images_missing",
    ]
    assert [f["rank"] for f in found] == [1, 2, 3, 3, 4, 5, 6, 7]
    assert [f["order"] for f in found] == list(range(1, 9))
    by_id = {f["id"]: f for f in found}
    assert by_id["disk_full"]["remedy"]["playbook"] == "playbooks/free_disk.yml"
    assert by_id["disk_full"]["remedy"]["tags"] == ["disk"]
    assert by_id["disk_full"]["remedy"]["command"] == (
        "ansible-playbook -i inventory/prod/hosts.yml playbooks/free_disk.yml --tags disk "
        "--limit server"
    )
    assert by_id["clock_skew"]["remedy"]["playbook"] is None
    assert "agent1" in by_id["clock_skew"]["remedy"]["action"]
    # Both admin credentials refused: the certificates, not the kubeconfig, need fixing.
    assert by_id["api_credentials_refused"]["remedy"]["tags"] == ["certs"]
    assert by_id["serving_cert_expired"]["remedy"]["tags"] == ["serving_cert"]
    assert by_id["registry_images_missing"]["remedy"]["playbook"] == "playbooks/registry.yml"
    assert "later issue" in by_id["registry_images_missing"]["remedy"]["action"]
    assert by_id["apps_on_servers"]["nodes"] == ["server"]


def test_only_the_operator_kubeconfig_stale_points_at_the_kubeconfig_tag(lab) -> None:
    nodes, api = lab
    api["attempts"] = [
        {"credential": "operator", "outcome": "refused", "msg": "401"},
        {"credential": "server", "outcome": "ok"},
    ]
    found = kf.build_findings(nodes, api, CFG)
    assert ids(found) == ["api_credentials_refused"]
    assert found[0]["remedy"]["tags"] == ["kubeconfig"]


def test_disk_thresholds_and_one_finding_per_file_system(lab) -> None:
    nodes, api = lab
    nodes[0]["probe"]["disks"].append(
        {
            "path": "/var/lib/rancher",
            "fsid": 1,
            "total": 100,
            "used": 90,
            "free": 10,
            "percent": 90.0,
        }
    )
    nodes[0]["probe"]["disks"][0].update(used=90, free=10, percent=90.0)
    found = kf.build_findings(nodes, api, CFG)
    assert ids(found) == ["disk_low"]
    assert found[0]["severity"] == "warning"
    assert len(found[0]["evidence"]) == 1  # / and /var/lib/rancher share a file system


def test_clock_offset_within_the_measurement_uncertainty_is_not_a_finding(lab) -> None:
    nodes, api = lab
    nodes[1]["probe"]["clock"] = {"offset": 9.0, "uncertainty": 7.5}
    assert kf.build_findings(nodes, api, CFG) == []
    nodes[1]["probe"]["clock"] = {"offset": 20.0, "uncertainty": 1.0}
    found = kf.build_findings(nodes, api, CFG)
    assert ids(found) == ["clock_skew"]
    assert found[0]["severity"] == "warning"


def test_expiring_certificates_are_warnings(lab) -> None:
    nodes, api = lab
    nodes[1]["certs"]["certificates"] = [cert("/agent/client-kubelet.crt", "expiring")]
    found = kf.build_findings(nodes, api, CFG)
    assert [(f["id"], f["severity"]) for f in found] == [("certs_expiring", "warning")]


def test_without_the_api_refused_agents_are_found_from_their_journal(lab) -> None:
    nodes, api = lab
    api.update(credential=None, nodes=[], pods=[])
    api["attempts"] = [{"credential": "operator", "outcome": "refused", "msg": "401"}]
    nodes[1]["probe"]["journal_errors"] = {
        "recent_api_errors": 42,
        "last_api_error": "k3s[9]: Unauthorized",
    }
    found = kf.build_findings(nodes, api, CFG)
    assert ids(found) == ["api_credentials_refused", "nodes_not_ready"]
    assert "42" in found[1]["evidence"][0]


def test_refusals_in_the_journal_do_not_overrule_a_ready_node_in_the_api(lab) -> None:
    # Right after a rotation the server's journal still holds the refusals of the agents'
    # old certificates; the API says the server is Ready, and that is the answer.
    nodes, api = lab
    nodes[0]["probe"]["journal_errors"] = {
        "recent_api_errors": 49,
        "last_api_error": 'k3s[2]: "Unable to authenticate the request" err="x509: expired"',
    }
    assert kf.build_findings(nodes, api, CFG) == []
    # A node the API does not list is still judged by its journal.
    api["nodes"] = [n for n in api["nodes"] if n["metadata"]["name"] != nodes[0]["name"]]
    assert "nodes_not_ready" in ids(kf.build_findings(nodes, api, CFG))


def test_unreachable_node_and_stopped_k3s_are_findings(lab) -> None:
    nodes, api = lab
    nodes[1] = {"name": "agent1", "roles": ["agent"], "reachable": False, "msg": "ssh: timeout"}
    nodes[0]["probe"]["units"]["k3s"] = {"active_state": "failed", "restarts": 5}
    found = kf.build_findings(nodes, api, CFG)
    assert ids(found) == ["k3s_service_down", "node_unreachable"]
    assert found[1]["evidence"] == ["agent1: ssh: timeout"]


def test_api_unreachable_and_untrusted_serving_certificate(lab) -> None:
    nodes, api = lab
    api.update(credential=None, nodes=[], pods=[])
    api["attempts"] = [{"credential": "operator", "outcome": "unreachable", "msg": "refused"}]
    assert ids(kf.build_findings(nodes, api, CFG)) == ["api_unreachable"]
    api["attempts"] = [
        {"credential": "operator", "outcome": "tls", "msg": "TLS certificate verify failed"},
        {"credential": "operator", "outcome": "ok", "validate_certs": False},
    ]
    api["credential"] = "operator"
    assert ids(kf.build_findings(nodes, api, CFG)) == ["serving_cert_untrusted"]


def test_pending_apps_and_registry_gone(lab) -> None:
    nodes, api = lab
    api["pods"][0] = pod("blog-1", None, phase="Pending")
    nodes[1]["probe"]["registries"] = [{"url": "http://127.0.0.1:5000", "reachable": False}]
    found = kf.build_findings(nodes, api, CFG)
    assert ids(found) == ["apps_not_running", "registry_unreachable"]
    assert any("carry no NoSchedule" in e for e in found[0]["evidence"])


def test_registry_missing_a_repository_the_pods_use(lab) -> None:
    nodes, api = lab
    api["pods"].append(pod("lighthouse-1", "agent1"))
    found = kf.build_findings(nodes, api, CFG)
    assert ids(found) == ["registry_images_missing"]
    assert "lacks lighthouse" in found[0]["evidence"][0]


@pytest.mark.parametrize(
    ("fail_on", "needs"), [("warning", True), ("critical", False), ("never", False)]
)
def test_summary_needs_attention_follows_fail_on(lab, fail_on: str, needs: bool) -> None:
    nodes, api = lab
    nodes[1]["certs"]["certificates"] = [cert("/agent/client-kubelet.crt", "expiring")]
    found = kf.build_findings(nodes, api, CFG)
    summary = kf.summary(found, fail_on)
    assert summary["needs_attention"] is needs
    assert summary["warning"] == 1
    assert summary["worst"] == "warning"


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        ({"resources": [{}]}, "ok"),
        ({"failed": True, "msg": "Exception '401\nReason: Unauthorized\n'"}, "refused"),
        (
            {"failed": True, "msg": "SSLError(... [SSL: CERTIFICATE_VERIFY_FAILED] ...)"},
            "tls",
        ),
        ({"failed": True, "msg": "Max retries exceeded ... Connection refused"}, "unreachable"),
        ({"failed": True, "msg": "something else"}, "error"),
    ],
)
def test_api_outcome(result: dict[str, Any], outcome: str) -> None:
    assert kf.api_outcome(result) == outcome


def test_api_message_drops_tracebacks_and_keeps_the_tls_reason() -> None:
    msg = (
        "Exception 'HTTPSConnectionPool(host='127.0.0.1', port=1): Max retries exceeded "
        "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] "
        "certificate verify failed: certificate has expired (_ssl.c:1006)')))' raised while"
    )
    assert kf.api_message({"msg": msg}) == "TLS certificate verify failed: certificate has expired"
    text = "Exception '401\nReason: Unauthorized\nOriginal traceback: File x"
    assert kf.api_message({"msg": text}) == "401 Reason: Unauthorized"


def test_markdown_and_summary_lines_name_every_finding_and_its_fix(lab) -> None:
    nodes, api = lab
    nodes[0]["probe"]["disks"][1].update(used=256, free=0, percent=100.0)
    found = kf.build_findings(nodes, api, CFG)
    report = {
        "generated_at": "2026-11-30T15:00:00Z",
        "summary": kf.summary(found, "warning"),
        "findings": found,
        "nodes": [{"name": "server"}, {"name": "agent1"}],
        "api": {"endpoint": "https://k3s:6443", "status": "ok", "attempts": api["attempts"]},
    }
    text = kf.markdown(copy.deepcopy(report))
    assert "## 1. [CRITICAL] Disk full (`disk_full`, rank 1 disk)" in text
    assert "playbooks/free_disk.yml --tags disk" in text
    assert kf.summary_lines(found) == [
        "1. CRITICAL disk_full [server]: Disk full -> playbooks/free_disk.yml --tags disk"
    ]
    assert kf.summary_lines([]) == ["No findings: the cluster looks healthy."]
