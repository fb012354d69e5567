"""Node-side controllers: simulated kubelets, node lifecycle (NotReady, unreachable taints,
eviction), the scheduler and local-path provisioning."""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime
from typing import Any

from . import volumes
from .clock import parse_rfc3339, rfc3339
from .controllerbase import ControllerBase
from .defaults import UNREACHABLE
from .objects import (
    condition,
    digest,
    ident,
    micro_time,
    node_ready,
    pod_ready,
    set_condition,
    set_pod_condition,
    tolerates,
)
from .selectors import match_expression

Obj = dict[str, Any]
EXTERNAL_KUBELET = "kubeapi.lab/kubelet"


class NodeControllers(ControllerBase):
    # -- kubelets ------------------------------------------------------------------------
    def _simulated(self, node: Obj) -> bool:
        external = (node["metadata"].get("annotations") or {}).get(EXTERNAL_KUBELET) == "external"
        return not external and not self.lab.heartbeat_stopped(node["metadata"]["name"])

    def _kubelets(self, now: datetime) -> None:
        for node in self.store.list("nodes"):
            if self._simulated(node):
                self._heartbeat(node, now)

    def _heartbeat(self, node: Obj, now: datetime) -> None:
        name = node["metadata"]["name"]
        lease = self.store.find("leases", "kube-node-lease", name)
        renew = micro_time(now)
        if lease is None:
            if self.store.find("namespaces", "", "kube-node-lease") is None:
                return
            self.store.create(
                "leases",
                {
                    "metadata": {
                        "name": name,
                        "namespace": "kube-node-lease",
                        "ownerReferences": [
                            {
                                "apiVersion": "v1",
                                "kind": "Node",
                                "name": name,
                                "uid": node["metadata"]["uid"],
                            }
                        ],
                    },
                    "spec": {
                        "holderIdentity": name,
                        "leaseDurationSeconds": 40,
                        "renewTime": renew,
                    },
                },
            )
        elif (
            now - parse_rfc3339(lease["spec"].get("renewTime") or "1970-01-01T00:00:00Z")
        ).total_seconds() >= self.settings.heartbeat_seconds:
            lease["spec"]["renewTime"] = renew
            self.store.update("leases", lease)
        if not node_ready(node):
            stamp = rfc3339(now)
            conds = node["status"].setdefault("conditions", [])
            for ctype, reason, message in (
                (
                    "MemoryPressure",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                ("Ready", "KubeletReady", "kubelet is posting ready status"),
            ):
                set_condition(
                    conds, ctype, "True" if ctype == "Ready" else "False", reason, message, stamp
                )
            for cond in conds:
                cond.pop("lastUpdateTime", None)
                cond["lastHeartbeatTime"] = stamp
            self.store.update("nodes", node)
            self.event(node, "NodeReady", f"Node {name} status is now: NodeReady", "kubelet")

    def _last_heartbeat(self, node: Obj) -> datetime | None:
        stamps = []
        lease = self.store.find("leases", "kube-node-lease", node["metadata"]["name"])
        if lease and lease["spec"].get("renewTime"):
            stamps.append(parse_rfc3339(lease["spec"]["renewTime"]))
        ready = condition(node, "Ready")
        if ready and ready.get("lastHeartbeatTime"):
            stamps.append(parse_rfc3339(ready["lastHeartbeatTime"]))
        return max(stamps) if stamps else None

    # -- node lifecycle ------------------------------------------------------------------
    def _stale(self, node: Obj, now: datetime) -> bool:
        last = self._last_heartbeat(node)
        return last is not None and (now - last).total_seconds() > self.settings.node_grace_seconds

    def _node_lifecycle(self, now: datetime) -> None:
        nodes = self.store.list("nodes")
        # The node lifecycle controller's full disruption: when no node of the (single)
        # zone is Ready it blames its own connectivity and evicts nothing.
        full_disruption = bool(nodes) and not any(
            node_ready(n) and not self._stale(n, now) for n in nodes
        )
        for node in nodes:
            stale = self._stale(node, now)
            taints = node["spec"].get("taints") or []
            ready = condition(node, "Ready")
            if stale and ready is not None and ready.get("status") != "Unknown":
                self._mark_unknown(node, now)
                continue
            has_taint = any(t.get("key") == UNREACHABLE for t in taints)
            if not stale and node_ready(node) and has_taint:
                node["spec"]["taints"] = [t for t in taints if t.get("key") != UNREACHABLE]
                if not node["spec"]["taints"]:
                    node["spec"].pop("taints")
                self.store.update("nodes", node)
            elif stale and not has_taint:
                self._taint_unreachable(node, now)
            if stale and not full_disruption:
                self._evict_from(node, now)

    def _mark_unknown(self, node: Obj, now: datetime) -> None:
        stamp = rfc3339(now)
        for cond in node["status"].get("conditions") or []:
            cond.update(
                status="Unknown",
                reason="NodeStatusUnknown",
                message="Kubelet stopped posting node status.",
                lastTransitionTime=stamp,
            )
        self._add_unreachable_taints(node, now)
        self.store.update("nodes", node)
        name = node["metadata"]["name"]
        self.event(
            node, "NodeNotReady", f"Node {name} status is now: NodeNotReady", "node-controller"
        )
        for pod in self.store.list("pods"):
            if pod["spec"].get("nodeName") == name and pod_ready(pod):
                for cond in pod["status"].get("conditions") or []:
                    if cond.get("type") in ("Ready", "ContainersReady"):
                        cond.update(status="False", lastTransitionTime=stamp)
                self.store.update("pods", pod)

    def _add_unreachable_taints(self, node: Obj, now: datetime) -> None:
        taints = node["spec"].setdefault("taints", [])
        for effect in ("NoSchedule", "NoExecute"):
            if not any(t.get("key") == UNREACHABLE and t.get("effect") == effect for t in taints):
                taint: Obj = {"key": UNREACHABLE, "effect": effect}
                if effect == "NoExecute":
                    taint["timeAdded"] = rfc3339(now)
                taints.append(taint)

    def _taint_unreachable(self, node: Obj, now: datetime) -> None:
        self._add_unreachable_taints(node, now)
        self.store.update("nodes", node)

    def _evict_from(self, node: Obj, now: datetime) -> None:
        taint = next(
            (
                t
                for t in node["spec"].get("taints") or []
                if t.get("key") == UNREACHABLE and t.get("effect") == "NoExecute"
            ),
            None,
        )
        if taint is None:
            return
        added = parse_rfc3339(taint.get("timeAdded") or rfc3339(now))
        for pod in self.store.list("pods"):
            if pod["spec"].get("nodeName") != node["metadata"]["name"] or pod["metadata"].get(
                "deletionTimestamp"
            ):
                continue
            tol = tolerates(pod["spec"].get("tolerations") or [], taint)
            if tol is not None and tol.get("tolerationSeconds") is None:
                continue
            wait = 0 if tol is None else int(tol["tolerationSeconds"])
            if (now - added).total_seconds() >= wait:
                self.event(
                    pod,
                    "TaintManagerEviction",
                    f"Marking for deletion Pod {ident(pod)}",
                    "taint-eviction-controller",
                )
                self.api.delete_object(self.store.resource("pods"), pod)

    # -- scheduler -----------------------------------------------------------------------
    def _schedule(self, now: datetime) -> None:
        nodes = self.store.list("nodes")
        pods = self.store.list("pods")
        load = {n["metadata"]["name"]: 0 for n in nodes}
        for pod in pods:
            if pod["spec"].get("nodeName") in load:
                load[pod["spec"]["nodeName"]] += 1
        for pod in pods:
            if pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
                continue
            fits = [n for n in nodes if _fits(pod, n) and volumes.node_allowed(self.store, pod, n)]
            conds = pod.setdefault("status", {}).setdefault("conditions", [])
            stamp = rfc3339(now)
            if not fits:
                message = (
                    f"0/{len(nodes)} nodes are available: {len(nodes)} node(s) didn't match "
                    "Pod's node affinity/selector or had untolerated taints, or were not ready. "
                    "preemption: not eligible due to preemptionPolicy=Never."
                )
                before = copy.deepcopy(conds)
                set_pod_condition(conds, "PodScheduled", "False", stamp, "Unschedulable", message)
                if conds != before:
                    self.store.update("pods", pod)
                    self.event(pod, "FailedScheduling", message, "default-scheduler", "Warning")
                continue
            chosen = min(fits, key=lambda n: (load[n["metadata"]["name"]], n["metadata"]["name"]))
            name = chosen["metadata"]["name"]
            load[name] += 1
            pod["spec"]["nodeName"] = name
            set_pod_condition(conds, "PodScheduled", "True", stamp)
            self.store.update("pods", pod)
            self.event(
                pod,
                "Scheduled",
                f"Successfully assigned {ident(pod)} to {name}",
                "default-scheduler",
            )

    def _provision_volumes(self) -> None:
        for pod in self.store.list("pods"):
            if pod["spec"].get("nodeName") and not pod["metadata"].get("deletionTimestamp"):
                volumes.provision(self.store, pod)
        volumes.reclaim(self.store)

    # -- pods on their nodes (the kubelet's share) ---------------------------------------
    def _pods_on_nodes(self, now: datetime) -> None:
        nodes = {n["metadata"]["name"]: n for n in self.store.list("nodes")}
        stamp = rfc3339(now)
        for pod in self.store.list("pods"):
            node = nodes.get(pod["spec"].get("nodeName") or "")
            if node is None or not node_ready(node):
                continue
            if pod["metadata"].get("deletionTimestamp"):
                self.store.delete("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
                continue
            status = pod.setdefault("status", {})
            if not volumes.volumes_ready(self.store, pod):
                continue
            if status.get("phase") == "Pending" or (
                not pod_ready(pod) and status.get("phase") == "Running"
            ):
                self._run_pod(pod, node, stamp)
                self.store.update("pods", pod)

    def _run_pod(self, pod: Obj, node: Obj, stamp: str) -> None:
        status = pod["status"]
        ip_seed = int(hashlib.sha256(pod["metadata"]["uid"].encode()).hexdigest(), 16)
        host_ip = next(
            (
                a["address"]
                for a in node["status"].get("addresses") or []
                if a.get("type") == "InternalIP"
            ),
            "",
        )
        status.update(
            phase="Running",
            hostIP=host_ip,
            hostIPs=[{"ip": host_ip}],
            podIP=f"10.42.{ip_seed % 250}.{ip_seed // 250 % 250 + 2}",
        )
        status["podIPs"] = [{"ip": status["podIP"]}]
        status.setdefault("startTime", stamp)
        conds = status.setdefault("conditions", [])
        for ctype in (
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ):
            set_pod_condition(conds, ctype, "True", stamp)
        status["containerStatuses"] = [
            {
                "name": c["name"],
                "state": {"running": {"startedAt": status["startTime"]}},
                "lastState": {},
                "ready": True,
                "restartCount": 0,
                "image": c.get("image", ""),
                "imageID": f"{c.get('image', '')}@sha256:{digest(c.get('image', ''))}",
                "containerID": f"containerd://{digest(pod['metadata']['uid'] + c['name'])}",
                "started": True,
            }
            for c in pod["spec"].get("containers") or []
        ]


def _fits(pod: Obj, node: Obj) -> bool:
    spec = pod["spec"]
    if not node_ready(node):
        return False
    tolerations = spec.get("tolerations") or []
    if node["spec"].get("unschedulable") and not tolerates(
        tolerations, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    ):
        return False
    for taint in node["spec"].get("taints") or []:
        if (
            taint.get("effect") in ("NoSchedule", "NoExecute")
            and tolerates(tolerations, taint) is None
        ):
            return False
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    return not terms or any(_term_matches(term, node) for term in terms)


def _term_matches(term: Obj, node: Obj) -> bool:
    labels = node["metadata"].get("labels") or {}
    fields = {"metadata.name": node["metadata"]["name"]}
    return all(match_expression(e, labels) for e in term.get("matchExpressions") or []) and all(
        match_expression(e, fields) for e in term.get("matchFields") or []
    )
