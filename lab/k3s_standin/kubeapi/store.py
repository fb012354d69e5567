"""Objects by resource, a global resourceVersion, watch fan-out and a JSON file on disk."""

from __future__ import annotations

import copy
import json
import queue
import random
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .clock import Clock, rfc3339
from .errors import ApiError, already_exists, conflict, not_found
from .resources import Registry, ResourceType

Obj = dict[str, Any]
HISTORY = 5000
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


@dataclass
class WatchEvent:
    rv: int
    type: str
    key: str
    obj: Obj
    old: Obj | None = None


@dataclass
class Watcher:
    """One open watch: events for one resource (optionally one namespace) are queued here."""

    key: str
    namespace: str | None
    events: queue.Queue[WatchEvent | None] = field(default_factory=queue.Queue)


class Store:
    """Thread-safe object store; every mutation bumps the resourceVersion and is persisted."""

    def __init__(self, registry: Registry, clock: Clock, state_file: Path | None) -> None:
        self.registry = registry
        self.clock = clock
        self._state_file = state_file
        self._lock = threading.RLock()
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {
            res.key: {} for res in registry.resources
        }
        self._rv = 1
        self._history: deque[WatchEvent] = deque(maxlen=HISTORY)
        self._watchers: list[Watcher] = []
        self.changed = threading.Event()
        if state_file is not None and state_file.exists():
            self._load(state_file)

    # -- lookup helpers ------------------------------------------------------------------
    def resource(self, kind: str | ResourceType) -> ResourceType:
        return kind if isinstance(kind, ResourceType) else self.registry.lookup(kind)

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def oldest_resource_version(self) -> int:
        with self._lock:
            return self._history[0].rv if self._history else self._rv

    # -- reads ---------------------------------------------------------------------------
    def get(self, kind: str | ResourceType, namespace: str, name: str) -> Obj:
        res = self.resource(kind)
        with self._lock:
            obj = self._objects[res.key].get((namespace if res.namespaced else "", name))
            if obj is None:
                raise not_found(res.key, name, res.group, res.plural)
            return copy.deepcopy(obj)

    def find(self, kind: str | ResourceType, namespace: str, name: str) -> Obj | None:
        try:
            return self.get(kind, namespace, name)
        except ApiError:
            return None

    def list(self, kind: str | ResourceType, namespace: str | None = None) -> list[Obj]:
        return self.list_with_version(kind, namespace)[0]

    def list_with_version(
        self, kind: str | ResourceType, namespace: str | None = None
    ) -> tuple[list[Obj], int]:
        res = self.resource(kind)
        with self._lock:
            items = [
                copy.deepcopy(obj)
                for (ns, _), obj in sorted(self._objects[res.key].items())
                if namespace is None or ns == namespace
            ]
            return items, self._rv

    def uids(self) -> set[str]:
        with self._lock:
            return {
                obj["metadata"]["uid"] for objs in self._objects.values() for obj in objs.values()
            }

    # -- writes --------------------------------------------------------------------------
    def create(self, kind: str | ResourceType, obj: Obj) -> Obj:
        res = self.resource(kind)
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choices(_NAME_CHARS, k=5))
        if not res.namespaced:
            meta.pop("namespace", None)
        ident = (meta.get("namespace", "") if res.namespaced else "", meta.get("name", ""))
        with self._lock:
            if ident in self._objects[res.key]:
                raise already_exists(res.key, ident[1], res.group, res.plural)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = rfc3339(self.clock.now())
            meta.pop("deletionTimestamp", None)
            if res.has_generation:
                meta["generation"] = 1
            return self._commit(res, ident, obj, "ADDED")

    def update(self, kind: str | ResourceType, obj: Obj, *, check_version: bool = True) -> Obj:
        """Replace an object; a stale ``resourceVersion`` in ``obj`` is a 409 Conflict."""
        res = self.resource(kind)
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        ident = (meta.get("namespace", "") if res.namespaced else "", meta.get("name", ""))
        with self._lock:
            old = self._objects[res.key].get(ident)
            if old is None:
                raise not_found(res.key, ident[1], res.group, res.plural)
            sent = meta.get("resourceVersion")
            if check_version and sent and sent != old["metadata"]["resourceVersion"]:
                raise conflict(res.key, ident[1], res.group, res.plural)
            for keep in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ):
                if keep in old["metadata"]:
                    meta[keep] = old["metadata"][keep]
                else:
                    meta.pop(keep, None)
            if not res.namespaced:
                meta.pop("namespace", None)
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            if obj == old:
                return copy.deepcopy(old)
            if (
                meta.get("deletionTimestamp")
                and old["metadata"].get("finalizers")
                and not meta.get("finalizers")
            ):
                # The last finalizer is gone: the deletion that waited for it happens now.
                del self._objects[res.key][ident]
                self._rv += 1
                meta["resourceVersion"] = str(self._rv)
                self._publish(WatchEvent(self._rv, "DELETED", res.key, copy.deepcopy(obj)))
                self._save()
                return copy.deepcopy(obj)
            if res.has_generation and _spec_changed(old, obj):
                meta["generation"] = old["metadata"].get("generation", 1) + 1
            return self._commit(res, ident, obj, "MODIFIED")

    def mark_deleted(self, kind: str | ResourceType, obj: Obj, grace_seconds: int) -> Obj:
        """Set ``deletionTimestamp`` (which no update may change) on a stored object."""
        res = self.resource(kind)
        meta = obj["metadata"]
        ident = (meta.get("namespace", "") if res.namespaced else "", meta["name"])
        with self._lock:
            current = self._objects[res.key].get(ident)
            if current is None:
                raise not_found(res.key, ident[1], res.group, res.plural)
            if current["metadata"].get("deletionTimestamp"):
                return copy.deepcopy(current)
            marked = copy.deepcopy(current)
            marked["metadata"]["deletionTimestamp"] = rfc3339(self.clock.now())
            marked["metadata"]["deletionGracePeriodSeconds"] = grace_seconds
            return self._commit(res, ident, marked, "MODIFIED")

    def delete(self, kind: str | ResourceType, namespace: str, name: str) -> Obj:
        res = self.resource(kind)
        ident = (namespace if res.namespaced else "", name)
        with self._lock:
            obj = self._objects[res.key].pop(ident, None)
            if obj is None:
                raise not_found(res.key, name, res.group, res.plural)
            self._rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self._rv)
            self._publish(WatchEvent(self._rv, "DELETED", res.key, obj))
            self._save()
            return copy.deepcopy(obj)

    def _commit(self, res: ResourceType, ident: tuple[str, str], obj: Obj, kind: str) -> Obj:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        old = self._objects[res.key].get(ident)
        self._objects[res.key][ident] = obj
        self._publish(WatchEvent(self._rv, kind, res.key, copy.deepcopy(obj), old))
        self._save()
        return copy.deepcopy(obj)

    # -- watch ---------------------------------------------------------------------------
    def _publish(self, event: WatchEvent) -> None:
        self._history.append(event)
        for watcher in self._watchers:
            if watcher.key == event.key and (
                watcher.namespace is None
                or event.obj["metadata"].get("namespace", "") == watcher.namespace
            ):
                watcher.events.put(event)
        self.changed.set()

    def watch(self, res: ResourceType, namespace: str | None, since: int | None) -> Watcher:
        """Open a watch; with ``since``, replay later events (410 Gone when they are forgotten)."""
        watcher = Watcher(res.key, namespace)
        with self._lock:
            if since is not None and since < self._rv:
                if self._history and since < self._history[0].rv - 1:
                    raise ApiError(
                        410,
                        f"too old resource version: {since} ({self._history[0].rv - 1})",
                        "Expired",
                    )
                for event in self._history:
                    if (
                        event.rv > since
                        and event.key == res.key
                        and (
                            namespace is None
                            or event.obj["metadata"].get("namespace", "") == namespace
                        )
                    ):
                        watcher.events.put(event)
            self._watchers.append(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        with self._lock:
            if watcher in self._watchers:
                self._watchers.remove(watcher)

    def close_watches(self) -> None:
        with self._lock:
            for watcher in self._watchers:
                watcher.events.put(None)
            self._watchers.clear()

    # -- persistence ---------------------------------------------------------------------
    def _save(self) -> None:
        if self._state_file is None:
            return
        state = {
            "resourceVersion": self._rv,
            "objects": {key: list(objs.values()) for key, objs in self._objects.items() if objs},
        }
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, separators=(",", ":")))
        tmp.replace(self._state_file)

    def _load(self, path: Path) -> None:
        state = json.loads(path.read_text())
        self._rv = int(state["resourceVersion"])
        for key, objs in state["objects"].items():
            if key not in self._objects:
                continue
            res = self.registry.lookup(key)
            for obj in objs:
                meta = obj["metadata"]
                ns = meta.get("namespace", "") if res.namespaced else ""
                self._objects[key][(ns, meta["name"])] = obj


def _spec_changed(old: Obj, new: Obj) -> bool:
    ignored = {"metadata", "status", "apiVersion", "kind"}
    return {k: v for k, v in old.items() if k not in ignored} != {
        k: v for k, v in new.items() if k not in ignored
    }
