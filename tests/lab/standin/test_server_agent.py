"""A server and an agent of the stand-in, in-process on loopback: join, heartbeats, breakers.

Real TLS, real certificates, real HTTP; only systemd and the containers are left out.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from k3s_standin import agent, certcmd, dynamiccert, labnode, nodeconfig, pki, settings
from k3s_standin.layout import ROOT_ENV, Layout
from k3s_standin.loadbalancer import LoadBalancer
from k3s_standin.server import ServerProcess
from k3s_standin.supervisorclient import NodeIdentity

TOKEN = "lab-token-0123"


class Log(io.StringIO):
    """A log stream several threads write to."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            return super().write(text)

    def text(self) -> str:
        with self.lock:
            return self.getvalue()


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _lab(root: Path, **extra: object) -> Layout:
    layout = Layout(root=root, data_dir=root / "var/lib/rancher/k3s")
    layout.etc_dir.mkdir(parents=True, exist_ok=True)
    values = {"version": "v1.33.1+k3s1", "node_grace_seconds": 3, "heartbeat_seconds": 0.5}
    values |= extra
    layout.lab_yaml.write_text(yaml.safe_dump(values))
    return layout


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    server_root, agent_root = tmp_path / "server", tmp_path / "agent1"
    server_layout = _lab(server_root)
    monkeypatch.setenv(ROOT_ENV, str(server_root))
    config = nodeconfig.load(
        "server", ["--token", TOKEN, "--node-name", "server", "--node-ip", "127.0.0.1"]
    )
    server_log = Log()
    process = ServerProcess(config, settings.load(server_layout.lab_yaml), server_log)
    password = process.prepare(pki.utcnow())
    api = process.start_api("127.0.0.1", 0)
    process.start_kubelet(api.port, password)
    agent_layout = _lab(agent_root)
    (agent_layout.config_yaml).write_text(
        yaml.safe_dump({"server": f"https://127.0.0.1:{api.port}", "token": TOKEN})
    )
    balancer = LoadBalancer(("127.0.0.1", api.port), port=0)
    balancer.start()
    agent_log = Log()
    stop = threading.Event()
    run = agent.AgentRun(
        layout=agent_layout,
        supervisor_url=f"https://127.0.0.1:{balancer.port}",
        api_url=f"https://127.0.0.1:{balancer.port}",
        token=TOKEN,
        node=NodeIdentity("agent1", ("127.0.0.2",)),
        role="agent",
        node_labels=(),
        node_taints=(),
        node_args=["agent"],
    )
    lab = settings.load(agent_layout.lab_yaml)
    worker = agent.start_kubelet(run, lab, stop, agent_log)
    assert worker is not None
    yield {
        "api": api, "process": process, "server": server_layout, "agent": agent_layout,
        "server_log": server_log, "agent_log": agent_log, "run": run, "lab": lab,
        "stop": stop, "balancer": balancer, "monkeypatch": monkeypatch,
    }  # fmt: skip
    stop.set()
    balancer.stop()
    process.stop()


def _ready(api: object, name: str) -> str | None:
    node = api.store.find("nodes", "", name)  # type: ignore[attr-defined]
    if node is None:
        return None
    for condition in node.get("status", {}).get("conditions") or []:
        if condition["type"] == "Ready":
            return condition["status"]
    return None


