"""Real kubectl (1.32 and 1.37) against the stand-in over TLS with embedded client certs."""

from __future__ import annotations

import json

import pytest
from kubeapi_cluster import DEPLOYMENT, Cluster, wait_for

VERSIONS = ["1.32", "1.37"]


@pytest.fixture(scope="module", params=VERSIONS)
def kubectl_env(request: pytest.FixtureRequest, cluster: Cluster) -> tuple[Cluster, str, str]:
    """One namespace per kubectl version, so both run the same scenario side by side."""
    version = request.param
    ns = "kc" + version.replace(".", "")
    cluster.kubectl(
        version,
        "apply",
        "-f",
        "-",
        stdin=f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n",
    )
    return cluster, version, ns


def test_version_and_nodes(kubectl_env: tuple[Cluster, str, str]) -> None:
    cluster, version, _ = kubectl_env
    out = cluster.kubectl(version, "version", "-o", "json").stdout
    assert json.loads(out)["serverVersion"]["gitVersion"] == "v1.31.4+k3s1"
    table = cluster.kubectl(version, "get", "nodes").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows["server1"][1] == "Ready"
    assert rows["server1"][2] == "control-plane,master"
    ready = cluster.kubectl(
        version,
        "get",
        "node",
        "agent1",
        "-o",
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ).stdout
    assert ready == "True"


def test_apply_created_unchanged_configured(kubectl_env: tuple[Cluster, str, str]) -> None:
    cluster, version, ns = kubectl_env
    manifest = DEPLOYMENT.format(name="web", ns=ns, replicas=2)
    assert (
        cluster.kubectl(version, "apply", "-f", "-", stdin=manifest).stdout.strip()
        == "deployment.apps/web created"
    )
    assert (
        cluster.kubectl(version, "apply", "-f", "-", stdin=manifest).stdout.strip()
        == "deployment.apps/web unchanged"
    )
    cluster.kubectl(version, "rollout", "status", f"-n={ns}", "deploy/web", "--timeout=30s")
    changed = manifest.replace("image: registry.local/web:1.0", "image: registry.local/web:1.1")
    assert (
        cluster.kubectl(version, "apply", "-f", "-", stdin=changed).stdout.strip()
        == "deployment.apps/web configured"
    )
    out = cluster.kubectl(
        version, "rollout", "status", f"-n={ns}", "deploy/web", "--timeout=30s"
    ).stdout
    assert 'deployment "web" successfully rolled out' in out
    images = cluster.kubectl(
        version,
        "get",
        "pods",
        f"-n={ns}",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[*].spec.containers[0].image}",
    ).stdout.split()
    assert images == ["registry.local/web:1.1"] * 2


def test_apply_rejects_unknown_fields(kubectl_env: tuple[Cluster, str, str]) -> None:
    cluster, version, ns = kubectl_env
    bad = DEPLOYMENT.format(name="typo", ns=ns, replicas=1).replace("  replicas: 1", "  replica: 1")
    result = cluster.kubectl(version, "apply", "-f", "-", stdin=bad, check=False)
    assert result.returncode != 0
    assert 'strict decoding error: unknown field "spec.replica"' in result.stderr


def test_scale_and_rollout_restart(kubectl_env: tuple[Cluster, str, str]) -> None:
    cluster, version, ns = kubectl_env
    cluster.kubectl(
        version, "apply", "-f", "-", stdin=DEPLOYMENT.format(name="api", ns=ns, replicas=1)
    )
    assert (
        "scaled"
        in cluster.kubectl(version, "scale", f"-n={ns}", "deploy/api", "--replicas=3").stdout
    )
    cluster.kubectl(version, "rollout", "status", f"-n={ns}", "deploy/api", "--timeout=30s")
    before = set(
        cluster.kubectl(
            version, "get", "pods", f"-n={ns}", "-l", "app=api", "-o", "name"
        ).stdout.split()
    )
    assert len(before) == 3
    assert (
        "restarted"
        in cluster.kubectl(version, "rollout", "restart", f"-n={ns}", "deploy/api").stdout
    )
    cluster.kubectl(version, "rollout", "status", f"-n={ns}", "deploy/api", "--timeout=30s")

    def replaced() -> set[str] | None:
        names = set(
            cluster.kubectl(
                version, "get", "pods", f"-n={ns}", "-l", "app=api", "-o", "name"
            ).stdout.split()
        )
        return names if len(names) == 3 and not names & before else None

    assert wait_for(replaced, "the restarted pods to replace the old ones")
    cluster.kubectl(
        version, "wait", f"-n={ns}", "--for=condition=Available", "deploy/api", "--timeout=30s"
    )


