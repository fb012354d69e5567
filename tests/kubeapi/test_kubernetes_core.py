"""kubernetes.core modules against the stand-in: a first run changes, a second changes nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from kubeapi_cluster import Cluster

PLAYBOOK = Path(__file__).with_name("playbooks") / "kubernetes_core.yml"


def _run_playbook(cluster: Cluster, workdir: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).with_name("ansible-playbook")
    if not binary.exists():
        pytest.skip("ansible-playbook is not installed next to this Python")
    env = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "ANSIBLE_PIPELINING": "1",
        "HOME": str(workdir),
    }
    extra = {
        "kubeapi_kubeconfig": str(cluster.kubeconfig()),
        "ansible_python_interpreter": sys.executable,
    }
    return subprocess.run(
        [str(binary), "-i", "localhost,", str(PLAYBOOK), "-e", json.dumps(extra)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _recap(output: str) -> dict[str, int]:
    match = re.search(r"localhost\s+:\s+(.*)", output)
    assert match, output
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def test_playbook_changes_then_is_idempotent(cluster: Cluster, tmp_path: Path) -> None:
    cluster.kubectl(
        "1.37",
        "apply",
        "-f",
        "-",
        stdin="apiVersion: v1\nkind: Secret\n"
        "metadata: {name: k3s-serving, namespace: kube-system}\n"
        "type: kubernetes.io/tls\ndata: {tls.crt: Y3J0, tls.key: a2V5}\n",
    )
    try:
        first = _run_playbook(cluster, tmp_path)
        assert first.returncode == 0, first.stdout + first.stderr
        recap = _recap(first.stdout)
        assert recap["failed"] == 0 and recap["changed"] == 6, first.stdout

        second = _run_playbook(cluster, tmp_path)
        assert second.returncode == 0, second.stdout + second.stderr
        assert _recap(second.stdout)["changed"] == 0, second.stdout

        deploy = json.loads(
            cluster.kubectl("1.37", "get", "deploy", "-n", "core", "registry", "-o", "json").stdout
        )
        assert deploy["spec"]["replicas"] == 2 and deploy["status"]["availableReplicas"] == 2
        node = json.loads(cluster.kubectl("1.37", "get", "node", "agent2", "-o", "json").stdout)
        assert node["spec"]["unschedulable"] is True
        on_agent2 = cluster.kubectl(
            "1.37", "get", "pods", "-A", "--field-selector", "spec.nodeName=agent2", "-o", "name"
        ).stdout
        assert on_agent2 == ""
        labels = cluster.kubectl(
            "1.37", "get", "ns", "core", "-o", "jsonpath={.metadata.labels.remedy}"
        ).stdout
        assert labels == "true"
        gone = cluster.kubectl(
            "1.37", "get", "secret", "-n", "kube-system", "k3s-serving", check=False
        )
        assert "NotFound" in gone.stderr
    finally:
        cluster.kubectl("1.37", "uncordon", "agent2")
        cluster.kubectl("1.37", "taint", "nodes", "server1", "CriticalAddonsOnly-", check=False)
