"""The REST layer: routes Kubernetes API paths to the store, with the apiserver's semantics."""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from . import (
    defaults,
    discovery,
    openapi,
    patch,
    selectors,
    subresources,
    tables,
    validation,
    watch,
)
from . import schema as schemas
from .clock import Clock, rfc3339
from .errors import ApiError, success_status
from .resources import Registry, ResourceType, UnknownResourceError
from .store import Store
from .transport import Request, Response

Obj = dict[str, Any]
LOG = logging.getLogger(__name__)
NOT_FOUND_TEXT = "the server could not find the requested resource"
ACCEPTED_MEDIA = "application/json, application/yaml"


@dataclass(frozen=True)
class ApiSettings:
    git_version: str
    pod_eviction_seconds: float
    server_address: str = "127.0.0.1:6443"


@dataclass
class Target:
    res: ResourceType
    namespace: str | None
    name: str | None
    sub: str | None


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:  # noqa: ANN401
    all_headers = {"Cache-Control": "no-cache, private", "Audit-Id": str(uuid.uuid4())}
    all_headers.update(headers or {})
    return Response(
        status,
        json.dumps(body, separators=(",", ":")).encode() + b"\n",
        "application/json",
        all_headers,
    )


def text_response(status: int, text: str) -> Response:
    return Response(
        status,
        text.encode(),
        "text/plain; charset=utf-8",
        {"Cache-Control": "no-cache, private", "X-Content-Type-Options": "nosniff"},
    )


