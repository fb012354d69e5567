"""HTTP-level behaviour: watches, keep-alive after DELETE bodies, extra routes, faults, CLI."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from kubeapi_cluster import DEPLOYMENT, Cluster, Pki, wait_for

from k3s_standin.kubeapi import ApiServer, Request, Response, ServerConfig


def _connection(cluster: Cluster, client: object | None = None) -> http.client.HTTPSConnection:
    ctx = ssl.create_default_context(cafile=str(cluster.certs.server_ca.pair.cert))
    pair = client or cluster.certs.admin
    ctx.load_cert_chain(str(pair.cert), str(pair.key))  # type: ignore[attr-defined]
    return http.client.HTTPSConnection("127.0.0.1", cluster.server.port, context=ctx, timeout=30)


def _cm(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"k": name},
    }


def test_watch_sends_initial_events_then_bookmark_then_changes(cluster: Cluster) -> None:
    cluster.request("POST", "/api/v1/namespaces", {"metadata": {"name": "watched"}})
    cluster.request("POST", "/api/v1/namespaces/watched/configmaps", _cm("before"))
    conn = _connection(cluster)
    conn.request(
        "GET",
        "/api/v1/namespaces/watched/configmaps?watch=true&sendInitialEvents=true"
        "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=5",
    )
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
    added = json.loads(resp.readline())
    assert (added["type"], added["object"]["metadata"]["name"]) == ("ADDED", "before")
    bookmark = json.loads(resp.readline())
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    threading.Thread(
        target=cluster.request, args=("POST", "/api/v1/namespaces/watched/configmaps", _cm("after"))
    ).start()
    later = json.loads(resp.readline())
    assert (later["type"], later["object"]["metadata"]["name"]) == ("ADDED", "after")
    assert int(later["object"]["metadata"]["resourceVersion"]) > int(
        bookmark["object"]["metadata"]["resourceVersion"]
    )
    conn.close()


def test_watch_resumes_from_a_resource_version(cluster: Cluster) -> None:
    _, created = cluster.request("POST", "/api/v1/namespaces/default/configmaps", _cm("resume"))
    rv = created["metadata"]["resourceVersion"]
    cluster.request("DELETE", "/api/v1/namespaces/default/configmaps/resume")
    conn = _connection(cluster)
    conn.request(
        "GET",
        f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1",
    )
    events = [json.loads(line) for line in conn.getresponse().read().splitlines()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("DELETED", "resume")]


def test_delete_body_is_drained_and_the_connection_reused(cluster: Cluster) -> None:
    cluster.request("POST", "/api/v1/namespaces/default/configmaps", _cm("drained"))
    conn = _connection(cluster)
    body = json.dumps(
        {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
    )
    conn.request(
        "DELETE",
        "/api/v1/namespaces/default/configmaps/drained",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    first = conn.getresponse()
    assert first.status == 200 and json.loads(first.read())["metadata"]["name"] == "drained"
    conn.request(
        "DELETE",
        "/api/v1/namespaces/default/configmaps/drained",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    second = conn.getresponse()
    status = json.loads(second.read())
    assert second.status == 404
    assert status["message"] == 'configmaps "drained" not found'
    assert status["details"] == {"name": "drained", "kind": "configmaps"}
    conn.close()


def test_update_with_stale_resource_version_conflicts(cluster: Cluster) -> None:
    _, cm = cluster.request("POST", "/api/v1/namespaces/default/configmaps", _cm("conflict"))
    cm["data"] = {"k": "v2"}
    status, updated = cluster.request("PUT", "/api/v1/namespaces/default/configmaps/conflict", cm)
    assert (
        status == 200
        and updated["metadata"]["resourceVersion"] != cm["metadata"]["resourceVersion"]
    )
    status, body = cluster.request("PUT", "/api/v1/namespaces/default/configmaps/conflict", cm)
    assert status == 409 and body["reason"] == "Conflict"
    assert (
        "the object has been modified; please apply your changes to the latest version"
        in body["message"]
    )


def test_extra_routes_see_who_asks(cluster: Cluster, certs: Pki) -> None:
    seen: list[object] = []

    def cacerts(req: Request) -> Response:
        seen.append(req.user)
        return Response(200, certs.server_ca.pair.cert.read_bytes(), "text/plain")

    cluster.server.add_route("GET", "/cacerts", cacerts)
    ctx = ssl.create_default_context(cafile=str(certs.server_ca.pair.cert))
    anonymous = http.client.HTTPSConnection("127.0.0.1", cluster.server.port, context=ctx)
    anonymous.request("GET", "/cacerts")
    assert anonymous.getresponse().read().startswith(b"-----BEGIN CERTIFICATE-----")
    node = _connection(cluster, certs.node)
    node.request("GET", "/cacerts")
    node.getresponse().read()
    assert seen[0] is None
    assert seen[1].user == "system:node:agent1" and "system:nodes" in seen[1].groups


def test_injected_faults(cluster: Cluster) -> None:
    status, _ = cluster.request(
        "POST", "/lab/faults", {"path": "^/api/v1/nodes$", "status": 503, "count": 1}
    )
    assert status == 201
    status, body = cluster.request("GET", "/api/v1/nodes")
    assert status == 503 and body["kind"] == "Status" and body["reason"] == "ServiceUnavailable"
    status, body = cluster.request("GET", "/api/v1/nodes")
    assert status == 200 and body["kind"] == "NodeList"


def test_command_line_server(tmp_path: Path, certs: Pki) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "lab")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "k3s_standin.kubeapi",
            "--state-dir",
            str(tmp_path),
            "--port",
            "0",
            "--tls-cert",
            str(certs.serving.cert),
            "--tls-key",
            str(certs.serving.key),
            "--client-ca",
            str(certs.client_ca.pair.cert),
            "--no-controllers",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = wait_for(proc.stderr.readline, "the server to say where it listens")
        port = int(str(line).strip().rsplit(":", 1)[1])
        ctx = ssl.create_default_context(cafile=str(certs.server_ca.pair.cert))
        ctx.load_cert_chain(str(certs.admin.cert), str(certs.admin.key))
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
        conn.request("GET", "/version")
        assert json.loads(conn.getresponse().read())["gitVersion"] == "v1.31.4+k3s1"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_plain_http_is_for_loopback_unit_tests(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        ApiServer(ServerConfig(state_dir=tmp_path / "x", host="0.0.0.0", port=0))
    server = ApiServer(ServerConfig(state_dir=tmp_path / "plain", port=0, controllers=False))
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", "/lab/clock", body=json.dumps({"advance_seconds": 30}))
        assert json.loads(conn.getresponse().read())["offset_seconds"] == 30
        conn.request("GET", "/api/v1/namespaces/kube-system")
        assert json.loads(conn.getresponse().read())["status"]["phase"] == "Active"
    finally:
        server.stop()


def test_watch_reports_objects_entering_and_leaving_a_selector(cluster: Cluster) -> None:
    cm = {**_cm("moving"), "metadata": {"name": "moving", "labels": {"tier": "a"}}}
    _, created = cluster.request("POST", "/api/v1/namespaces/default/configmaps", cm)
    conn = _connection(cluster)
    rv = created["metadata"]["resourceVersion"]
    conn.request(
        "GET",
        f"/api/v1/namespaces/default/configmaps?watch=1&labelSelector=tier%3Da&resourceVersion={rv}"
        "&timeoutSeconds=2",
    )
    path = "/api/v1/namespaces/default/configmaps/moving"
    merge = "application/merge-patch+json"
    for patch in (
        {"metadata": {"labels": {"tier": "b"}}},
        {"data": {"k": "unseen"}},
        {"metadata": {"labels": {"tier": "a"}}},
        {"data": {"k": "seen"}},
    ):
        assert cluster.request("PATCH", path, patch, content_type=merge)[0] == 200
    events = [json.loads(line) for line in conn.getresponse().read().splitlines()]
    assert [(e["type"], e["object"]["data"]["k"]) for e in events] == [
        ("DELETED", "moving"),
        ("ADDED", "unseen"),
        ("MODIFIED", "seen"),
    ]


def test_eviction_respects_disruption_budgets(cluster: Cluster) -> None:
    cluster.kubectl(
        "1.37",
        "apply",
        "-f",
        "-",
        stdin=DEPLOYMENT.format(name="guarded", ns="default", replicas=1),
    )
    cluster.kubectl("1.37", "rollout", "status", "deploy/guarded", "--timeout=30s")
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "guarded"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}},
    }
    assert (
        cluster.request("POST", "/apis/policy/v1/namespaces/default/poddisruptionbudgets", pdb)[0]
        == 201
    )
    pod = cluster.request("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dguarded")[1][
        "items"
    ][0]
    name = pod["metadata"]["name"]
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": "default"},
    }
    status, body = cluster.request(
        "POST", f"/api/v1/namespaces/default/pods/{name}/eviction", eviction
    )
    assert status == 429 and body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert (
        cluster.request(
            "DELETE", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/guarded"
        )[0]
        == 200
    )
    status, body = cluster.request(
        "POST", f"/api/v1/namespaces/default/pods/{name}/eviction", eviction
    )
    assert status == 201 and body["status"] == "Success"
