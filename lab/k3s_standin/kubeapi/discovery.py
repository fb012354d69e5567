"""Discovery documents: ``/api``, ``/apis``, ``/api/<v>``, ``/apis/<g>/<v>``, ``/version``."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from .resources import SUBRESOURCE_KINDS, SUBRESOURCE_VERBS, GroupVersion, Registry, ResourceType


def _hash(text: str) -> str:
    # storageVersionHash is an opaque 8-byte base64 token; any stable value will do.
    import base64  # noqa: PLC0415

    return base64.b64encode(hashlib.sha256(text.encode()).digest()[:8]).decode()


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": listed, "preferredVersion": listed[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = [gv for gv in registry.group_versions() if gv.group]
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_entry(gv.group, [gv.version]) for gv in groups],
    }


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    versions = [gv.version for gv in registry.group_versions() if gv.group == group]
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


def _resource_entry(res: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": res.plural,
        "singularName": res.singular,
        "namespaced": res.namespaced,
        "kind": res.kind,
        "verbs": list(res.verbs),
    }
    if res.short_names:
        entry["shortNames"] = list(res.short_names)
    if res.categories:
        entry["categories"] = list(res.categories)
    entry["storageVersionHash"] = _hash(res.key)
    return entry


def _subresource_entry(res: ResourceType, sub: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": f"{res.plural}/{sub}",
        "singularName": "",
        "namespaced": res.namespaced,
    }
    if sub in SUBRESOURCE_KINDS:
        group, version, kind = SUBRESOURCE_KINDS[sub]
        if group:
            entry["group"] = group
        entry["version"] = version
        entry["kind"] = kind
    else:
        entry["kind"] = res.kind
    entry["verbs"] = list(SUBRESOURCE_VERBS.get(sub, ("get",)))
    return entry


def api_resource_list(gv: GroupVersion) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for res in sorted(gv.resources, key=lambda r: r.plural):
        resources.append(_resource_entry(res))
        resources += [_subresource_entry(res, sub) for sub in sorted(res.subresources)]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv.group_version,
        "resources": resources,
    }


def version_info(git_version: str) -> dict[str, str]:
    match = re.match(r"v(\d+)\.(\d+)", git_version)
    major, minor = (match.group(1), match.group(2)) if match else ("1", "31")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": hashlib.sha1(git_version.encode()).hexdigest(),
        "gitTreeState": "clean",
        "buildDate": "2024-12-12T21:56:45Z",
        "goVersion": "go1.22.9",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