def test_get_with_selectors_and_events(kubectl_env: tuple[Cluster, str, str]) -> None:
    cluster, version, ns = kubectl_env
    app = f"sel-{ns}"
    cluster.kubectl(
        version, "apply", "-f", "-", stdin=DEPLOYMENT.format(name=app, ns=ns, replicas=1)
    )
    cluster.kubectl(version, "rollout", "status", f"-n={ns}", f"deploy/{app}", "--timeout=30s")
    out = cluster.kubectl(version, "get", "pods", "-A", "-l", f"app={app}").stdout.splitlines()
    assert out[0].split()[:3] == ["NAMESPACE", "NAME", "READY"]
    assert len(out) == 2 and out[1].split()[0] == ns and "Running" in out[1]
    on_nodes = cluster.kubectl(
        version,
        "get",
        "pods",
        "-A",
        "--field-selector",
        "spec.nodeName=server1,status.phase=Running",
        "-o",
        "jsonpath={.items[*].spec.nodeName}",
    ).stdout.split()
    assert set(on_nodes) <= {"server1"}
    events = cluster.kubectl(
        version,
        "get",
        "events",
        f"-n={ns}",
        "--field-selector",
        "reason=Scheduled,involvedObject.kind=Pod",
    ).stdout
    assert "Successfully assigned" in events
    assert "ScalingReplicaSet" not in events


def test_cordon_taint_uncordon(kubectl_env: tuple[Cluster, str, str]) -> None:
    cluster, version, _ = kubectl_env
    node = "agent1" if version == "1.32" else "agent2"
    assert "cordoned" in cluster.kubectl(version, "cordon", node).stdout
    status = cluster.kubectl(version, "get", "node", node, "--no-headers").stdout.split()[1]
    assert status == "Ready,SchedulingDisabled"
    cluster.kubectl(version, "uncordon", node)
    assert (
        cluster.kubectl(version, "get", "node", node, "-o", "jsonpath={.spec.unschedulable}").stdout
        == ""
    )
    cluster.kubectl(version, "taint", "nodes", node, "dedicated=lab:NoSchedule")
    taints = json.loads(
        cluster.kubectl(version, "get", "node", node, "-o", "jsonpath={.spec.taints}").stdout
    )
    assert {"key": "dedicated", "value": "lab", "effect": "NoSchedule"} in taints
    cluster.kubectl(version, "taint", "nodes", node, "dedicated=lab:NoSchedule-")
    assert (
        "dedicated"
        not in cluster.kubectl(version, "get", "node", node, "-o", "jsonpath={.spec.taints}").stdout
    )


def test_delete_secret_twice(kubectl_env: tuple[Cluster, str, str]) -> None:
    cluster, version, ns = kubectl_env
    secret = (
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s1, namespace: {ns}}}\n"
        "stringData: {k: v}\n"
    )
    cluster.kubectl(version, "apply", "-f", "-", stdin=secret)
    assert (
        cluster.kubectl(
            version, "get", "secret", f"-n={ns}", "s1", "-o", "jsonpath={.data.k}"
        ).stdout
        == "dg=="
    )
    first = cluster.kubectl(version, "delete", "secret", f"-n={ns}", "s1")
    assert first.stdout.startswith('secret "s1" deleted')
    second = cluster.kubectl(version, "delete", "secret", f"-n={ns}", "s1", check=False)
    assert second.returncode == 1
    assert 'Error from server (NotFound): secrets "s1" not found' in second.stderr


