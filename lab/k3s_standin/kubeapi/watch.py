"""Watches: chunked JSON event streams, the initial-events bookmark, selector transitions."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from . import selectors
from .resources import ResourceType
from .store import Store, Watcher, WatchEvent

Obj = dict[str, Any]
MAX_TIMEOUT = 1800.0
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


@dataclass(frozen=True)
class WatchRequest:
    """What a ``?watch=true`` request asks for."""

    res: ResourceType
    namespace: str | None
    labels: selectors.Predicate
    fields: selectors.Predicate
    since: int | None
    initial: bool
    end_marker: bool
    timeout: float

    @classmethod
    def parse(cls, query: dict[str, str], res: ResourceType, namespace: str | None) -> WatchRequest:
        rv_text = query.get("resourceVersion", "")
        send_initial = query.get("sendInitialEvents") == "true"
        # No resourceVersion or "0" means "current state first, then changes" for a watch.
        initial = send_initial or rv_text in ("", "0")
        return cls(
            res=res,
            namespace=namespace,
            labels=selectors.label_selector(query.get("labelSelector")),
            fields=selectors.field_selector(query.get("fieldSelector")),
            since=None if initial or not rv_text.isdigit() else int(rv_text),
            initial=initial,
            end_marker=send_initial and query.get("allowWatchBookmarks") == "true",
            timeout=min(float(query.get("timeoutSeconds") or MAX_TIMEOUT), MAX_TIMEOUT),
        )

    def matches(self, obj: Obj) -> bool:
        return self.labels(obj) and self.fields(obj)


def open_stream(
    store: Store,
    wanted: WatchRequest,
    render: Callable[[Obj], Obj],
    stopping: Callable[[], bool],
) -> Iterator[bytes]:
    """Register the watch now (a forgotten resourceVersion is a 410 before any byte is
    sent) and return the stream of encoded events."""
    watcher = store.watch(wanted.res, wanted.namespace, wanted.since)
    items, rv = store.list_with_version(wanted.res, wanted.namespace) if wanted.initial else ([], 0)

    def events() -> Iterator[bytes]:
        try:
            for obj in items:
                if wanted.matches(obj):
                    yield encode("ADDED", render(obj))
            if wanted.end_marker:
                yield encode("BOOKMARK", _end_marker(wanted.res, rv))
            for kind, obj in _changes(watcher, rv, wanted, stopping):
                yield encode(kind, render(obj))
        finally:
            store.unwatch(watcher)

    return events()


def _end_marker(res: ResourceType, rv: int) -> Obj:
    return {
        "kind": res.kind,
        "apiVersion": res.api_version,
        "metadata": {"resourceVersion": str(rv), "annotations": {INITIAL_EVENTS_END: "true"}},
    }


def _changes(
    watcher: Watcher, after: int, wanted: WatchRequest, stopping: Callable[[], bool]
) -> Iterator[tuple[str, Obj]]:
    # Real time, not the lab clock: advancing the clock must not end open watches.
    deadline = time.monotonic() + wanted.timeout
    while not stopping() and time.monotonic() < deadline:
        try:
            event = watcher.events.get(timeout=0.5)
        except queue.Empty:
            continue
        if event is None:
            return
        if event.rv <= after:
            continue
        kind = filtered_type(event, wanted)
        if kind is not None:
            yield kind, event.obj


def filtered_type(event: WatchEvent, wanted: WatchRequest) -> str | None:
    """The event a selector-filtered watch sees: entering the selection is ADDED, leaving it
    DELETED, as the apiserver's watch cache reports it."""
    now = wanted.matches(event.obj)
    if event.type != "MODIFIED" or event.old is None:
        return event.type if now else None
    before = wanted.matches(event.old)
    if now:
        return "MODIFIED" if before else "ADDED"
    return "DELETED" if before else None


def encode(kind: str, obj: Obj) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"
