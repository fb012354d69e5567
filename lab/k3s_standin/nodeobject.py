"""The Node object a k3s kubelet registers: k3s's labels, annotations and complete nodeInfo.

The ``kubernetes`` Python client rejects Nodes with partial ``nodeInfo``, so every field is
filled. Values a container cannot know for real (containerd version, capacity) are the
ones a small k3s node on Debian 12 reports; they are lab constants.
"""

from __future__ import annotations

import json
import os
import platform
import uuid
from typing import Any

Obj = dict[str, Any]
CONTAINERD = "containerd://1.7.23-k3s2"


def _read(path: str, default: str) -> str:
    try:
        with open(path) as handle:
            return handle.read().strip() or default
    except OSError:
        return default


def _os_image() -> str:
    for line in _read("/etc/os-release", "").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Debian GNU/Linux 12 (bookworm)"


def labels(name: str, role: str, extra: tuple[str, ...]) -> dict[str, str]:
    result = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": "k3s",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "k3s",
    }
    if role == "server":
        result["node-role.kubernetes.io/control-plane"] = "true"
        result["node-role.kubernetes.io/master"] = "true"
    for item in extra:
        key, _, value = item.partition("=")
        result[key] = value
    return result


def taints(specs: tuple[str, ...]) -> list[Obj]:
    """``--node-taint key=value:Effect`` as k3s parses it."""
    result = []
    for spec in specs:
        head, _, effect = spec.rpartition(":")
        key, _, value = head.partition("=")
        taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        result.append(taint)
    return result


def node(
    name: str,
    *,
    role: str,
    ips: tuple[str, ...],
    version: str,
    pod_cidr: str,
    node_args: list[str],
    extra_labels: tuple[str, ...] = (),
    node_taints: tuple[str, ...] = (),
) -> Obj:
    machine_id = _read("/etc/machine-id", uuid.uuid4().hex)
    ip = ips[0] if ips else "127.0.0.1"
    capacity = {
        "cpu": str(os.cpu_count() or 2),
        "ephemeral-storage": "61202244Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "4025700Ki",
        "pods": "110",
    }
    allocatable = dict(capacity, **{"ephemeral-storage": "59537437850"})
    spec: Obj = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr], "providerID": f"k3s://{name}"}
    if node_taints:
        spec["taints"] = taints(node_taints)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels(name, role, extra_labels),
            "annotations": {
                "alpha.kubernetes.io/provided-node-ip": ip,
                "flannel.alpha.coreos.com/backend-data": '{"VNI":1,"VtepMAC":"5a:1c:00:00:00:01"}',
                "flannel.alpha.coreos.com/backend-type": "vxlan",
                "flannel.alpha.coreos.com/kube-subnet-manager": "true",
                "flannel.alpha.coreos.com/public-ip": ip,
                "k3s.io/hostname": name,
                "k3s.io/internal-ip": ip,
                "k3s.io/node-args": json.dumps(node_args, separators=(",", ":")),
                "k3s.io/node-config-hash": uuid.uuid5(uuid.NAMESPACE_DNS, name).hex[:52].upper(),
                "k3s.io/node-env": "{}",
                # Tells the API stand-in a real (stand-in) kubelet heartbeats this Node.
                "kubeapi.lab/kubelet": "external",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": spec,
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": ip},
                {"type": "Hostname", "address": name},
            ],
            "allocatable": allocatable,
            "capacity": capacity,
            "conditions": [],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": [],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": _read("/proc/sys/kernel/random/boot_id", str(uuid.uuid4())),
                "containerRuntimeVersion": CONTAINERD,
                "kernelVersion": platform.release(),
                "kubeProxyVersion": version,
                "kubeletVersion": version,
                "machineID": machine_id,
                "operatingSystem": "linux",
                "osImage": _os_image(),
                "systemUUID": str(uuid.UUID(machine_id)) if len(machine_id) == 32 else machine_id,
            },
        },
    }


def conditions(now: str, since: str) -> list[Obj]:
    """The kubelet's four pressure conditions plus Ready, as it reports them when healthy."""

    def one(kind: str, status: str, reason: str, message: str) -> Obj:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": since,
        }

    return [
        one(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        one("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        one(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        one("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]


def lease(name: str, holder_uid: str, now_micro: str) -> Obj:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": "kube-node-lease",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": name, "uid": holder_uid}
            ],
        },
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now_micro},
    }
