"""What every controller works with: the store, the API's delete logic, the clock, events."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .api import RestApi
from .clock import Clock, rfc3339
from .control import LabState
from .store import Store

Obj = dict[str, Any]


@dataclass(frozen=True)
class ControllerSettings:
    node_grace_seconds: float
    pod_eviction_seconds: float
    heartbeat_seconds: float = 10.0


class ControllerBase:
    """Shared state of the controller mixins (set by :class:`.controllers.Controllers`)."""

    store: Store
    api: RestApi
    clock: Clock
    lab: LabState
    settings: ControllerSettings

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
