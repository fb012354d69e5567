"""k3s's local-path provisioner, and the volume rules the scheduler and kubelets follow.

A claim of a WaitForFirstConsumer class (k3s's default ``local-path``) is provisioned when
its first pod is scheduled: the PersistentVolume is a host path on that node and carries a
node affinity, so every later pod of the claim must run on the same node.
"""

from __future__ import annotations

from typing import Any

from .selectors import match_expression
from .store import Store

Obj = dict[str, Any]
LOCAL_PATH = "rancher.io/local-path"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
STORAGE_ROOT = "/var/lib/rancher/k3s/storage"

LOCAL_PATH_CLASS: Obj = {
    "metadata": {
        "name": "local-path",
        "annotations": {DEFAULT_CLASS: "true"},
        "labels": {"objectset.rio.cattle.io/hash": "183f35c65ffbc3064603f43f1580d8c68a2dabd4"},
    },
    "provisioner": LOCAL_PATH,
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "WaitForFirstConsumer",
}


def claims(pod: Obj) -> list[str]:
    return [
        v["persistentVolumeClaim"]["claimName"]
        for v in pod["spec"].get("volumes") or []
        if isinstance(v.get("persistentVolumeClaim"), dict)
    ]


def _class_of(store: Store, pvc: Obj) -> Obj | None:
    name = pvc["spec"].get("storageClassName")
    classes = store.list("storageclasses")
    if name:
        return next((c for c in classes if c["metadata"]["name"] == name), None)
    return next(
        (
            c
            for c in classes
            if (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true"
        ),
        None,
    )


def node_allowed(store: Store, pod: Obj, node: Obj) -> bool:
    """False when a claim is missing, or bound to a volume pinned to another node."""
    namespace = pod["metadata"]["namespace"]
    labels = node["metadata"].get("labels") or {}
    fields = {"metadata.name": node["metadata"]["name"]}
    for name in claims(pod):
        pvc = store.find("persistentvolumeclaims", namespace, name)
        if pvc is None:
            return False
        volume = pvc["spec"].get("volumeName")
        pv = store.find("persistentvolumes", "", volume) if volume else None
        if pv is None:
            continue
        required = ((pv["spec"].get("nodeAffinity") or {}).get("required") or {}).get(
            "nodeSelectorTerms"
        ) or []
        if required and not any(
            all(match_expression(e, labels) for e in term.get("matchExpressions") or [])
            and all(match_expression(e, fields) for e in term.get("matchFields") or [])
            for term in required
        ):
            return False
    return True


def volumes_ready(store: Store, pod: Obj) -> bool:
    namespace = pod["metadata"]["namespace"]
    for name in claims(pod):
        pvc = store.find("persistentvolumeclaims", namespace, name)
        if pvc is None or (pvc.get("status") or {}).get("phase") != "Bound":
            return False
    return True


def provision(store: Store, pod: Obj) -> None:
    """Provision and bind the pod's pending local-path claims on the pod's node."""
    node = pod["spec"].get("nodeName")
    namespace = pod["metadata"]["namespace"]
    for name in claims(pod):
        pvc = store.find("persistentvolumeclaims", namespace, name)
        if pvc is None or pvc["spec"].get("volumeName") or not node:
            continue
        storage_class = _class_of(store, pvc)
        if storage_class is None or storage_class.get("provisioner") != LOCAL_PATH:
            continue
        _bind(store, pvc, storage_class, node)


def _bind(store: Store, pvc: Obj, storage_class: Obj, node: str) -> None:
    meta = pvc["metadata"]
    pv_name = f"pvc-{meta['uid']}"
    size = ((pvc["spec"].get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    modes = pvc["spec"].get("accessModes") or ["ReadWriteOnce"]
    store.create(
        "persistentvolumes",
        {
            "metadata": {
                "name": pv_name,
                "annotations": {
                    "local.path.provisioner/selected-node": node,
                    "pv.kubernetes.io/provisioned-by": LOCAL_PATH,
                },
            },
            "spec": {
                "accessModes": modes,
                "capacity": {"storage": size},
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta["uid"],
                },
                "hostPath": {
                    "path": f"{STORAGE_ROOT}/{pv_name}_{meta['namespace']}_{meta['name']}",
                    "type": "DirectoryOrCreate",
                },
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "kubernetes.io/hostname",
                                        "operator": "In",
                                        "values": [node],
                                    }
                                ]
                            }
                        ]
                    }
                },
                "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy", "Delete"),
                "storageClassName": storage_class["metadata"]["name"],
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Bound"},
        },
    )
    pvc["spec"]["volumeName"] = pv_name
    pvc["spec"].setdefault("storageClassName", storage_class["metadata"]["name"])
    pvc["metadata"].setdefault("annotations", {}).update(
        {
            "pv.kubernetes.io/bind-completed": "yes",
            "pv.kubernetes.io/bound-by-controller": "yes",
            "volume.beta.kubernetes.io/storage-provisioner": LOCAL_PATH,
            "volume.kubernetes.io/selected-node": node,
            "volume.kubernetes.io/storage-provisioner": LOCAL_PATH,
        }
    )
    pvc["status"] = {"phase": "Bound", "accessModes": modes, "capacity": {"storage": size}}
    store.update("persistentvolumeclaims", pvc)


def reclaim(store: Store) -> None:
    """Volumes whose claim is gone: deleted (policy Delete) or Released (Retain)."""
    for pv in store.list("persistentvolumes"):
        ref = pv["spec"].get("claimRef")
        if not ref or (pv.get("status") or {}).get("phase") == "Released":
            continue
        pvc = store.find("persistentvolumeclaims", ref.get("namespace", ""), ref.get("name", ""))
        if pvc is not None and pvc["metadata"]["uid"] == ref.get("uid"):
            continue
        if pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
            store.delete("persistentvolumes", "", pv["metadata"]["name"])
        else:
            pv["status"] = {"phase": "Released"}
            store.update("persistentvolumes", pv)
