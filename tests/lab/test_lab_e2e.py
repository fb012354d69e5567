"""The incident lab end to end: one lab, real clients, then each breaker and its symptom.

The lab is brought up once for this module (about a minute) under the name prefix ``t-``
so that it never touches an operator's own lab. The tests run in file order: healthy
cluster first (clients), then breakers ordered so that one does not mask the next
(the apps move and the registry empties before the certificates expire; the disk fills
last), and finally the whole incident with ``lab status`` showing every symptom.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from labctl.layout import DEFAULT_IMAGE, paths_for
from labctl.podman import Podman, default_containers_conf

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "lab" / "lab"
PREFIX = os.environ.get("REMEDY_LAB_TEST_PREFIX", "t-")
IMAGE = os.environ.get("REMEDY_NODE_IMAGE", DEFAULT_IMAGE)
BIN = Path(sys.executable).parent
X509_EXPIRED = "x509: certificate has expired or is not yet valid"

pytestmark = [pytest.mark.podman, pytest.mark.lab]


def _tool(name: str) -> str:
    return str(BIN / name) if (BIN / name).exists() else (shutil.which(name) or name)


@dataclass
class LabHandle:
    podman: Podman
    kubeconfig: Path
    inventory: Path
    state_dir: Path

    def lab(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run([sys.executable, str(LAB), "--name-prefix", PREFIX, *args], check=check)

    def kubectl(
        self, *args: str, kubeconfig: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        config = kubeconfig or self.kubeconfig
        return _run([_tool("kubectl"), "--kubeconfig", str(config), *args], check=check)

    def kube_json(self, *args: str) -> dict[str, Any]:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def node_exec(self, node: str, *argv: str, check: bool = True) -> str:
        return self.podman.exec(f"{PREFIX}{node}", list(argv), check=check, timeout=300).stdout

    def status(self) -> dict[str, Any]:
        return json.loads(self.lab("status", "--json").stdout)

    def refresh_kubeconfig(self) -> None:
        """What the runbook does: copy the server's k3s.yaml and point it at the lab."""
        self.lab("kubeconfig", "--refresh")