class RestApi:
    """Everything under ``/api``, ``/apis``, ``/openapi``, ``/version`` and the health checks."""

    def __init__(
        self, store: Store, registry: Registry, clock: Clock, settings: ApiSettings
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.settings = settings
        self.stopping = False

    # -- entry ---------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except ApiError as err:
            return json_response(err.code, err.status())

    def _route(self, req: Request) -> Response:  # noqa: PLR0911
        path = req.path.rstrip("/") or "/"
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(
            ("/healthz/", "/livez/", "/readyz/")
        ):
            return self._health(path, req)
        if path == "/version":
            return json_response(200, discovery.version_info(self.settings.git_version))
        if path == "/api":
            return json_response(200, discovery.api_versions(self.settings.server_address))
        if path == "/apis":
            return json_response(200, discovery.api_group_list(self.registry))
        if path == "/openapi/v3":
            return json_response(200, openapi.index(self.registry, self.settings.git_version))
        if path.startswith("/openapi/v3/"):
            doc = openapi.document(
                self.registry, self.settings.git_version, path.removeprefix("/openapi/v3/")
            )
            if doc is None:
                raise ApiError(404, NOT_FOUND_TEXT)
            cache = "public, immutable" if "hash" in req.query else "no-cache, private"
            return Response(
                200,
                doc,
                "application/json",
                {"Cache-Control": cache, "Etag": '"' + str(hash(doc)) + '"'},
            )
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "api":
            return self._group_version(req, "", parts[1], parts[2:])
        if len(parts) >= 2 and parts[0] == "apis":
            if len(parts) == 2:
                doc = discovery.api_group(self.registry, parts[1])
                if doc is None:
                    raise ApiError(404, NOT_FOUND_TEXT)
                return json_response(200, doc)
            return self._group_version(req, parts[1], parts[2], parts[3:])
        return text_response(404, "404 page not found\n")

    def _health(self, path: str, req: Request) -> Response:
        name = path.strip("/").split("/")[0]
        if "verbose" in req.query:
            checks = ["ping", "log", "etcd", "poststarthook/start-apiserver-admission-initializer"]
            body = "".join(f"[+]{c} ok\n" for c in checks) + f"{name} check passed\n"
            return text_response(200, body)
        return text_response(200, "ok")

    def _group_version(self, req: Request, group: str, version: str, rest: list[str]) -> Response:
        gv = next(
            (g for g in self.registry.group_versions() if (g.group, g.version) == (group, version)),
            None,
        )
        if gv is None:
            raise ApiError(404, NOT_FOUND_TEXT)
        if not rest:
            return json_response(200, discovery.api_resource_list(gv))
        target = self._target(group, version, rest)
        return self._dispatch(req, target)

    def _target(self, group: str, version: str, rest: list[str]) -> Target:
        namespace: str | None = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise ApiError(404, NOT_FOUND_TEXT)
        try:
            res = self.registry.by_path(group, version, rest[0])
        except UnknownResourceError as err:
            raise ApiError(404, NOT_FOUND_TEXT) from err
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and sub not in res.subresources:
            raise ApiError(404, NOT_FOUND_TEXT)
        if namespace is not None and not res.namespaced:
            raise ApiError(404, NOT_FOUND_TEXT)
        return Target(res, namespace, name, sub)

    def _dispatch(self, req: Request, t: Target) -> Response:  # noqa: PLR0911
        method = req.method
        if t.name is None:
            if method == "GET":
                if req.query.get("watch") in ("true", "1"):
                    return self._watch(req, t)
                return self._list(req, t)
            if method == "POST":
                return self._create(req, t)
            if method == "DELETE":
                return self._delete_collection(req, t)
        elif t.sub is None:
            if method == "GET":
                obj = self.store.get(t.res, t.namespace or "", t.name)
                return self._object_response(req, t, obj)
            if method == "PUT":
                return self._update(req, t)
            if method == "PATCH":
                return self._patch(req, t)
            if method == "DELETE":
                return self._delete(req, t)
        else:
            return self._subresource(req, t)
        raise ApiError(405, "the server does not allow this method on the requested resource")

    # -- bodies --------------------------------------------------------------------------
    def _decode(self, req: Request) -> Any:  # noqa: ANN401
        ctype = req.content_type
        if "protobuf" in ctype or "cbor" in ctype:
            raise ApiError(
                415,
                "the body of the request was in an unknown format - accepted media types "
                f"include: {ACCEPTED_MEDIA}",
            )
        try:
            if "yaml" in ctype:
                return yaml.safe_load(req.body.decode() or "{}")
            return json.loads(req.body.decode() or "{}")
        except (ValueError, yaml.YAMLError) as err:
            raise ApiError(400, f"couldn't get version/kind; json parse error: {err}") from err

    def _now(self) -> str:
        return rfc3339(self.clock.now())

    def default_object(self, res: ResourceType, obj: Obj) -> None:
        defaults.apply(
            res.kind,
            obj,
            now=self._now(),
            git_version=self.settings.git_version,
            eviction_seconds=self.settings.pod_eviction_seconds,
        )

    def _fields(self, req: Request, res: ResourceType, obj: Obj) -> tuple[Obj, dict[str, str]]:
        mode = req.query.get("fieldValidation", "Warn")
        checked, warnings = validation.check_fields(res, obj, mode)
        headers = {}
        if warnings:
            headers["Warning"] = ", ".join(
                '299 - "' + w.replace('"', '\\"') + '"' for w in warnings
            )
        return checked, headers

    def _object_response(
        self,
        req: Request,
        t: Target,
        obj: Obj,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        if "as=Table" in (req.headers.get("Accept") or ""):
            return json_response(
                status,
                tables.table(
                    t.res.kind,
                    [obj],
                    obj["metadata"].get("resourceVersion", ""),
                    self.clock.now(),
                    req.query.get("includeObject", "Metadata"),
                ),
                headers,
            )
        return json_response(status, obj, headers)

    # -- verbs ---------------------------------------------------------------------------
    def _list(self, req: Request, t: Target) -> Response:
        items, rv = self._matching(req, t)
        if "as=Table" in (req.headers.get("Accept") or ""):
            return json_response(
                200,
                tables.table(
                    t.res.kind,
                    items,
                    str(rv),
                    self.clock.now(),
                    req.query.get("includeObject", "Metadata"),
                ),
            )
        for item in items:
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return json_response(
            200,
            {
                "kind": f"{t.res.kind}List",
                "apiVersion": t.res.api_version,
                "metadata": {"resourceVersion": str(rv)},
                "items": items,
            },
        )

    def _matching(self, req: Request, t: Target) -> tuple[list[Obj], int]:
        labels = selectors.label_selector(req.query.get("labelSelector"))
        fields = selectors.field_selector(req.query.get("fieldSelector"))
        items, rv = self.store.list_with_version(t.res, t.namespace)
        return [o for o in items if labels(o) and fields(o)], rv

    def _check_namespace(self, res: ResourceType, namespace: str) -> None:
        if res.namespaced and res.kind != "Namespace":
            ns = self.store.find("namespaces", "", namespace)
            if ns is None:
                raise ApiError(
                    404,
                    f'namespaces "{namespace}" not found',
                    details={"name": namespace, "kind": "namespaces"},
                )
            if ns["metadata"].get("deletionTimestamp"):
                raise ApiError(
                    403,
                    f'{res.plural} "{""}" is forbidden: unable to create new content '
                    f"in namespace {namespace} because it is being terminated",
                    "Forbidden",
                )

    def _create(self, req: Request, t: Target) -> Response:
        if t.res.namespaced and t.namespace is None:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        obj = self._decode(req)
        if not isinstance(obj, dict):
            raise ApiError(400, "the body of the request is not a JSON object")
        self._check_kind(t.res, obj)
        meta = obj.setdefault("metadata", {})
        if t.res.namespaced:
            if meta.get("namespace") and meta["namespace"] != t.namespace:
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match the "
                    "namespace sent on the request",
                )
            meta["namespace"] = t.namespace
            self._check_namespace(t.res, t.namespace or "")
        obj, headers = self._fields(req, t.res, obj)
        self.default_object(t.res, obj)
        if not meta.get("name") and meta.get("generateName"):
            obj["metadata"]["name"] = meta["generateName"] + "xxxxx"
            validation.check_object(t.res, obj)
            obj["metadata"]["name"] = ""
        else:
            validation.check_object(t.res, obj)
        obj["metadata"].pop("resourceVersion", None)
        if req.query.get("dryRun"):
            obj["metadata"].setdefault("uid", str(uuid.uuid4()))
            obj["metadata"]["creationTimestamp"] = self._now()
            return self._object_response(req, t, obj, 201, headers)
        created = self.store.create(t.res, obj)
        return self._object_response(req, t, created, 201, headers)

    def _check_kind(self, res: ResourceType, obj: Obj) -> None:
        if obj.get("apiVersion") and obj["apiVersion"] != res.api_version:
            raise ApiError(
                400,
                f"the API version in the data ({obj['apiVersion']}) does not match "
                f"the expected API version ({res.api_version})",
            )
        if obj.get("kind") and obj["kind"] != res.kind:
            raise ApiError(
                400,
                f"the kind in the data ({obj['kind']}) does not match the expected kind "
                f"({res.kind})",
            )

    def _keep_status(self, res: ResourceType, new: Obj, old: Obj) -> None:
        if "status" in res.subresources:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)

    def _store_update(
        self,
        req: Request,
        t: Target,
        new: Obj,
        old: Obj,
        *,
        status_only: bool,
        headers: dict[str, str],
    ) -> Response:
        if status_only:
            body = copy.deepcopy(old)
            body["status"] = new.get("status", {})
            body["metadata"]["resourceVersion"] = (
                new["metadata"].get("resourceVersion") or old["metadata"]["resourceVersion"]
            )
            new = body
        else:
            self._keep_status(t.res, new, old)
        self.default_object(t.res, new)
        validation.check_object(t.res, new)
        if req.query.get("dryRun"):
            return self._object_response(req, t, new, 200, headers)
        updated = self.store.update(t.res, new)
        return self._object_response(req, t, updated, 200, headers)

    def _update(self, req: Request, t: Target, status_only: bool = False) -> Response:
        obj = self._decode(req)
        if not isinstance(obj, dict):
            raise ApiError(400, "the body of the request is not a JSON object")
        self._check_kind(t.res, obj)
        meta = obj.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != t.name:
            raise ApiError(
                400,
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({t.name})",
            )
        meta["name"] = t.name
        if t.res.namespaced:
            meta["namespace"] = t.namespace
        old = self.store.get(t.res, t.namespace or "", t.name or "")
        obj, headers = self._fields(req, t.res, obj)
        return self._store_update(req, t, obj, old, status_only=status_only, headers=headers)

    def _patched(
        self, req: Request, res: ResourceType, old: Obj, schema_name: str | None = None
    ) -> Obj:
        body = self._decode(req)
        node = schemas.named(schema_name or res.schema)
        ctype = req.content_type
        if ctype == patch.MERGE_PATCH:
            return patch.merge_patch(old, body)
        if ctype == patch.JSON_PATCH:
            return patch.json_patch(old, body)
        if ctype in (patch.STRATEGIC_PATCH, patch.APPLY_PATCH):
            return patch.strategic_merge_patch(old, body, node)
        raise ApiError(
            415,
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(patch.PATCH_TYPES)}",
        )

    def _patch(self, req: Request, t: Target, status_only: bool = False) -> Response:
        old = self.store.find(t.res, t.namespace or "", t.name or "")
        if old is None:
            if req.content_type == patch.APPLY_PATCH and not status_only:
                return self._apply_create(req, t)
            self.store.get(t.res, t.namespace or "", t.name or "")
        assert old is not None
        new = self._patched(req, t.res, old)
        if not isinstance(new, dict):
            raise ApiError(422, "the patch does not result in an object")
        new.setdefault("metadata", {})
        if new["metadata"].get("name") != t.name:
            raise ApiError(400, "the name of the object does not match the name on the URL")
        if old["metadata"].get("uid") and new["metadata"].get("uid") not in (
            None,
            old["metadata"]["uid"],
        ):
            raise ApiError(
                409,
                f"Precondition failed: UID in precondition: {new['metadata']['uid']}, "
                f"UID in object meta: {old['metadata']['uid']}",
                "Conflict",
            )
        new, headers = self._fields(req, t.res, new)
        return self._store_update(req, t, new, old, status_only=status_only, headers=headers)

    def _apply_create(self, req: Request, t: Target) -> Response:
        obj = self._decode(req)
        self._check_kind(t.res, obj)
        meta = obj.setdefault("metadata", {})
        meta["name"] = t.name
        if t.res.namespaced:
            meta["namespace"] = t.namespace
            self._check_namespace(t.res, t.namespace or "")
        obj, headers = self._fields(req, t.res, obj)
        self.default_object(t.res, obj)
        validation.check_object(t.res, obj)
        if req.query.get("dryRun"):
            obj["metadata"]["uid"] = str(uuid.uuid4())
            obj["metadata"]["creationTimestamp"] = self._now()
            return self._object_response(req, t, obj, 201, headers)
        return self._object_response(req, t, self.store.create(t.res, obj), 201, headers)

    def _delete_options(self, req: Request) -> Obj:
        if not req.body.strip():
            return {}
        options = self._decode(req)
        return options if isinstance(options, dict) else {}

    def _delete(self, req: Request, t: Target) -> Response:
        options = self._delete_options(req)
        obj = self.store.get(t.res, t.namespace or "", t.name or "")
        uid = (options.get("preconditions") or {}).get("uid")
        if uid and uid != obj["metadata"]["uid"]:
            raise ApiError(
                409,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                f"{obj['metadata']['uid']}",
                "Conflict",
            )
        if req.query.get("dryRun") or options.get("dryRun"):
            return self._object_response(req, t, obj)
        policy = (
            options.get("propagationPolicy") or req.query.get("propagationPolicy") or "Background"
        )
        grace = options.get("gracePeriodSeconds", req.query.get("gracePeriodSeconds"))
        grace_seconds = None if grace is None else int(grace)
        return self._object_response(req, t, self.delete_object(t.res, obj, policy, grace_seconds))

    def delete_object(
        self,
        res: ResourceType,
        obj: Obj,
        policy: str = "Background",
        grace_seconds: int | None = None,
    ) -> Obj:
        """Delete honouring finalizers, graceful pod termination, namespaces' contents and
        the orphan policy."""
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        if res.kind == "Pod" and obj["spec"].get("nodeName") and grace_seconds != 0:
            # The node's kubelet finishes the deletion; on a lost node the pod stays Terminating.
            default_grace = obj["spec"].get("terminationGracePeriodSeconds", 30)
            return self.store.mark_deleted(
                res, obj, default_grace if grace_seconds is None else grace_seconds
            )
        if meta.get("finalizers"):
            return self.store.mark_deleted(res, obj, 0)
        if res.kind == "Namespace":
            self._empty_namespace(name)
        if policy == "Orphan":
            self._orphan(meta["uid"])
        return self.store.delete(res, ns, name)

    def _empty_namespace(self, namespace: str) -> None:
        for res in self.registry.resources:
            if res.namespaced:
                for obj in self.store.list(res, namespace):
                    obj["metadata"].pop("finalizers", None)
                    self.store.delete(res, namespace, obj["metadata"]["name"])

    def _orphan(self, uid: str) -> None:
        for res in self.registry.resources:
            for obj in self.store.list(res):
                refs = obj["metadata"].get("ownerReferences") or []
                kept = [r for r in refs if r.get("uid") != uid]
                if len(kept) != len(refs):
                    obj["metadata"]["ownerReferences"] = kept
                    self.store.update(res, obj, check_version=False)

    def _delete_collection(self, req: Request, t: Target) -> Response:
        self._delete_options(req)
        items, rv = self._matching(req, t)
        if not req.query.get("dryRun"):
            for obj in items:
                self.delete_object(t.res, obj)
        for item in items:
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return json_response(
            200,
            {
                "kind": f"{t.res.kind}List",
                "apiVersion": t.res.api_version,
                "metadata": {"resourceVersion": str(rv)},
                "items": items,
            },
        )

    # -- subresources --------------------------------------------------------------------
    def _subresource(self, req: Request, t: Target) -> Response:  # noqa: PLR0911
        sub, method = t.sub, req.method
        if sub == "status":
            if method == "GET":
                return self._object_response(
                    req, t, self.store.get(t.res, t.namespace or "", t.name or "")
                )
            if method == "PUT":
                return self._update(req, t, status_only=True)
            if method == "PATCH":
                return self._patch(req, t, status_only=True)
        elif sub == "scale":
            return self._scale(req, t)
        elif sub == "eviction" and method == "POST":
            return self._evict(req, t)
        elif sub == "binding" and method == "POST":
            return self._bind(req, t)
        elif sub == "log" and method == "GET":
            return self._log(req, t)
        elif sub == "finalize" and method == "PUT":
            body = self._decode(req)
            obj = self.store.get(t.res, "", t.name or "")
            obj.setdefault("spec", {})["finalizers"] = (body.get("spec") or {}).get(
                "finalizers"
            ) or []
            return json_response(200, self.store.update(t.res, obj, check_version=False))
        raise ApiError(405, "the server does not allow this method on the requested resource")

    def _scale(self, req: Request, t: Target) -> Response:
        obj = self.store.get(t.res, t.namespace or "", t.name or "")
        current = subresources.scale_of(obj)
        if req.method == "GET":
            return json_response(200, current)
        if req.method == "PUT":
            wanted = self._decode(req)
        elif req.method == "PATCH":
            wanted = self._patched(req, t.res, current, "io.k8s.api.autoscaling.v1.Scale")
        else:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        sent_rv = (wanted.get("metadata") or {}).get("resourceVersion")
        if sent_rv and sent_rv != obj["metadata"]["resourceVersion"]:
            obj["metadata"]["resourceVersion"] = sent_rv
        replicas = (wanted.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(
                422,
                f'Scale.autoscaling "{t.name}" is invalid: spec.replicas: Invalid value: '
                f"{replicas}: must be greater than or equal to 0",
                "Invalid",
            )
        obj["spec"]["replicas"] = replicas
        if req.query.get("dryRun"):
            return json_response(200, subresources.scale_of(obj))
        return json_response(200, subresources.scale_of(self.store.update(t.res, obj)))

    def _evict(self, req: Request, t: Target) -> Response:
        self._decode(req)
        pod = self.store.get(t.res, t.namespace or "", t.name or "")
        for pdb in self.store.list("poddisruptionbudgets", t.namespace):
            blocked = subresources.pdb_blocks(self.store, pdb, pod)
            if blocked is not None:
                raise ApiError(
                    429,
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    "TooManyRequests",
                    {"causes": [{"reason": "DisruptionBudget", "message": blocked}]},
                )
        if not req.query.get("dryRun"):
            self.delete_object(t.res, pod)
        return json_response(201, success_status(201))

    def _bind(self, req: Request, t: Target) -> Response:
        binding = self._decode(req)
        pod = self.store.get(t.res, t.namespace or "", t.name or "")
        if pod["spec"].get("nodeName"):
            raise ApiError(
                409,
                f'pod {t.name} is already assigned to node "{pod["spec"]["nodeName"]}"',
                "Conflict",
            )
        pod["spec"]["nodeName"] = (binding.get("target") or {}).get("name")
        self.store.update(t.res, pod, check_version=False)
        return json_response(201, success_status(201))

    def _log(self, req: Request, t: Target) -> Response:
        pod = self.store.get(t.res, t.namespace or "", t.name or "")
        containers = [c["name"] for c in pod["spec"].get("containers") or []]
        container = req.query.get("container") or (containers[0] if containers else "")
        if container not in containers:
            raise ApiError(400, f"container {container} is not valid for pod {t.name}")
        if pod.get("status", {}).get("phase") != "Running":
            raise ApiError(
                400,
                f'container "{container}" in pod "{t.name}" is waiting to start: ContainerCreating',
            )
        return text_response(200, subresources.log_line(pod, container))

    # -- watch ---------------------------------------------------------------------------
    def _watch(self, req: Request, t: Target) -> Response:
        wanted = watch.WatchRequest.parse(req.query, t.res, t.namespace)
        stream = watch.open_stream(
            self.store, wanted, self._watch_renderer(req, t), lambda: self.stopping
        )
        headers = {"Cache-Control": "no-cache, private", "Audit-Id": str(uuid.uuid4())}
        return Response(200, b"", "application/json", headers, stream)

    def _watch_renderer(self, req: Request, t: Target) -> Callable[[Obj], Obj]:
        """``kubectl get -w`` asks for Table rows; everyone else gets the objects."""
        if "as=Table" not in (req.headers.get("Accept") or ""):
            return lambda obj: obj
        include = req.query.get("includeObject", "Metadata")
        return lambda obj: tables.table(
            t.res.kind,
            [obj],
            obj["metadata"].get("resourceVersion", ""),
            self.clock.now(),
            include,
        )
