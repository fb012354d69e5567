"""Helpers over Kubernetes objects that several controllers share."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

Obj = dict[str, Any]
_HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789"


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


def set_condition(  # noqa: PLR0917 - the arguments are the condition's own fields
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


def set_pod_condition(  # noqa: PLR0917 - the arguments are the condition's own fields
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


def ident(obj: Obj) -> str:
    return f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
