"""k3s's local-path volumes: provisioned on the first pod's node, and pinning later pods there."""

from __future__ import annotations

import json

from kubeapi_cluster import Cluster, wait_for

REGISTRY = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: registry-data, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 2Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: registry, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: registry}}
  template:
    metadata: {labels: {app: registry}}
    spec:
      containers:
      - name: registry
        image: registry:2
        volumeMounts: [{name: data, mountPath: /var/lib/registry}]
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: registry-data}
"""


def _get(cluster: Cluster, *args: str) -> dict:
    return json.loads(cluster.kubectl("1.37", "get", *args, "-o", "json").stdout)


def test_local_path_claim_binds_on_first_use_and_pins_the_pod(cluster: Cluster) -> None:
    classes = _get(cluster, "storageclass", "local-path")
    assert classes["volumeBindingMode"] == "WaitForFirstConsumer"
    cluster.kubectl("1.37", "apply", "-f", "-", stdin=REGISTRY)
    cluster.kubectl("1.37", "rollout", "status", "deploy/registry", "--timeout=30s")
    pvc = _get(cluster, "pvc", "registry-data")
    assert pvc["status"]["phase"] == "Bound" and pvc["spec"]["storageClassName"] == "local-path"
    pod = _get(cluster, "pods", "-l", "app=registry")["items"][0]
    node = pod["spec"]["nodeName"]
    pv = _get(cluster, "pv", pvc["spec"]["volumeName"])
    assert pv["spec"]["hostPath"]["path"].startswith("/var/lib/rancher/k3s/storage/pvc-")
    terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == [node]

    cluster.kubectl("1.37", "rollout", "restart", "deploy/registry")
    cluster.kubectl("1.37", "rollout", "status", "deploy/registry", "--timeout=30s")
    for _ in range(3):
        cluster.kubectl("1.37", "delete", "pods", "-l", "app=registry")
        cluster.kubectl("1.37", "rollout", "status", "deploy/registry", "--timeout=30s")

    def placed() -> set[str] | None:
        pods = _get(cluster, "pods", "-l", "app=registry")["items"]
        running = [p for p in pods if p["status"].get("phase") == "Running"]
        return {p["spec"]["nodeName"] for p in running} if len(running) == len(pods) == 1 else None

    assert wait_for(placed, "the recreated registry pod to run") == {node}

    cluster.kubectl("1.37", "delete", "deploy/registry", "pvc/registry-data")
    assert wait_for(
        lambda: (
            "NotFound"
            in cluster.kubectl("1.37", "get", "pv", pv["metadata"]["name"], check=False).stderr
        ),
        "the reclaim policy Delete to remove the volume",
    )