def test_imperative_create_sends_protobuf_and_is_refused(
    kubectl_env: tuple[Cluster, str, str],
) -> None:
    cluster, version, ns = kubectl_env
    result = cluster.kubectl(
        version, "create", "configmap", f"-n={ns}", "pb", "--from-literal=a=b", check=False
    )
    assert result.returncode != 0
    assert "the body of the request was in an unknown format" in result.stderr


def test_server_side_apply_and_diff(kubectl_env: tuple[Cluster, str, str]) -> None:
    cluster, version, ns = kubectl_env
    cm = (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: ssa, namespace: {ns}}}\n"
        "data: {a: '1'}\n"
    )
    assert (
        "serverside-applied"
        in cluster.kubectl(version, "apply", "--server-side", "-f", "-", stdin=cm).stdout
    )
    assert cluster.kubectl(version, "diff", "-f", "-", stdin=cm, check=False).returncode == 0
    changed = cm.replace("a: '1'", "a: '2'")
    diff = cluster.kubectl(version, "diff", "-f", "-", stdin=changed, check=False)
    assert diff.returncode == 1
    assert '-  a: "1"' in diff.stdout and '+  a: "2"' in diff.stdout
    assert (
        cluster.kubectl(version, "get", "cm", f"-n={ns}", "ssa", "-o", "jsonpath={.data.a}").stdout
        == "1"
    )
    cluster.kubectl(version, "apply", "--server-side", "-f", "-", stdin=changed)
    assert (
        cluster.kubectl(version, "get", "cm", f"-n={ns}", "ssa", "-o", "jsonpath={.data.a}").stdout
        == "2"
    )


def test_drain_moves_pods(kubectl_env: tuple[Cluster, str, str]) -> None:
    cluster, version, ns = kubectl_env
    node = "agent1" if version == "1.32" else "agent2"
    cluster.kubectl(
        version, "apply", "-f", "-", stdin=DEPLOYMENT.format(name="drainme", ns=ns, replicas=4)
    )
    cluster.kubectl(version, "rollout", "status", f"-n={ns}", "deploy/drainme", "--timeout=30s")
    out = cluster.kubectl(
        version, "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s"
    )
    assert f"node/{node} drained" in out.stdout
    try:
        cluster.kubectl(version, "rollout", "status", f"-n={ns}", "deploy/drainme", "--timeout=30s")
        nodes = cluster.kubectl(
            version,
            "get",
            "pods",
            f"-n={ns}",
            "-l",
            "app=drainme",
            "-o",
            "jsonpath={.items[*].spec.nodeName}",
        ).stdout.split()
        assert len(nodes) == 4 and node not in nodes
    finally:
        cluster.kubectl(version, "uncordon", node)


def test_logs_and_watch_table(kubectl_env: tuple[Cluster, str, str]) -> None:
    cluster, version, ns = kubectl_env
    app = f"logs-{ns}"
    cluster.kubectl(
        version, "apply", "-f", "-", stdin=DEPLOYMENT.format(name=app, ns=ns, replicas=1)
    )
    cluster.kubectl(version, "rollout", "status", f"-n={ns}", f"deploy/{app}", "--timeout=30s")
    logs = cluster.kubectl(version, "logs", f"-n={ns}", f"deploy/{app}").stdout
    assert "web running on" in logs
    watch = cluster.popen_kubectl(version, "get", "configmaps", f"-n={ns}", "-w")
    try:
        assert watch.stdout is not None
        header = watch.stdout.readline().split()
        assert header[:2] == ["NAME", "DATA"]
        cm = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: watched, namespace: {ns}}}\n"
        cluster.kubectl(version, "apply", "-f", "-", stdin=cm)
        rows = [watch.stdout.readline().split()[0] for _ in range(2)]
        assert "watched" in rows
    finally:
        watch.kill()
        watch.wait()