def test_agent_joins_with_the_token_and_stays_ready(cluster: dict) -> None:
    api, agent_layout = cluster["api"], cluster["agent"]
    wait_for(lambda: _ready(api, "agent1") == "True", "agent1 Ready")
    wait_for(lambda: _ready(api, "server") == "True", "server Ready")
    for name in ("client-kubelet", "serving-kubelet", "client-kube-proxy", "client-k3s-controller"):
        assert (agent_layout.agent_dir / f"{name}.crt").stat().st_mode & 0o777 == 0o600
        assert (agent_layout.agent_dir / f"{name}.key").stat().st_mode & 0o777 == 0o600
    certs = pki.load_certs(agent_layout.agent_dir / "client-kubelet.crt")
    assert pki.go_subject(certs[0].subject) == "CN=system:node:agent1,O=system:nodes"
    node = api.store.find("nodes", "", "agent1")
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.33.1+k3s1"
    assert node["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "k3s"
    server = api.store.find("nodes", "", "server")
    assert server["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == "true"
    wait_for(lambda: api.store.find("leases", "kube-node-lease", "agent1") is not None, "lease")
    assert api.store.find("deployments", "kube-system", "coredns") is not None
    assert api.store.find("deployments", "default", "registry") is not None

    def monitor_said_ok() -> bool:
        return any(
            e.get("reason") == "CertificateExpirationOK" and e["involvedObject"]["name"] == "agent1"
            for e in api.store.list("events", "default")
        )

    wait_for(monitor_said_ok, "k3s's cert monitor Event on agent1")


def test_server_writes_token_kubeconfig_and_k3s_serving(cluster: dict) -> None:
    layout, api = cluster["server"], cluster["api"]
    token = (layout.server_dir / "token").read_text().strip()
    assert token.startswith("K10") and token.endswith(f"::server:{TOKEN}")
    assert (layout.server_dir / "node-token").resolve() == (layout.server_dir / "token").resolve()
    kubeconfig = yaml.safe_load(layout.kubeconfig.read_text())
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert layout.kubeconfig.stat().st_mode & 0o777 == 0o600
    secret = api.store.find("secrets", "kube-system", "k3s-serving")
    on_disk = json.loads(layout.dynamic_cert.read_text())
    assert secret["data"] == on_disk["data"]
    assert secret["type"] == "kubernetes.io/tls"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
def test_kubectl_works_with_the_written_kubeconfig(cluster: dict, tmp_path: Path) -> None:
    layout, api = cluster["server"], cluster["api"]
    text = layout.kubeconfig.read_text().replace(":6443", f":{api.port}")
    config = tmp_path / "kubeconfig"
    config.write_text(text)
    wait_for(lambda: _ready(api, "agent1") == "True", "agent1 Ready")
    wait_for(lambda: _ready(api, "server") == "True", "server Ready")
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(config), "get", "nodes", "-o", "name"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"node/server", "node/agent1"}


def test_certs_expired_storms_and_the_agent_goes_notready(cluster: dict) -> None:
    api, monkeypatch = cluster["api"], cluster["monkeypatch"]
    wait_for(lambda: _ready(api, "agent1") == "True", "agent1 Ready")
    monkeypatch.setenv(ROOT_ENV, str(cluster["agent"].root))
    out = io.StringIO()
    assert labnode.main(["break", "certs-expired"], out=out) == 0
    assert "re-signed 4 leaves" in out.getvalue()
    wait_for(
        lambda: (
            '"Failed to ensure lease exists, will retry" err="Unauthorized"'
            in cluster["agent_log"].text()
        ),
        "the agent's Unauthorized storm",
    )
    wait_for(
        lambda: "x509: certificate has expired or is not yet valid" in cluster["server_log"].text(),
        "the server's x509 log line",
    )
    wait_for(lambda: _ready(api, "agent1") == "Unknown", "agent1 NotReady", timeout=30)
    lines = cluster["agent_log"].text().count("Unauthorized")
    assert lines > 20
    # Restarting the agent fetches fresh certificates (token fallback after the 401).
    cluster["stop"].set()
    time.sleep(1)
    stop = threading.Event()
    assert agent.start_kubelet(cluster["run"], cluster["lab"], stop, io.StringIO()) is not None
    try:
        wait_for(lambda: _ready(api, "agent1") == "True", "agent1 Ready again", timeout=30)
    finally:
        stop.set()


def test_serving_cert_expired_makes_the_agent_fail_verification(cluster: dict) -> None:
    api, monkeypatch = cluster["api"], cluster["monkeypatch"]
    wait_for(lambda: _ready(api, "agent1") == "True", "agent1 Ready")
    monkeypatch.setenv(ROOT_ENV, str(cluster["server"].root))
    assert labnode.main(["break", "serving-cert-expired"], out=io.StringIO()) == 0
    wait_for(
        lambda: (
            "tls: failed to verify certificate: x509: certificate has expired or is not yet "
            "valid: current time" in cluster["agent_log"].text()
        ),
        "the agent's x509 storm",
    )
    secret = api.store.find("secrets", "kube-system", "k3s-serving")
    on_disk = json.loads(cluster["server"].dynamic_cert.read_text())
    assert secret["data"] == on_disk["data"]


def _restart(cluster: dict) -> ServerProcess:
    """Stop the server process and start a new one on the same files (systemctl restart k3s)."""
    cluster["process"].stop()
    old = cluster["process"]
    process = ServerProcess(old.config, old.lab, cluster["server_log"])
    password = process.prepare(pki.utcnow())
    api = process.start_api("127.0.0.1", 0)
    process.start_kubelet(api.port, password)
    cluster["process"] = process
    cluster["api"] = process.api
    return process


def _serving_leaf(layout: Layout) -> object:
    return dynamiccert.read_file(layout).leaf


def test_server_restart_renews_expired_leaves_and_the_kubeconfig(cluster: dict) -> None:
    layout, monkeypatch = cluster["server"], cluster["monkeypatch"]
    monkeypatch.setenv(ROOT_ENV, str(layout.root))
    assert labnode.main(["break", "certs-expired"], out=io.StringIO()) == 0
    assert {leaf["status"] for leaf in labnode.facts(layout)["leaves"]} == {"EXPIRED"}
    process = _restart(cluster)
    now = pki.utcnow()
    wait_for(process.kubelet_started.is_set, "the embedded agent to fetch its certificates")
    assert {leaf["status"] for leaf in labnode.facts(layout)["leaves"]} == {"OK"}
    data = yaml.safe_load(layout.kubeconfig.read_text())
    pem = base64.b64decode(data["users"][0]["user"]["client-certificate-data"])
    admin = pki.split_pem_certs(pem)[0]
    assert pki.not_after(admin) > now + dt.timedelta(days=364)
    assert "Certificate client-admin.crt renewed" in cluster["server_log"].text()


def test_expired_serving_cert_survives_a_restart_until_both_copies_go(cluster: dict) -> None:
    layout, monkeypatch = cluster["server"], cluster["monkeypatch"]
    monkeypatch.setenv(ROOT_ENV, str(layout.root))
    assert labnode.main(["break", "serving-cert-expired"], out=io.StringIO()) == 0
    wait_for(
        lambda: (
            dynamiccert.from_secret(
                cluster["api"].store.find("secrets", "kube-system", "k3s-serving")
            ).leaf
            == _serving_leaf(layout)
        ),
        "the Secret to follow dynamic-cert.json",
    )
    now = pki.utcnow()
    _restart(cluster)
    assert pki.not_after(_serving_leaf(layout)) < now
    # The documented remedy: delete the Secret and the file, restart k3s.
    cluster["api"].store.delete("secrets", "kube-system", "k3s-serving")
    layout.dynamic_cert.unlink()
    _restart(cluster)
    leaf = _serving_leaf(layout)
    assert pki.not_after(leaf) > now + dt.timedelta(days=364)
    secret = cluster["api"].store.find("secrets", "kube-system", "k3s-serving")
    assert dynamiccert.from_secret(secret).leaf == leaf


def test_rotate_then_restart_regenerates_the_serving_cert(cluster: dict) -> None:
    layout, monkeypatch = cluster["server"], cluster["monkeypatch"]
    before = _serving_leaf(layout)
    monkeypatch.setenv(ROOT_ENV, str(layout.root))
    certcmd.rotate(layout, [], io.StringIO())
    assert layout.dynamic_cert_regenerate.exists()
    _restart(cluster)
    assert not layout.dynamic_cert_regenerate.exists()
    assert _serving_leaf(layout) != before
    assert (layout.tls_dir / "client-admin.crt").exists()
