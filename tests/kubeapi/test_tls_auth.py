"""Client certificates are judged by the authenticator (401 + the apiserver's log line),
not by the TLS handshake; an expired serving certificate fails kubectl's handshake."""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections.abc import Iterator

import pytest
from kubeapi_cluster import Cluster, Pki, start_cluster

UNAUTHORIZED = "error: You must be logged in to the server (Unauthorized)"
# kubectl reads discovery with Result.Raw(), which does not decode the Status body: with no
# cached discovery, a 401 reads like this (real k3s gives the same with kubectl >= 1.26).
UNAUTHORIZED_COLD = (
    "error: You must be logged in to the server "
    "(the server has asked for the client to provide credentials)"
)
LOG_RE = re.compile(
    r'authentication\.go:73\] "Unable to authenticate the request" err="\[(?P<err>.*)\]"$'
)


def _auth_errors(cluster: Cluster) -> list[str]:
    return [m.group("err") for line in cluster.log.lines if (m := LOG_RE.search(line))]


@pytest.mark.parametrize("version", ["1.32", "1.37"])
def test_expired_client_cert_is_401_and_logged(cluster: Cluster, certs: Pki, version: str) -> None:
    cold = cluster.kubectl(
        version,
        "get",
        "nodes",
        client=certs.expired,
        name="expired",
        check=False,
        cache=f"cold-{version}",
    )
    assert cold.returncode == 1
    assert UNAUTHORIZED_COLD in cold.stderr
    cluster.kubectl(version, "get", "namespaces", cache="warm")
    before = len(_auth_errors(cluster))
    result = cluster.kubectl(
        version, "get", "nodes", client=certs.expired, name="expired", check=False, cache="warm"
    )
    assert result.returncode == 1
    assert UNAUTHORIZED in result.stderr
    errors = _auth_errors(cluster)[before:]
    assert errors, "the server logged no authentication failure"
    pattern = (
        r"^x509: certificate has expired or is not yet valid: current time \S+Z is after \S+Z, "
        r"verifying certificate SN=\d+, SKID=, AKID=[0-9A-F:]+ failed: "
        r"x509: certificate has expired or is not yet valid: current time \S+Z is after \S+Z$"
    )
    assert all(re.match(pattern, e) for e in errors), errors[0]


def test_foreign_and_future_certs_are_refused(cluster: Cluster, certs: Pki) -> None:
    cluster.kubectl("1.37", "get", "namespaces", cache="warm")
    result = cluster.kubectl(
        "1.37", "get", "pods", "-A", client=certs.foreign, name="foreign", check=False, cache="warm"
    )
    assert UNAUTHORIZED in result.stderr
    assert _auth_errors(cluster)[-1].endswith(
        "failed: x509: certificate signed by unknown authority"
    )
    status, body = cluster.request("GET", "/api/v1/nodes", client=certs.not_yet_valid)
    assert status == 401
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    assert " is before " in _auth_errors(cluster)[-1]


def test_anonymous_requests_are_unauthorized(cluster: Cluster, certs: Pki) -> None:
    ctx = ssl.create_default_context(cafile=str(certs.server_ca.pair.cert))
    host, port = "127.0.0.1", cluster.server.port
    for path in ("/api/v1/namespaces", "/version", "/readyz"):
        with (
            socket.create_connection((host, port)) as raw,
            ctx.wrap_socket(raw, server_hostname=host) as tls,
        ):
            tls.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
            )
            response = b""
            while chunk := tls.recv(65536):
                response += chunk
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 401"), head
        assert json.loads(body)["reason"] == "Unauthorized"


def test_node_identity_may_use_the_api(cluster: Cluster, certs: Pki) -> None:
    status, body = cluster.request("GET", "/api/v1/nodes/agent1", client=certs.node)
    assert status == 200 and body["metadata"]["name"] == "agent1"
    status, body = cluster.request("POST", "/lab/clock", {"advance_seconds": 0}, client=certs.node)
    assert status == 403 and "system:masters" in body["message"]


@pytest.fixture(scope="module")
def expired_serving(tmp_path_factory: pytest.TempPathFactory, certs: Pki) -> Iterator[Cluster]:
    running = start_cluster(
        tmp_path_factory.mktemp("expired-serving"),
        certs,
        serving=certs.expired_serving,
        controllers=False,
    )
    yield running
    running.server.stop()


@pytest.mark.parametrize("version", ["1.32", "1.37"])
def test_expired_serving_cert_fails_kubectl(expired_serving: Cluster, version: str) -> None:
    result = expired_serving.kubectl(version, "get", "nodes", check=False)
    assert result.returncode == 1
    assert "x509: certificate has expired or is not yet valid" in result.stderr
