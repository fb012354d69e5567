"""Defaulting the apiserver (and its admission plugins) applies to objects it stores."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from typing import Any

Obj = dict[str, Any]
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"


def _container(container: Obj) -> None:
    image = container.get("image", "")
    tag = image.rsplit("/", 1)[-1]
    latest = ":" not in tag or tag.endswith(":latest")
    container.setdefault(
        "imagePullPolicy", "Always" if latest and "@" not in tag else "IfNotPresent"
    )
    container.setdefault("resources", {})
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")


def pod_spec(spec: Obj) -> None:
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        _container(container)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def pod(obj: Obj, eviction_seconds: float) -> None:
    spec = obj.setdefault("spec", {})
    pod_spec(spec)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    # The DefaultTolerationSeconds admission plugin: pods leave a lost node after a delay.
    tolerations = spec.setdefault("tolerations", [])
    for key in (NOT_READY, UNREACHABLE):
        if not any(
            t.get("key") == key or (not t.get("key") and t.get("operator") == "Exists")
            for t in tolerations
        ):
            tolerations.append(
                {
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": int(eviction_seconds),
                }
            )
    status = obj.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", "BestEffort")


def _template(spec: Obj) -> None:
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    pod_spec(template.setdefault("spec", {}))


def deployment(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(spec)
    obj.setdefault("status", {})


def replicaset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _template(spec)
    obj.setdefault("status", {"replicas": 0})


def daemonset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault(
        "updateStrategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
    )
    _template(spec)
    obj.setdefault(
        "status",
        {
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0,
        },
    )


def namespace(obj: Obj) -> None:
    name = obj["metadata"].get("name", "")
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")


def secret(obj: Obj) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    data = obj.setdefault("data", {}) if string_data else obj.get("data")
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()  # type: ignore[index]


def service(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec.get("clusterIP") != "None":
        ident = f"{obj['metadata'].get('namespace')}/{obj['metadata'].get('name')}"
        offset = int(hashlib.sha256(ident.encode()).hexdigest(), 16) % 65000 + 10
        spec.setdefault("clusterIP", str(ipaddress.IPv4Address("10.43.0.0") + offset))
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


def pvc(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    obj.setdefault("status", {}).setdefault("phase", "Pending")


def pv(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    obj.setdefault("status", {}).setdefault("phase", "Available")


def node(obj: Obj, now: str, git_version: str) -> None:
    """Fill a Node as a kubelet registers it (clients reject nodes with partial nodeInfo)."""
    meta = obj["metadata"]
    name = meta.get("name", "")
    labels = meta.setdefault("labels", {})
    for key, value in (
        ("kubernetes.io/hostname", name),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", "amd64"),
        ("node.kubernetes.io/instance-type", "k3s"),
    ):
        labels.setdefault(key, value)
    obj.setdefault("spec", {}).setdefault("podCIDR", "10.42.0.0/24")
    obj["spec"].setdefault("podCIDRs", [obj["spec"]["podCIDR"]])
    obj["spec"].setdefault("providerID", f"k3s://{name}")
    status = obj.setdefault("status", {})
    resources = {
        "cpu": "2",
        "ephemeral-storage": "20470152Ki",
        "hugepages-2Mi": "0",
        "memory": "4010000Ki",
        "pods": "110",
    }
    status.setdefault("capacity", dict(resources))
    status.setdefault("allocatable", dict(resources))
    status.setdefault(
        "addresses",
        [{"type": "InternalIP", "address": "10.0.0.10"}, {"type": "Hostname", "address": name}],
    )
    status.setdefault("daemonEndpoints", {"kubeletEndpoint": {"Port": 10250}})
    digest = hashlib.sha256(name.encode()).hexdigest()
    info = status.setdefault("nodeInfo", {})
    for key, value in (
        ("machineID", digest[:32]),
        ("systemUUID", digest[32:40] + "-0000-0000-0000-" + digest[40:52]),
        (
            "bootID",
            digest[:8]
            + "-"
            + digest[8:12]
            + "-"
            + digest[12:16]
            + "-"
            + digest[16:20]
            + "-"
            + digest[20:32],
        ),
        ("kernelVersion", "6.1.0-28-amd64"),
        ("osImage", "Debian GNU/Linux 12 (bookworm)"),
        ("containerRuntimeVersion", "containerd://1.7.23-k3s2"),
        ("kubeletVersion", git_version),
        ("kubeProxyVersion", git_version),
        ("operatingSystem", "linux"),
        ("architecture", "amd64"),
    ):
        info.setdefault(key, value)
    status.setdefault("images", [])
    conditions = status.setdefault("conditions", [])
    present = {c.get("type") for c in conditions}
    for ctype, reason, message in (
        ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "KubeletReady", "kubelet is posting ready status"),
    ):
        if ctype not in present:
            conditions.append(
                {
                    "type": ctype,
                    "status": "True" if ctype == "Ready" else "False",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                    "reason": reason,
                    "message": message,
                }
            )


def drop_empty(obj: Obj) -> None:
    """Go's ``omitempty``: empty maps and lists of these fields never appear in responses."""
    meta = obj.get("metadata") or {}
    for key in ("labels", "annotations", "finalizers", "ownerReferences", "managedFields"):
        if key in meta and not meta[key]:
            del meta[key]
    for key in ("data", "binaryData", "stringData"):
        if key in obj and not obj[key]:
            del obj[key]
    spec = obj.get("spec")
    if isinstance(spec, dict) and "taints" in spec and not spec["taints"]:
        del spec["taints"]


def apply(kind: str, obj: Obj, *, now: str, git_version: str, eviction_seconds: float) -> None:
    """Default ``obj`` in place according to its kind."""
    drop_empty(obj)
    appliers = {
        "Deployment": deployment,
        "ReplicaSet": replicaset,
        "DaemonSet": daemonset,
        "Namespace": namespace,
        "Secret": secret,
        "Service": service,
        "PersistentVolumeClaim": pvc,
        "PersistentVolume": pv,
    }
    if kind == "Pod":
        pod(obj, eviction_seconds)
    elif kind == "Node":
        node(obj, now, git_version)
    elif kind in appliers:
        appliers[kind](obj)
