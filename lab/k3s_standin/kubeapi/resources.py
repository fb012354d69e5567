"""The resource types the stand-in serves, as discovery and the REST layer see them."""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class ResourceType:
    """One REST resource (``deployments`` in ``apps/v1``) and what it supports."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    schema: str = ""
    has_generation: bool = False

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """Store key, the way the apiserver names a resource in messages (``deployments.apps``)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_version(self) -> str:
        return self.api_version


@dataclass(frozen=True)
class GroupVersion:
    group: str
    version: str
    resources: tuple[ResourceType, ...] = field(default_factory=tuple)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _core(kind: str, plural: str, namespaced: bool, schema: str, **kw: object) -> ResourceType:
    return ResourceType(
        "", "v1", kind, plural, namespaced, schema=f"io.k8s.api.core.v1.{schema}", **kw
    )  # type: ignore[arg-type]


RESOURCES: tuple[ResourceType, ...] = (
    _core(
        "Namespace",
        "namespaces",
        False,
        "Namespace",
        short_names=("ns",),
        subresources=("status", "finalize"),
    ),
    _core("Node", "nodes", False, "Node", short_names=("no",), subresources=("status", "proxy")),
    _core(
        "Pod",
        "pods",
        True,
        "Pod",
        short_names=("po",),
        categories=("all",),
        subresources=("status", "eviction", "log", "binding"),
    ),
    _core(
        "Service",
        "services",
        True,
        "Service",
        short_names=("svc",),
        categories=("all",),
        subresources=("status", "proxy"),
    ),
    _core("Secret", "secrets", True, "Secret"),
    _core("ConfigMap", "configmaps", True, "ConfigMap", short_names=("cm",)),
    _core(
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        True,
        "PersistentVolumeClaim",
        short_names=("pvc",),
        subresources=("status",),
    ),
    _core(
        "PersistentVolume",
        "persistentvolumes",
        False,
        "PersistentVolume",
        short_names=("pv",),
        subresources=("status",),
    ),
    _core("Event", "events", True, "Event", short_names=("ev",)),
    _core("ServiceAccount", "serviceaccounts", True, "ServiceAccount", short_names=("sa",)),
    _core("Endpoints", "endpoints", True, "Endpoints", short_names=("ep",)),
    ResourceType(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        short_names=("deploy",),
        categories=("all",),
        subresources=("scale", "status"),
        schema="io.k8s.api.apps.v1.Deployment",
        has_generation=True,
    ),
    ResourceType(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        True,
        short_names=("rs",),
        categories=("all",),
        subresources=("scale", "status"),
        schema="io.k8s.api.apps.v1.ReplicaSet",
        has_generation=True,
    ),
    ResourceType(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        True,
        short_names=("ds",),
        categories=("all",),
        subresources=("status",),
        schema="io.k8s.api.apps.v1.DaemonSet",
        has_generation=True,
    ),
    ResourceType(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        True,
        schema="io.k8s.api.coordination.v1.Lease",
    ),
    ResourceType(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        True,
        short_names=("pdb",),
        subresources=("status",),
        schema="io.k8s.api.policy.v1.PodDisruptionBudget",
        has_generation=True,
    ),
    ResourceType(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        False,
        short_names=("sc",),
        schema="io.k8s.api.storage.v1.StorageClass",
    ),
)

# Subresources whose object is of another group/kind (discovery must say so).
SUBRESOURCE_KINDS: dict[str, tuple[str, str, str]] = {
    "scale": ("autoscaling", "v1", "Scale"),
    "eviction": ("policy", "v1", "Eviction"),
    "binding": ("", "v1", "Binding"),
    "proxy": ("", "v1", "NodeProxyOptions"),
}
SUBRESOURCE_VERBS: dict[str, tuple[str, ...]] = {
    "status": STATUS_VERBS,
    "scale": STATUS_VERBS,
    "eviction": ("create",),
    "binding": ("create",),
    "log": ("get",),
    "finalize": ("update",),
    "proxy": ("create", "delete", "get", "patch", "update"),
}


class UnknownResourceError(LookupError):
    """A name that matches no served resource."""


class Registry:
    """Lookup of resource types by path segment, kind or kubectl-style short name."""

    def __init__(self, resources: tuple[ResourceType, ...] = RESOURCES) -> None:
        self.resources = resources

    def group_versions(self) -> list[GroupVersion]:
        order: list[tuple[str, str]] = []
        for res in self.resources:
            if (res.group, res.version) not in order:
                order.append((res.group, res.version))
        return [
            GroupVersion(g, v, tuple(r for r in self.resources if (r.group, r.version) == (g, v)))
            for g, v in order
        ]

    def by_path(self, group: str, version: str, plural: str) -> ResourceType:
        for res in self.resources:
            if (res.group, res.version, res.plural) == (group, version, plural):
                return res
        raise UnknownResourceError(f"{plural}.{group}/{version}" if group else plural)

    def by_kind(self, api_version: str, kind: str) -> ResourceType:
        for res in self.resources:
            if res.api_version == api_version and res.kind == kind:
                return res
        raise UnknownResourceError(f"{kind} in {api_version}")

    def lookup(self, name: str) -> ResourceType:
        """Resolve ``pods``, ``Pod``, ``po``, ``deployments.apps`` or ``deployment``."""
        wanted = name.lower()
        for res in self.resources:
            names = {res.plural, res.singular, res.key, res.kind.lower(), *res.short_names}
            if wanted in names:
                return res
        raise UnknownResourceError(name)