def _run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def wait_until(what: str, probe: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(2)
    pytest.fail(f"gave up after {timeout:.0f}s waiting for {what}")


def _nodes(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in status["nodes"]}


@pytest.fixture(scope="module")
def lab() -> Any:
    podman = Podman(default_containers_conf(ROOT))
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (scripts/setup installs it)")
    if not podman.image_exists(IMAGE):
        pytest.skip(f"node image {IMAGE} is missing: run scripts/setup")
    paths = paths_for(ROOT, PREFIX)
    handle = LabHandle(podman, paths.kubeconfig, paths.inventory, paths.state_dir)
    up = handle.lab("up", "--image", IMAGE, check=False)
    if up.returncode != 0:
        handle.lab("down", check=False)
        pytest.fail(f"lab up failed:\n{up.stdout}\n{up.stderr}")
    print(up.stdout)  # the phase timings, shown with -s
    yield handle
    handle.lab("down", check=False)


# --- a healthy lab, real clients -------------------------------------------------------


def test_up_makes_every_node_ready(lab):
    nodes = lab.kube_json("get", "nodes")["items"]
    ready = {
        n["metadata"]["name"]: next(
            c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready"
        )
        for n in nodes
    }
    assert ready == {"server": "True", "agent1": "True", "agent2": "True"}


def test_inventory_reaches_every_node_over_podman(lab):
    out = _run(
        [_tool("ansible"), "-i", str(lab.inventory), "k3s_cluster", "-m", "ansible.builtin.command",
         "-a", "hostname", "-o"]
    ).stdout  # fmt: skip
    for node in ("server", "agent1", "agent2"):
        assert f"{node} | CHANGED | rc=0 | (stdout) {node}" in out


def test_kubectl_scales_and_restarts_a_deployment(lab):
    lab.kubectl("scale", "deployment/blog", "--replicas=3")
    lab.kubectl("rollout", "status", "deployment/blog", "--timeout=90s")
    assert lab.kube_json("get", "deployment", "blog")["status"]["readyReplicas"] == 3
    lab.kubectl("rollout", "restart", "deployment/blog")
    lab.kubectl("rollout", "status", "deployment/blog", "--timeout=90s")
    template = lab.kube_json("get", "deployment", "blog")["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    lab.kubectl("scale", "deployment/blog", "--replicas=1")
    lab.kubectl("rollout", "status", "deployment/blog", "--timeout=90s")


def test_kubectl_applies_taints_and_deletes(lab, tmp_path):
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lab-e2e\n  namespace: default\n"
        "data:\n  answer: '42'\n"
    )
    assert "created" in lab.kubectl("apply", "-f", str(manifest)).stdout
    assert "unchanged" in lab.kubectl("apply", "-f", str(manifest)).stdout
    lab.kubectl("taint", "nodes", "agent2", "lab-e2e=yes:NoSchedule")
    taints = lab.kube_json("get", "node", "agent2")["spec"]["taints"]
    assert {"key": "lab-e2e", "value": "yes", "effect": "NoSchedule"} in taints
    lab.kubectl("taint", "nodes", "agent2", "lab-e2e=yes:NoSchedule-")
    taints = lab.kube_json("get", "node", "agent2")["spec"].get("taints") or []
    assert all(t["key"] != "lab-e2e" for t in taints)
    lab.kubectl("delete", "-f", str(manifest))
    gone = lab.kubectl("get", "configmap", "lab-e2e", check=False)
    assert gone.returncode != 0
    assert "NotFound" in gone.stderr


PLAYBOOK = """
- name: Manage the lab with kubernetes.core
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Create a namespace
      kubernetes.core.k8s:
        kubeconfig: "{{ kubeconfig }}"
        api_version: v1
        kind: Namespace
        name: lab-e2e
    - name: Create a ConfigMap
      kubernetes.core.k8s:
        kubeconfig: "{{ kubeconfig }}"
        definition:
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: settings, namespace: lab-e2e}
          data: {mode: rehearsal}
    - name: Scale lighthouse to two replicas
      kubernetes.core.k8s_scale:
        kubeconfig: "{{ kubeconfig }}"
        api_version: apps/v1
        kind: Deployment
        name: lighthouse
        namespace: default
        replicas: 2
        wait_timeout: 90
    - name: Read the nodes
      kubernetes.core.k8s_info:
        kubeconfig: "{{ kubeconfig }}"
        kind: Node
      register: lab_nodes
    - name: Every node is listed
      ansible.builtin.assert:
        that: lab_nodes.resources | length == 3
"""


def test_kubernetes_core_playbook_is_idempotent(lab, tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    cmd = [_tool("ansible-playbook"), str(playbook), "-e", f"kubeconfig={lab.kubeconfig}"]
    first = _run(cmd).stdout
    second = _run(cmd).stdout
    assert "changed=3" in first
    assert "changed=0" in second
    assert "failed=0" in second


# --- breakers, one at a time ------------------------------------------------------------


def test_registry_lost_leaves_an_empty_catalog(lab):
    before = lab.status()["registry"]
    assert before["catalog"], "lab up pushes the apps' images into the registry"
    lab.lab("break", "registry-lost")
    after = lab.status()["registry"]
    assert after["catalog"] == []


def test_server_scheduling_puts_the_apps_on_the_server(lab):
    lab.lab("break", "server-scheduling")
    pods = lab.kube_json("get", "pods", "-A")["items"]
    apps = [p for p in pods if p["metadata"]["namespace"] == "default"]
    assert apps
    assert {p["spec"]["nodeName"] for p in apps} == {"server"}
    server = lab.kube_json("get", "node", "server")
    assert not server["spec"].get("taints")


def test_stale_kubeconfig_is_refused_as_unauthorized(lab):
    lab.lab("break", "kubeconfig-stale")
    refused = lab.kubectl("get", "nodes", check=False)
    assert refused.returncode != 0
    assert "Unauthorized" in refused.stderr
    journal = lab.node_exec("server", "journalctl", "-u", "k3s", "--no-pager", "-n", "200")
    assert "Unable to authenticate the request" in journal
    assert X509_EXPIRED in journal
    status = lab.status()
    attempts = status["api"]["attempts"]
    assert next(iter(attempts.values())) == "Unauthorized"
    assert status["api"]["used"], "status falls back to another identity"
    lab.refresh_kubeconfig()
    lab.kubectl("get", "nodes")


def test_clock_skew_makes_the_node_see_not_yet_valid_certs(lab):
    lab.lab("break", "clock-skew", "--skew-node", "agent2", "--skew-hours", "-8")

    def skew_logged() -> bool:
        journal = lab.node_exec("agent2", "journalctl", "-u", "k3s-agent", "--no-pager", "-n", "50")
        return X509_EXPIRED in journal and " is before " in journal

    wait_until("agent2's k3s to log the not-yet-valid x509 error", skew_logged, 60)
    assert _nodes(lab.status())["agent2"]["certs"]["expired"] > 0
    lab.node_exec("agent2", "k3s-lab", "heal", "clock-skew")
    wait_until("agent2 Ready again", lambda: _nodes(lab.status())["agent2"]["ready"] is True)


def _check_table(lab: LabHandle) -> str:
    # v1.31.4 (the lab's default) predates `--output json`: table is what it offers.
    return lab.node_exec("server", "k3s", "certificate", "check", "--output", "table")


def test_certs_expired_agents_go_not_ready_in_an_unauthorized_storm(lab):
    lab.lab("break", "certs-expired")
    assert "EXPIRED" in _check_table(lab)

    def agents_not_ready() -> bool:
        nodes = _nodes(lab.status())
        return nodes["agent1"]["ready"] is False and nodes["agent2"]["ready"] is False

    wait_until("the agents to go NotReady", agents_not_ready, 120)
    journal = lab.node_exec("agent1", "journalctl", "-u", "k3s-agent", "--no-pager", "-n", "300")
    assert "Unauthorized" in journal
    server_journal = lab.node_exec("server", "journalctl", "-u", "k3s", "--no-pager", "-n", "300")
    assert "Unable to authenticate the request" in server_journal
    assert X509_EXPIRED in server_journal
    assert _nodes(lab.status())["agent1"]["certs"]["expired"] > 0


def test_server_restart_inside_the_window_renews(lab):
    lab.node_exec("server", "systemctl", "restart", "k3s")
    # The server's own agent fetches its certificates just after the API is up.
    wait_until("every certificate renewed", lambda: "EXPIRED" not in _check_table(lab), 60)
    assert " OK " in _check_table(lab)


def test_rotate_backs_up_and_renews_then_agents_recover(lab):
    tls = "/var/lib/rancher/k3s/server/tls"
    before = lab.node_exec("server", "sha256sum", f"{tls}/client-admin.crt").split()[0]
    lab.node_exec("server", "systemctl", "stop", "k3s")
    lab.node_exec("server", "k3s", "certificate", "rotate")
    lab.node_exec("server", "systemctl", "start", "k3s")
    backups = lab.node_exec("server", "sh", "-c", "ls -d /var/lib/rancher/k3s/server/tls-*")
    assert backups.split()
    assert lab.node_exec("server", "test", "-f", f"{backups.split()[-1]}/client-admin.crt") == ""
    assert lab.node_exec("server", "sha256sum", f"{tls}/client-admin.crt").split()[0] != before
    for agent in ("agent1", "agent2"):
        # --no-block: the unit is Type=notify and only notifies once the agent has its certs.
        lab.node_exec(agent, "systemctl", "restart", "--no-block", "k3s-agent")
    lab.refresh_kubeconfig()

    def all_ready() -> bool:
        return all(n["ready"] for n in lab.status()["nodes"])

    wait_until("every node Ready again after the rotation", all_ready, 120)
    lab.kubectl("get", "nodes")


def test_serving_cert_expired_fails_client_verification(lab):
    lab.lab("break", "serving-cert-expired")
    failed = lab.kubectl("get", "nodes", check=False)
    assert failed.returncode != 0
    assert X509_EXPIRED in failed.stderr

    def agents_log_x509() -> bool:
        journal = lab.node_exec("agent1", "journalctl", "-u", "k3s-agent", "--no-pager", "-n", "50")
        return X509_EXPIRED in journal

    wait_until("agent1 to log the x509 error", agents_log_x509, 60)


def test_log_storm_fills_var_log(lab):
    lab.lab("break", "log-storm")
    for node in ("server", "agent1"):
        assert lab.node_exec(node, "df", "--output=pcent", "/var/log").split()[-1] == "100%"
        write = lab.podman.exec(
            f"{PREFIX}{node}",
            ["dd", "if=/dev/zero", "of=/var/log/lab-e2e-probe", "bs=4096", "count=1"],
            check=False,
        )
        assert write.returncode != 0
        assert "No space left on device" in write.stderr


# --- the whole incident -----------------------------------------------------------------


def test_incident_status_shows_every_symptom(lab):
    # The breakers above left the lab broken in their own ways: the incident starts afresh.
    lab.lab("up", "--image", IMAGE)
    lab.lab("break", "incident")

    def agents_not_ready() -> bool:
        nodes = _nodes(lab.status())
        return nodes["agent1"]["ready"] is False and nodes["agent2"]["ready"] is False

    wait_until("the agents to go NotReady", agents_not_ready, 120)
    status = lab.status()
    nodes = _nodes(status)
    assert all(n["certs"]["expired"] > 0 for n in nodes.values())
    assert all(n["var_log"]["percent"] == 100 for n in nodes.values())
    assert nodes["server"]["certs"]["serving"]["status"] == "EXPIRED"
    assert status["registry"]["catalog"] == []
    assert not {"blog", "lighthouse", "apiblaze"} & set(
        nodes["agent1"]["apps"] + nodes["agent2"]["apps"]
    )
    attempts = list(status["api"]["attempts"].values())
    assert attempts[0] != "ok"
    assert attempts[1] != "ok"
    screen = lab.lab("status").stdout
    assert "NotReady" in screen
    assert "EMPTY" in screen
