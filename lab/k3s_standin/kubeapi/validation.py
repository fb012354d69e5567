"""Schema-based field validation (``fieldValidation=Strict|Warn|Ignore``) and basic checks."""

from __future__ import annotations

import re
from typing import Any

from . import schema as schemas
from .errors import ApiError, invalid
from .resources import ResourceType

Obj = dict[str, Any]
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def prune_unknown(value: Any, node: schemas.Schema | None, path: str = "") -> tuple[Any, list[str]]:  # noqa: ANN401
    """Drop fields the schema does not declare; returns the pruned value and their paths."""
    node = schemas.resolve(node)
    if node is None or node.get("x-kubernetes-preserve-unknown-fields"):
        return value, []
    unknown: list[str] = []
    if isinstance(value, dict):
        props = node.get("properties")
        extra = node.get("additionalProperties")
        if props is None and not isinstance(extra, dict):
            return value, []
        out = {}
        for key, sub in value.items():
            sub_path = f"{path}.{key}" if path else key
            if props is not None and key in props:
                out[key], found = prune_unknown(sub, props[key], sub_path)
            elif isinstance(extra, dict):
                out[key], found = prune_unknown(sub, extra, sub_path)
            else:
                found = [sub_path]
            unknown += found
        return out, unknown
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        out_list = []
        for index, item in enumerate(value):
            pruned, found = prune_unknown(item, node["items"], f"{path}[{index}]")
            out_list.append(pruned)
            unknown += found
        return out_list, unknown
    return value, []


def check_fields(
    res: ResourceType, obj: Obj, mode: str, schema_name: str | None = None
) -> tuple[Obj, list[str]]:
    """Apply the fieldValidation directive; returns the object to store and warnings."""
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    pruned, unknown = prune_unknown(body, schemas.named(schema_name or res.schema))
    if not unknown or mode == "Ignore":
        return {**{k: obj[k] for k in ("apiVersion", "kind") if k in obj}, **pruned}, []
    fields = ", ".join(f'unknown field "{u}"' for u in unknown)
    if mode == "Strict":
        raise ApiError(
            400,
            f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
            f"strict decoding error: {fields}",
        )
    return {**{k: obj[k] for k in ("apiVersion", "kind") if k in obj}, **pruned}, [
        f'unknown field "{u}"' for u in unknown
    ]


def check_object(res: ResourceType, obj: Obj) -> None:
    """The few semantic checks whose absence a client would notice."""
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    causes: list[tuple[str, str, str]] = []
    pattern = _DNS_LABEL if res.kind in ("Namespace", "Service") else _DNS_SUBDOMAIN
    if not name:
        causes.append(
            (
                "FieldValueRequired",
                "metadata.name",
                "Required value: name or generateName is required",
            )
        )
    elif not pattern.match(name) or len(name) > 253:
        causes.append(
            (
                "FieldValueInvalid",
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower '
                "case alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character",
            )
        )
    if res.kind == "Pod" and not (obj.get("spec") or {}).get("containers"):
        causes.append(("FieldValueRequired", "spec.containers", "Required value"))
    if res.kind in ("Deployment", "ReplicaSet", "DaemonSet"):
        causes += _workload_causes(obj)
    if causes:
        raise invalid(res.kind, name, res.group, causes)


def _workload_causes(obj: Obj) -> list[tuple[str, str, str]]:
    spec = obj.get("spec") or {}
    causes = []
    selector = spec.get("selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selector:
        causes.append(("FieldValueRequired", "spec.selector", "Required value"))
    elif any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        causes.append(
            (
                "FieldValueInvalid",
                "spec.template.metadata.labels",
                f"Invalid value: {labels}: `selector` does not match template `labels`",
            )
        )
    if not ((spec.get("template") or {}).get("spec") or {}).get("containers"):
        causes.append(("FieldValueRequired", "spec.template.spec.containers", "Required value"))
    if isinstance(spec.get("replicas"), int) and spec["replicas"] < 0:
        causes.append(
            (
                "FieldValueInvalid",
                "spec.replicas",
                f"Invalid value: {spec['replicas']}: must be greater than or equal to 0",
            )
        )
    return causes
