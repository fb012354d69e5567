"""``/openapi/v3``: per group-version documents built from the real schemas.

kubectl decides from these documents whether the server validates fields itself (the PATCH
operations must list ``fieldValidation``); then it needs no ``/openapi/v2`` at all.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from . import schema as schemas
from .resources import Registry, ResourceType

_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
_CONTENT = ("application/json", "application/yaml")


def _param(name: str, where: str = "query") -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": name,
        "in": where,
        "schema": {"type": "string", "uniqueItems": True},
    }
    if where == "path":
        param["required"] = True
    return param


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": schemas.REF_PREFIX + name}


def _gvk(res: ResourceType, kind: str | None = None) -> dict[str, str]:
    return {"group": res.group, "version": res.version, "kind": kind or res.kind}


def _op(  # noqa: PLR0917 - one argument per field of an OpenAPI operation
    res: ResourceType,
    action: str,
    op_id: str,
    body: str | None,
    params: tuple[str, ...],
    response: str,
    kind: str | None = None,
    patch: bool = False,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "tags": [res.group_version.replace("/", "_")],
        "operationId": op_id,
        "parameters": [_param(p) for p in params],
        "responses": {
            "200": {
                "description": "OK",
                "content": {c: {"schema": _ref(response)} for c in _CONTENT},
            },
            "401": {"description": "Unauthorized"},
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(res, kind),
    }
    if body is not None:
        types = (
            (
                "application/apply-patch+yaml",
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            )
            if patch
            else ("*/*",)
        )
        op["requestBody"] = {
            "content": {t: {"schema": _ref(body)} for t in types},
            "required": True,
        }
    return op


def _paths_for(res: ResourceType) -> dict[str, Any]:
    prefix = "/api/v1" if not res.group else f"/apis/{res.group}/{res.version}"
    coll = (
        f"{prefix}/namespaces/{{namespace}}/{res.plural}"
        if res.namespaced
        else f"{prefix}/{res.plural}"
    )
    item = f"{coll}/{{name}}"
    schema, lst = res.schema.rsplit(".", 1)[-1], res.schema + "List"
    ns_params = [_param("namespace", "path")] if res.namespaced else []
    paths: dict[str, Any] = {
        coll: {
            "get": _op(
                res, "list", f"list{schema}", None, ("labelSelector", "fieldSelector", "watch"), lst
            ),
            "post": _op(res, "post", f"create{schema}", res.schema, _WRITE_PARAMS, res.schema),
            "parameters": ns_params,
        },
        item: {
            "get": _op(res, "get", f"read{schema}", None, (), res.schema),
            "put": _op(res, "put", f"replace{schema}", res.schema, _WRITE_PARAMS, res.schema),
            "patch": _op(
                res,
                "patch",
                f"patch{schema}",
                "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
                (*_WRITE_PARAMS, "force"),
                res.schema,
                patch=True,
            ),
            "delete": _op(
                res,
                "delete",
                f"delete{schema}",
                "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
                ("dryRun", "gracePeriodSeconds", "propagationPolicy"),
                "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
            ),
            "parameters": [*ns_params, _param("name", "path")],
        },
    }
    if res.namespaced:
        paths[f"{prefix}/{res.plural}"] = {
            "get": _op(
                res,
                "list",
                f"list{schema}ForAllNamespaces",
                None,
                ("labelSelector", "fieldSelector"),
                lst,
            )
        }
    if "status" in res.subresources:
        paths[f"{item}/status"] = {
            "get": _op(res, "get", f"read{schema}Status", None, (), res.schema),
            "put": _op(res, "put", f"replace{schema}Status", res.schema, _WRITE_PARAMS, res.schema),
            "patch": _op(
                res,
                "patch",
                f"patch{schema}Status",
                "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
                (*_WRITE_PARAMS, "force"),
                res.schema,
                patch=True,
            ),
            "parameters": [*ns_params, _param("name", "path")],
        }
    if "scale" in res.subresources:
        scale = "io.k8s.api.autoscaling.v1.Scale"
        scale_gvk = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
        get = _op(res, "get", f"read{schema}Scale", None, (), scale)
        put = _op(res, "put", f"replace{schema}Scale", scale, _WRITE_PARAMS, scale)
        patch = _op(
            res,
            "patch",
            f"patch{schema}Scale",
            "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
            (*_WRITE_PARAMS, "force"),
            scale,
            patch=True,
        )
        for op in (get, put, patch):
            op["x-kubernetes-group-version-kind"] = scale_gvk
        paths[f"{item}/scale"] = {
            "get": get,
            "put": put,
            "patch": patch,
            "parameters": [*ns_params, _param("name", "path")],
        }
    return paths


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


@cache
def _documents(registry: Registry, git_version: str) -> dict[str, bytes]:
    docs: dict[str, bytes] = {}
    components = {"schemas": schemas.load()}
    for gv in registry.group_versions():
        paths: dict[str, Any] = {}
        for res in gv.resources:
            paths.update(_paths_for(res))
        doc = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": git_version},
            "paths": paths,
            "components": components,
        }
        docs[_gv_path(gv.group, gv.version)] = json.dumps(doc, separators=(",", ":")).encode()
    return docs


def index(registry: Registry, git_version: str) -> dict[str, Any]:
    paths = {}
    for path, body in _documents(registry, git_version).items():
        digest = hashlib.sha512(body).hexdigest().upper()
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


def document(registry: Registry, git_version: str, path: str) -> bytes | None:
    return _documents(registry, git_version).get(path)
