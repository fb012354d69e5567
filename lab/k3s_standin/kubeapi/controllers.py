"""Minimal but honest controllers: deployments, replica sets, scheduler, kubelets, node
lifecycle (NotReady, unreachable taint, eviction) and garbage collection.

They run in one background loop, woken by every store change, and write only when
something really changes (so a settled cluster keeps its resourceVersions).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .api import RestApi
from .clock import Clock
from .control import LabState
from .controllerbase import ControllerSettings
from .errors import ApiError
from .nodes import EXTERNAL_KUBELET, NodeControllers
from .store import Store
from .workloads import WorkloadControllers

LOG = logging.getLogger(__name__)
__all__ = ["EXTERNAL_KUBELET", "ControllerSettings", "Controllers"]


class Controllers(NodeControllers, WorkloadControllers):
    """The reconcile loop; :meth:`reconcile_once` is also what tests call to settle the state."""

    def __init__(
        self, store: Store, api: RestApi, clock: Clock, lab: LabState, settings: ControllerSettings
    ) -> None:
        self.store = store
        self.api = api
        self.clock = clock
        self.lab = lab
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kubeapi-controllers", daemon=True)
        self._pass_lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.store.changed.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.store.changed.wait(timeout=1.0)
            self.store.changed.clear()
            if self._stop.is_set():
                return
            try:
                self.reconcile_once()
            except Exception:
                LOG.exception("reconcile pass failed")

    def reconcile_once(self) -> None:
        """One pass of every controller.

        Controllers write with the resourceVersion they read, like real ones: when a client
        changed the object meanwhile, the write is a 409 and the next pass starts over from
        the client's version instead of undoing it.
        """
        with self._pass_lock:
            now = self.clock.now()
            steps: list[Callable[[], None]] = [
                lambda: self._kubelets(now),
                lambda: self._node_lifecycle(now),
                self._garbage_collect,
                lambda: self._deployments(now),
                lambda: self._replicasets(now),
                lambda: self._schedule(now),
                self._provision_volumes,
                lambda: self._pods_on_nodes(now),
                self._replicaset_status,
                lambda: self._deployment_status(now),
                self._service_accounts,
                lambda: self._expire_events(now),
            ]
            for step in steps:
                try:
                    step()
                except ApiError as err:
                    LOG.debug("controller step lost a race, retrying next pass: %s", err.message)
                    self.store.changed.set()
