"""A node that stops heartbeating goes NotReady and loses its pods; a restart keeps every object."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubeapi_cluster import DEPLOYMENT, Cluster, Pki, start_cluster, wait_for

UNREACHABLE = "node.kubernetes.io/unreachable"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, certs: Pki) -> Iterator[Cluster]:
    running = start_cluster(
        tmp_path_factory.mktemp("lifecycle"),
        certs,
        node_grace_seconds=40.0,
        pod_eviction_seconds=300.0,
    )
    yield running
    running.server.stop()


def _pods(cluster: Cluster, app: str) -> list[dict]:
    out = cluster.kubectl(
        "1.37", "get", "pods", "-n", "default", "-l", f"app={app}", "-o", "json"
    ).stdout
    return json.loads(out)["items"]


def _advance(cluster: Cluster, seconds: float) -> None:
    status, _ = cluster.request("POST", "/lab/clock", {"advance_seconds": seconds})
    assert status == 200
    cluster.settle()


def test_lost_node_goes_not_ready_and_its_pods_move(lab: Cluster) -> None:
    lab.kubectl(
        "1.37", "apply", "-f", "-", stdin=DEPLOYMENT.format(name="app", ns="default", replicas=6)
    )
    lab.kubectl("1.37", "rollout", "status", "deploy/app", "--timeout=30s")
    lost = [p["metadata"]["name"] for p in _pods(lab, "app") if p["spec"]["nodeName"] == "agent2"]
    assert lost, "the scheduler put nothing on agent2"

    status, _ = lab.request("POST", "/lab/nodes/agent2/heartbeat", {"stopped": True})
    assert status == 200
    _advance(lab, 45)
    ready = 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'
    assert wait_for(
        lambda: lab.kubectl("1.37", "get", "node", "agent2", "-o", ready).stdout == "Unknown",
        "agent2 to go NotReady",
    )
    assert (
        lab.kubectl("1.37", "get", "node", "agent2", "--no-headers").stdout.split()[1] == "NotReady"
    )
    assert lab.kubectl("1.37", "get", "node", "agent1", "--no-headers").stdout.split()[1] == "Ready"
    taints = json.loads(
        lab.kubectl("1.37", "get", "node", "agent2", "-o", "jsonpath={.spec.taints}").stdout
    )
    assert {(t["key"], t["effect"]) for t in taints} == {
        (UNREACHABLE, "NoSchedule"),
        (UNREACHABLE, "NoExecute"),
    }
    # Inside the toleration period the pods stay bound to the lost node, no longer ready.
    still = {p["metadata"]["name"]: p for p in _pods(lab, "app")}
    assert all(name in still and still[name]["spec"]["nodeName"] == "agent2" for name in lost)
    assert all(
        c["status"] == "False"
        for name in lost
        for c in still[name]["status"]["conditions"]
        if c["type"] == "Ready"
    )

    _advance(lab, 301)

    def moved() -> bool:
        pods = _pods(lab, "app")
        live = [p for p in pods if "deletionTimestamp" not in p["metadata"]]
        return len(live) == 6 and all(
            p["spec"]["nodeName"] != "agent2" and p["status"]["phase"] == "Running" for p in live
        )

    assert wait_for(moved, "the lost node's pods to be replaced elsewhere")
    terminating = [p for p in _pods(lab, "app") if "deletionTimestamp" in p["metadata"]]
    assert sorted(p["metadata"]["name"] for p in terminating) == sorted(lost)
    events = lab.kubectl(
        "1.37", "get", "events", "-A", "--field-selector", "reason=TaintManagerEviction"
    ).stdout
    assert all(name in events for name in lost)

    forced = lab.kubectl("1.37", "delete", "pod", lost[0], "--force", "--grace-period=0")
    assert f'pod "{lost[0]}" force deleted' in forced.stdout
    assert lost[0] not in {p["metadata"]["name"] for p in _pods(lab, "app")}

    lab.request("POST", "/lab/nodes/agent2/heartbeat", {"stopped": False})
    lab.settle()
    assert wait_for(
        lambda: lab.kubectl("1.37", "get", "node", "agent2", "-o", ready).stdout == "True",
        "agent2 to come back",
    )
    assert wait_for(
        lambda: not [p for p in _pods(lab, "app") if "deletionTimestamp" in p["metadata"]],
        "the returning kubelet to finish the evicted pods",
    )
    assert (
        UNREACHABLE
        not in lab.kubectl("1.37", "get", "node", "agent2", "-o", "jsonpath={.spec.taints}").stdout
    )


def test_no_eviction_when_no_node_is_ready(lab: Cluster) -> None:
    # The node lifecycle controller's full disruption: with every node of the zone
    # NotReady it suspects its own connectivity and evicts nothing.
    before = {
        p["metadata"]["name"]: p["spec"]["nodeName"]
        for p in _pods(lab, "app")
        if "deletionTimestamp" not in p["metadata"]
    }
    assert before
    nodes = ("server1", "agent1", "agent2")
    for node in nodes:
        assert lab.request("POST", f"/lab/nodes/{node}/heartbeat", {"stopped": True})[0] == 200
    try:
        _advance(lab, 45)
        listing = lab.kubectl("1.37", "get", "nodes", "--no-headers").stdout
        assert [line.split()[1] for line in listing.splitlines()] == ["NotReady"] * 3
        _advance(lab, 301)
        _advance(lab, 5)
        after = {p["metadata"]["name"]: p for p in _pods(lab, "app")}
        assert set(after) == set(before)
        assert all("deletionTimestamp" not in p["metadata"] for p in after.values())
        assert {n: p["spec"]["nodeName"] for n, p in after.items()} == before
    finally:
        for node in nodes:
            lab.request("POST", f"/lab/nodes/{node}/heartbeat", {"stopped": False})
        lab.settle()


def test_restart_keeps_every_object(tmp_path: Path, certs: Pki) -> None:
    first = start_cluster(tmp_path / "restart", certs)
    try:
        first.kubectl(
            "1.37",
            "apply",
            "-f",
            "-",
            stdin=DEPLOYMENT.format(name="keep", ns="default", replicas=2),
        )
        first.kubectl("1.37", "rollout", "status", "deploy/keep", "--timeout=30s")
        first.kubectl(
            "1.37",
            "apply",
            "-f",
            "-",
            stdin="apiVersion: v1\nkind: Secret\n"
            "metadata: {name: k3s-serving, namespace: kube-system}\n"
            "type: kubernetes.io/tls\ndata: {tls.crt: Y3J0, tls.key: a2V5}\n",
        )
        first.request("POST", "/lab/clock", {"advance_seconds": 120})
        first.server.controllers.stop()
        before = {res.key: first.server.store.list(res) for res in first.server.registry.resources}
        rv = first.server.store.resource_version
    finally:
        first.server.stop()
    second = start_cluster(tmp_path / "restart", certs, controllers=False)
    try:
        after = {res.key: second.server.store.list(res) for res in second.server.registry.resources}
        assert after == before
        assert sum(len(v) for v in after.values()) > 10
        assert second.server.clock.offset == pytest.approx(120)
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after-restart"}}
        status, body = second.request("POST", "/api/v1/namespaces/default/configmaps", cm)
        assert status == 201 and int(body["metadata"]["resourceVersion"]) > rv
        tls_crt = second.kubectl(
            "1.37",
            "get",
            "secret",
            "-n",
            "kube-system",
            "k3s-serving",
            "-o",
            "jsonpath={.data.tls\\.crt}",
        ).stdout
        assert tls_crt == "Y3J0"
    finally:
        second.server.stop()


def test_events_expire_after_an_hour(lab: Cluster) -> None:
    def event(name: str, stamp: str) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name},
            "involvedObject": {"kind": "Node", "name": "agent1"},
            "reason": "Test",
            "message": name,
            "lastTimestamp": stamp,
        }

    now = lab.server.clock.now()
    old = (now - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fresh = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert lab.request("POST", "/api/v1/namespaces/default/events", event("old", old))[0] == 201
    assert lab.request("POST", "/api/v1/namespaces/default/events", event("fresh", fresh))[0] == 201
    lab.settle()
    assert lab.request("GET", "/api/v1/namespaces/default/events/old")[0] == 404
    assert lab.request("GET", "/api/v1/namespaces/default/events/fresh")[0] == 200


def test_default_kubernetes_service(lab: Cluster) -> None:
    out = lab.kubectl("1.37", "get", "svc", "kubernetes", "--no-headers").stdout.split()
    assert out[:5] == ["kubernetes", "ClusterIP", "10.43.0.1", "<none>", "443/TCP"]
