"""The typed ``kubernetes`` Python client (what kubernetes.core builds on) accepts every object.

Its models reject objects that lack required fields (a Node without complete nodeInfo, a
container status without imageID, ...), so reading each kind proves the objects are complete.
"""

from __future__ import annotations

import pytest
from kubeapi_cluster import DEPLOYMENT, Cluster

kubernetes = pytest.importorskip("kubernetes")


def test_typed_client_reads_every_kind(cluster: Cluster) -> None:
    cluster.kubectl(
        "1.37", "apply", "-f", "-", stdin=DEPLOYMENT.format(name="typed", ns="default", replicas=2)
    )
    cluster.kubectl("1.37", "rollout", "status", "deploy/typed", "--timeout=30s")
    api_client = kubernetes.config.new_client_from_config(str(cluster.kubeconfig()))
    core = kubernetes.client.CoreV1Api(api_client)
    apps = kubernetes.client.AppsV1Api(api_client)
    coordination = kubernetes.client.CoordinationV1Api(api_client)

    nodes = core.list_node().items
    assert {n.metadata.name for n in nodes} >= {"server1", "agent1", "agent2"}
    assert all(n.status.node_info.kubelet_version == "v1.31.4+k3s1" for n in nodes)
    pods = core.list_pod_for_all_namespaces(label_selector="app=typed").items
    assert len(pods) == 2 and all(p.status.container_statuses[0].ready for p in pods)
    deploy = apps.read_namespaced_deployment("typed", "default")
    assert deploy.status.available_replicas == 2
    assert {c.type for c in deploy.status.conditions} == {"Available", "Progressing"}
    assert (
        apps.list_namespaced_replica_set("default", label_selector="app=typed")
        .items[0]
        .status.ready_replicas
        == 2
    )
    assert core.list_namespaced_event("default").items
    assert (
        coordination.read_namespaced_lease("agent1", "kube-node-lease").spec.holder_identity
        == "agent1"
    )
    assert core.read_namespaced_service("kubernetes", "default").spec.cluster_ip == "10.43.0.1"
    assert core.read_namespaced_service_account("default", "default").metadata.name == "default"
    scale = apps.patch_namespaced_deployment_scale("typed", "default", {"spec": {"replicas": 1}})
    assert scale.spec.replicas == 1 and scale.status.selector == "app=typed"
    with pytest.raises(kubernetes.client.ApiException) as missing:
        core.read_namespaced_secret("nope", "default")
    assert missing.value.status == 404
