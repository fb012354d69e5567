"""Workload controllers: deployments, replica sets, garbage collection, namespaces'
default service accounts and event expiry."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from .clock import parse_rfc3339, rfc3339
from .controllerbase import ControllerBase
from .objects import owned_by, owner_ref, pod_ready, set_condition, template_hash

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
EVENT_TTL_SECONDS = 3600.0


class WorkloadControllers(ControllerBase):
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
                set_condition(
                    conds,
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    stamp,
                )
            else:
                set_condition(
                    conds,
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    stamp,
                )
            rs_name = new["metadata"]["name"] if new else deploy["metadata"]["name"]
            if new is not None and updated == desired == total == available:
                set_condition(
                    conds,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name}" has successfully progressed.',
                    stamp,
                )
            else:
                set_condition(
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


def _max_unavailable(deploy: Obj, desired: int) -> int:
    strategy = deploy["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return desired
    value = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return desired * int(value[:-1]) // 100
    return int(value)
