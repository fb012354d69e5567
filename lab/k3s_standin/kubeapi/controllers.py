"""Minimal but honest controllers: deployments, replica sets, scheduler, kubelets, node
lifecycle (NotReady, unreachable taint, eviction) and garbage collection.

They run in one background loop, woken by every store change, and write only when
something really changes (so a settled cluster keeps its resourceVersions).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import volumes
from .api import RestApi
from .clock import Clock, parse_rfc3339, rfc3339
from .control import LabState
from .defaults import UNREACHABLE
from .errors import ApiError
from .selectors import match_expression, match_label_selector
from .store import Store

Obj = dict[str, Any]
LOG = logging.getLogger(__name__)
EXTERNAL_KUBELET = "kubeapi.lab/kubelet"
REVISION = "deployment.kubernetes.io/revision"
_HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789"
EVENT_TTL_SECONDS = 3600.0


@dataclass(frozen=True)
class ControllerSettings:
    node_grace_seconds: float
    pod_eviction_seconds: float
    heartbeat_seconds: float = 10.0


def micro_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def template_hash(template: Obj) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_HASH_CHARS[b % len(_HASH_CHARS)] for b in digest[:10])


def owned_by(obj: Obj, owner: Obj) -> bool:
    return any(
        r.get("uid") == owner["metadata"]["uid"]
        for r in obj["metadata"].get("ownerReferences") or []
    )


def owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def condition(obj: Obj, ctype: str) -> Obj | None:
    return next(
        (c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == ctype),
        None,
    )


def pod_ready(pod: Obj) -> bool:
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def node_ready(node: Obj) -> bool:
    cond = condition(node, "Ready")
    return bool(cond and cond.get("status") == "True")


def tolerates(tolerations: list[Obj], taint: Obj) -> Obj | None:
    for tol in tolerations:
        key_ok = (not tol.get("key") and tol.get("operator") == "Exists") or (
            tol.get("key") == taint.get("key")
            and (tol.get("operator") == "Exists" or tol.get("value", "") == taint.get("value", ""))
        )
        if key_ok and tol.get("effect", "") in ("", taint.get("effect")):
            return tol
    return None


def _set_condition(  # noqa: PLR0917 - the arguments are the condition's own fields
    conds: list[Obj], ctype: str, status: str, reason: str, message: str, now: str
) -> None:
    for cond in conds:
        if cond.get("type") == ctype:
            if cond.get("status") != status:
                cond["lastTransitionTime"] = now
            if (cond.get("reason"), cond.get("message"), cond.get("status")) != (
                reason,
                message,
                status,
            ):
                cond["lastUpdateTime"] = now
            cond.update(status=status, reason=reason, message=message)
            return
    conds.append(
        {
            "type": ctype,
            "status": status,
            "lastUpdateTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }
    )


class Controllers:
    """The reconcile loop; :meth:`reconcile_once` is also what tests call to settle the state."""

    def __init__(
        self, store: Store, api: RestApi, clock: Clock, lab: LabState, settings: ControllerSettings
    ) -> None:
        self.store = store
        self.api = api
        self.clock = clock
        self.lab = lab
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kubeapi-controllers", daemon=True)
        self._pass_lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.store.changed.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.store.changed.wait(timeout=1.0)
            self.store.changed.clear()
            if self._stop.is_set():
                return
            try:
                self.reconcile_once()
            except Exception:
                LOG.exception("reconcile pass failed")

    def reconcile_once(self) -> None:
        """One pass of every controller.

        Controllers write with the resourceVersion they read, like real ones: when a client
        changed the object meanwhile, the write is a 409 and the next pass starts over from
        the client's version instead of undoing it.
        """
        with self._pass_lock:
            now = self.clock.now()
            steps: list[Callable[[], None]] = [
                lambda: self._kubelets(now),
                lambda: self._node_lifecycle(now),
                self._garbage_collect,
                lambda: self._deployments(now),
                lambda: self._replicasets(now),
                lambda: self._schedule(now),
                self._provision_volumes,
                lambda: self._pods_on_nodes(now),
                self._replicaset_status,
                lambda: self._deployment_status(now),
                self._service_accounts,
                lambda: self._expire_events(now),
            ]
            for step in steps:
                try:
                    step()
                except ApiError as err:
                    LOG.debug("controller step lost a race, retrying next pass: %s", err.message)
                    self.store.changed.set()

    # -- events --------------------------------------------------------------------------
    def event(
        self, obj: Obj, reason: str, message: str, component: str, etype: str = "Normal"
    ) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        now = rfc3339(self.clock.now())
        suffix = f"{random.getrandbits(64):016x}"
        involved = {
            "kind": obj["kind"],
            "name": meta["name"],
            "uid": meta.get("uid", ""),
            "apiVersion": obj["apiVersion"],
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if meta.get("namespace"):
            involved["namespace"] = meta["namespace"]
        self.store.create(
            "events",
            {
                "metadata": {"name": f"{meta['name']}.{suffix}", "namespace": namespace},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "source": {"component": component},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "type": etype,
                "eventTime": None,
                "reportingComponent": component,
                "reportingInstance": "",
            },
        )

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
                _set_condition(
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
    def _node_lifecycle(self, now: datetime) -> None:
        for node in self.store.list("nodes"):
            last = self._last_heartbeat(node)
            stale = (
                last is not None and (now - last).total_seconds() > self.settings.node_grace_seconds
            )
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
            if stale:
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
                    f"Marking for deletion Pod {_ident(pod)}",
                    "taint-eviction-controller",
                )
                self.api.delete_object(self.store.resource("pods"), pod)

    # -- garbage collection --------------------------------------------------------------
    def _garbage_collect(self) -> None:
        uids = self.store.uids()
        for res in self.store.registry.resources:
            for obj in self.store.list(res):
                refs = obj["metadata"].get("ownerReferences") or []
                if (
                    refs
                    and not any(r.get("uid") in uids for r in refs)
                    and not obj["metadata"].get("deletionTimestamp")
                ):
                    self.api.delete_object(res, obj)

    # -- deployments ---------------------------------------------------------------------
    def _owned_rs(self, deploy: Obj) -> list[Obj]:
        return [
            rs
            for rs in self.store.list("replicasets", deploy["metadata"]["namespace"])
            if owned_by(rs, deploy)
        ]

    def _deployments(self, now: datetime) -> None:
        for deploy in self.store.list("deployments"):
            if deploy["metadata"].get("deletionTimestamp"):
                continue
            owned = self._owned_rs(deploy)
            hashed = template_hash(deploy["spec"]["template"])
            new = next(
                (
                    rs
                    for rs in owned
                    if (rs["metadata"].get("labels") or {}).get("pod-template-hash") == hashed
                ),
                None,
            )
            revisions = [
                int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")) for rs in owned
            ]
            replicas = deploy["spec"].get("replicas", 1)
            if new is None:
                new = self._create_rs(deploy, hashed, max(revisions, default=0) + 1)
            elif new["spec"].get("replicas") != replicas:
                old_count = new["spec"].get("replicas")
                new["spec"]["replicas"] = replicas
                new = self.store.update("replicasets", new)
                verb = "up" if replicas > (old_count or 0) else "down"
                self.event(
                    deploy,
                    "ScalingReplicaSet",
                    f"Scaled {verb} replica set {new['metadata']['name']} "
                    f"from {old_count} to {replicas}",
                    "deployment-controller",
                )
            revision = (new["metadata"].get("annotations") or {}).get(REVISION, "1")
            if (deploy["metadata"].get("annotations") or {}).get(REVISION) != revision:
                deploy["metadata"].setdefault("annotations", {})[REVISION] = revision
                self.store.update("deployments", deploy)
            new_ready = (new.get("status") or {}).get("readyReplicas", 0)
            if (
                new_ready >= replicas
                or deploy["spec"].get("strategy", {}).get("type") == "Recreate"
            ):
                for old in owned:
                    if (
                        old["metadata"]["uid"] != new["metadata"]["uid"]
                        and old["spec"].get("replicas", 0) > 0
                    ):
                        count = old["spec"]["replicas"]
                        old["spec"]["replicas"] = 0
                        self.store.update("replicasets", old)
                        self.event(
                            deploy,
                            "ScalingReplicaSet",
                            f"Scaled down replica set {old['metadata']['name']} from {count} to 0",
                            "deployment-controller",
                        )
            self._prune_history(deploy, owned, new)

    def _prune_history(self, deploy: Obj, owned: list[Obj], new: Obj) -> None:
        limit = deploy["spec"].get("revisionHistoryLimit", 10)
        idle = [
            rs
            for rs in owned
            if rs["metadata"]["uid"] != new["metadata"]["uid"]
            and rs["spec"].get("replicas", 0) == 0
            and (rs.get("status") or {}).get("replicas", 0) == 0
        ]
        idle.sort(key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")))
        for rs in idle[: max(len(idle) - limit, 0)]:
            self.api.delete_object(self.store.resource("replicasets"), rs)

    def _create_rs(self, deploy: Obj, hashed: str, revision: int) -> Obj:
        template = copy.deepcopy(deploy["spec"]["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = hashed
        selector = copy.deepcopy(deploy["spec"]["selector"])
        selector.setdefault("matchLabels", {})["pod-template-hash"] = hashed
        name = f"{deploy['metadata']['name']}-{hashed}"
        replicas = deploy["spec"].get("replicas", 1)
        rs = {
            "metadata": {
                "name": name,
                "namespace": deploy["metadata"]["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {
                    REVISION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(replicas),
                    "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                },
                "ownerReferences": [owner_ref(deploy)],
            },
            "spec": {
                "replicas": replicas,
                "selector": selector,
                "template": template,
                "minReadySeconds": deploy["spec"].get("minReadySeconds", 0),
            },
        }
        res = self.store.resource("replicasets")
        self.api.default_object(res, rs)
        created = self.store.create(res, rs)
        self.event(
            deploy,
            "ScalingReplicaSet",
            f"Scaled up replica set {name} from 0 to {replicas}",
            "deployment-controller",
        )
        return created

    def _deployment_status(self, now: datetime) -> None:
        stamp = rfc3339(now)
        for deploy in self.store.list("deployments"):
            owned = self._owned_rs(deploy)
            hashed = template_hash(deploy["spec"]["template"])
            new = next(
                (
                    rs
                    for rs in owned
                    if (rs["metadata"].get("labels") or {}).get("pod-template-hash") == hashed
                ),
                None,
            )
            desired = deploy["spec"].get("replicas", 1)
            total = sum((rs.get("status") or {}).get("replicas", 0) for rs in owned)
            ready = sum((rs.get("status") or {}).get("readyReplicas", 0) for rs in owned)
            available = sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in owned)
            updated = (new.get("status") or {}).get("replicas", 0) if new else 0
            status = copy.deepcopy(deploy.get("status") or {})
            status.update(
                observedGeneration=deploy["metadata"].get("generation", 1),
                replicas=total,
                updatedReplicas=updated,
                readyReplicas=ready,
                availableReplicas=available,
            )
            for key in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
                if not status[key]:
                    status.pop(key)
            unavailable = max(total - available, desired - available, 0)
            status["unavailableReplicas"] = unavailable
            if not unavailable:
                status.pop("unavailableReplicas")
            conds = status.setdefault("conditions", [])
            max_unavailable = _max_unavailable(deploy, desired)
            if available >= desired - max_unavailable:
                _set_condition(
                    conds,
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    stamp,
                )
            else:
                _set_condition(
                    conds,
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    stamp,
                )
            rs_name = new["metadata"]["name"] if new else deploy["metadata"]["name"]
            if new is not None and updated == desired == total == available:
                _set_condition(
                    conds,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name}" has successfully progressed.',
                    stamp,
                )
            else:
                _set_condition(
                    conds,
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    f'ReplicaSet "{rs_name}" is progressing.',
                    stamp,
                )
            conds.sort(key=lambda c: c["type"] != "Available")
            if status != deploy.get("status"):
                deploy["status"] = status
                self.store.update("deployments", deploy)

    # -- replica sets --------------------------------------------------------------------
    def _rs_pods(self, rs: Obj) -> list[Obj]:
        return [
            p
            for p in self.store.list("pods", rs["metadata"]["namespace"])
            if owned_by(p, rs) and not p["metadata"].get("deletionTimestamp")
        ]

    def _replicasets(self, now: datetime) -> None:
        for rs in self.store.list("replicasets"):
            if rs["metadata"].get("deletionTimestamp"):
                continue
            pods = self._rs_pods(rs)
            want = rs["spec"].get("replicas", 1)
            for _ in range(want - len(pods)):
                self._create_pod(rs)
            if len(pods) > want:
                pods.sort(
                    key=lambda p: (
                        bool(p["spec"].get("nodeName")),
                        pod_ready(p),
                        p["metadata"]["creationTimestamp"],
                    )
                )
                for pod in pods[: len(pods) - want]:
                    self.api.delete_object(self.store.resource("pods"), pod)
                    self.event(
                        rs,
                        "SuccessfulDelete",
                        f"Deleted pod: {pod['metadata']['name']}",
                        "replicaset-controller",
                    )

    def _create_pod(self, rs: Obj) -> None:
        template = copy.deepcopy(rs["spec"]["template"])
        meta = template.get("metadata") or {}
        meta.update(
            generateName=f"{rs['metadata']['name']}-",
            namespace=rs["metadata"]["namespace"],
            ownerReferences=[owner_ref(rs)],
        )
        meta.pop("creationTimestamp", None)
        pod = {"metadata": meta, "spec": template.get("spec") or {}}
        res = self.store.resource("pods")
        self.api.default_object(res, pod)
        created = self.store.create(res, pod)
        self.event(
            rs,
            "SuccessfulCreate",
            f"Created pod: {created['metadata']['name']}",
            "replicaset-controller",
        )

    def _replicaset_status(self) -> None:
        for rs in self.store.list("replicasets"):
            pods = self._rs_pods(rs)
            ready = sum(1 for p in pods if pod_ready(p))
            status = {
                "replicas": len(pods),
                "fullyLabeledReplicas": len(pods),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "observedGeneration": rs["metadata"].get("generation", 1),
            }
            status = {k: v for k, v in status.items() if v or k == "replicas"}
            if status != rs.get("status"):
                rs["status"] = status
                self.store.update("replicasets", rs)

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
                _set_pod_condition(conds, "PodScheduled", "False", stamp, "Unschedulable", message)
                if conds != before:
                    self.store.update("pods", pod)
                    self.event(pod, "FailedScheduling", message, "default-scheduler", "Warning")
                continue
            chosen = min(fits, key=lambda n: (load[n["metadata"]["name"]], n["metadata"]["name"]))
            name = chosen["metadata"]["name"]
            load[name] += 1
            pod["spec"]["nodeName"] = name
            _set_pod_condition(conds, "PodScheduled", "True", stamp)
            self.store.update("pods", pod)
            self.event(
                pod,
                "Scheduled",
                f"Successfully assigned {_ident(pod)} to {name}",
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
            _set_pod_condition(conds, ctype, "True", stamp)
        status["containerStatuses"] = [
            {
                "name": c["name"],
                "state": {"running": {"startedAt": status["startTime"]}},
                "lastState": {},
                "ready": True,
                "restartCount": 0,
                "image": c.get("image", ""),
                "imageID": f"{c.get('image', '')}@sha256:{_digest(c.get('image', ''))}",
                "containerID": f"containerd://{_digest(pod['metadata']['uid'] + c['name'])}",
                "started": True,
            }
            for c in pod["spec"].get("containers") or []
        ]

    # -- events expire after an hour (the apiserver's --event-ttl) ------------------------
    def _expire_events(self, now: datetime) -> None:
        for event in self.store.list("events"):
            stamp = event.get("lastTimestamp") or event["metadata"].get("creationTimestamp")
            if stamp and (now - parse_rfc3339(stamp)).total_seconds() > EVENT_TTL_SECONDS:
                self.store.delete(
                    "events", event["metadata"]["namespace"], event["metadata"]["name"]
                )

    # -- service accounts ----------------------------------------------------------------
    def _service_accounts(self) -> None:
        for ns in self.store.list("namespaces"):
            name = ns["metadata"]["name"]
            if (
                not ns["metadata"].get("deletionTimestamp")
                and self.store.find("serviceaccounts", name, "default") is None
            ):
                self.store.create(
                    "serviceaccounts", {"metadata": {"name": "default", "namespace": name}}
                )


def _set_pod_condition(  # noqa: PLR0917 - the arguments are the condition's own fields
    conds: list[Obj], ctype: str, status: str, stamp: str, reason: str = "", message: str = ""
) -> None:
    for cond in conds:
        if cond.get("type") == ctype:
            if cond.get("status") != status:
                cond["lastTransitionTime"] = stamp
            cond["status"] = status
            for key, value in (("reason", reason), ("message", message)):
                if value:
                    cond[key] = value
                else:
                    cond.pop(key, None)
            return
    cond = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": stamp}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    conds.append(cond)


def _ident(obj: Obj) -> str:
    return f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _max_unavailable(deploy: Obj, desired: int) -> int:
    strategy = deploy["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return desired
    value = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return desired * int(value[:-1]) // 100
    return int(value)


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


__all__ = ["ControllerSettings", "Controllers", "match_label_selector"]
