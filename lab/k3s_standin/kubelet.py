"""The part of a kubelet the lab needs: register the Node, keep Ready and the Lease fresh.

Every heartbeat re-reads ``client-kubelet.crt`` and the server CA from disk, so a breaker
that re-signs them takes effect at once (client-go reloads rotated client certificates too).
While the API refuses the node (401) or its certificate does not verify, the kubelet writes
the errors real kubelets write, at the lab's storm rate: that is the log storm.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from k3s_standin import certmonitor, gotls, logfmt, nodeobject, supervisorclient

Obj = dict[str, Any]
LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/"


class ApiFailure(Exception):
    """A request failed; ``reason(url)`` is the Go error text for a request to ``url``."""

    def __init__(self, reason: Callable[[str], str], storm: bool) -> None:
        super().__init__(reason("<url>"))
        self.reason = reason
        self.storm = storm


@dataclass(frozen=True)
class KubeletConfig:
    api_url: str  # what this kubelet dials: https://127.0.0.1:6444 on agents
    node_name: str
    client_cert: Path
    client_key: Path
    server_ca: Path
    node_object: Obj
    heartbeat_seconds: float = 5.0
    storm_lines_per_second: float = 40.0
    # k3s's cert monitor: (first check?) -> Events to record on the Node.
    cert_events: Callable[[bool], list[Obj]] | None = None


def micro_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Kubelet:
    def __init__(
        self, config: KubeletConfig, stop: threading.Event, out: TextIO | None = None
    ) -> None:
        self.config = config
        self.stop = stop
        self.out = out or sys.stderr
        self.started = dt.datetime.now(dt.UTC)
        self.registered = threading.Event()
        self._full_status_sent = False
        self._next_cert_check = 0.0
        self._first_cert_check = True
        self._storm = _storm_lines(config.node_name, config.api_url)

    # --- API calls ---------------------------------------------------------------------

    def _call(
        self, method: str, path: str, body: Obj | None = None, patch: bool = False
    ) -> tuple[int, Obj]:
        cfg = self.config
        url = cfg.api_url + path
        try:
            ctx = supervisorclient.client_context(
                cfg.server_ca.read_bytes(), (cfg.client_cert, cfg.client_key)
            )
        except (OSError, ssl.SSLError, ValueError) as error:
            raise ApiFailure(
                lambda _u, e=error: f"invalid client certificate: {e}", storm=False
            ) from error
        parts = urlsplit(cfg.api_url)
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port or 443, context=ctx, timeout=10
        )
        headers = {"Accept": "application/json", "User-Agent": f"k3s/{cfg.node_name} kubelet"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            kind = "application/strategic-merge-patch+json" if patch else "application/json"
            headers["Content-Type"] = kind
        try:
            conn.request(method, path + "?timeout=10s", body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except ssl.SSLCertVerificationError as error:
            text = gotls.verify_error(error, url)
            raise ApiFailure(
                lambda u, t=text, m=method: gotls.request_error(m, u, t), storm=True
            ) from error
        except OSError as error:
            host = f"{parts.hostname}:{parts.port}"
            text = gotls.os_error_text(error, host)
            raise ApiFailure(
                lambda u, t=text, m=method: gotls.request_error(m, u, t), storm=False
            ) from error
        finally:
            conn.close()
        if response.status == 401:
            raise ApiFailure(lambda _u: "Unauthorized", storm=True)
        try:
            return response.status, json.loads(payload or b"{}")
        except ValueError:
            return response.status, {}

    def beat(self) -> None:
        now = dt.datetime.now(dt.UTC)
        name = self.config.node_name
        status, current = self._call("GET", f"/api/v1/nodes/{name}")
        conditions = nodeobject.conditions(rfc3339(now), rfc3339(self.started))
        if status == 404:
            obj = json.loads(json.dumps(self.config.node_object))
            obj["status"]["conditions"] = conditions
            status, current = self._call("POST", "/api/v1/nodes", obj)
            if status in {200, 201}:
                self._log_info(
                    "kubelet_node_status.go:76", f'"Successfully registered node" node="{name}"'
                )
        elif not self._full_status_sent:
            full = dict(self.config.node_object["status"], conditions=conditions)
            self._call("PATCH", f"/api/v1/nodes/{name}/status", {"status": full}, patch=True)
            self._full_status_sent = True
        else:
            self._call(
                "PATCH",
                f"/api/v1/nodes/{name}/status",
                {"status": {"conditions": conditions}},
                patch=True,
            )
        if status >= 400:
            raise ApiFailure(
                lambda _u, s=status: f"unexpected status {s} registering node", storm=False
            )
        self._renew_lease(now, (current.get("metadata") or {}).get("uid", ""))
        self.registered.set()
        self._check_certs()

    def _check_certs(self) -> None:
        monitor = self.config.cert_events
        if monitor is None or time.monotonic() < self._next_cert_check:
            return
        for event in monitor(self._first_cert_check):
            self._call("POST", "/api/v1/namespaces/default/events", event)
        self._first_cert_check = False
        self._next_cert_check = time.monotonic() + certmonitor.INTERVAL_SECONDS

    def _renew_lease(self, now: dt.datetime, node_uid: str) -> None:
        name = self.config.node_name
        status, lease = self._call("GET", LEASE_PATH + name)
        if status == 404:
            self._call(
                "POST",
                LEASE_PATH.rsplit("/", 2)[0] + "/leases",
                nodeobject.lease(name, node_uid, micro_time(now)),
            )
            return
        lease.setdefault("spec", {})["renewTime"] = micro_time(now)
        lease["spec"]["holderIdentity"] = name
        self._call("PUT", LEASE_PATH + name, lease)

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.beat()
            except ApiFailure as failure:
                # A refused kubelet retries fast (the lease controller backs off from 200 ms),
                # so the server logs a refusal per retry: its side of the storm.
                retry = 1.0 if failure.storm else self.config.heartbeat_seconds
                self._fail_for(failure, min(retry, self.config.heartbeat_seconds))
                continue
            self.stop.wait(self.config.heartbeat_seconds)

    def _fail_for(self, failure: ApiFailure, seconds: float) -> None:
        """Write the storm for ``seconds`` (retrying as the kubelet's backoff does)."""
        rate = self.config.storm_lines_per_second * (1.0 if failure.storm else 0.2)
        tick = 0.25
        deadline = time.monotonic() + seconds
        budget = 0.0
        while not self.stop.is_set() and time.monotonic() < deadline:
            budget += rate * tick
            while budget >= 1:
                self.out.write(next(self._storm)(failure.reason) + "\n")
                budget -= 1
            self.out.flush()
            self.stop.wait(tick)

    def _log_info(self, source: str, message: str) -> None:
        self.out.write(logfmt.klog_line("I", source, message) + "\n")
        self.out.flush()


def _storm_lines(node: str, api: str) -> Iterator[Callable[[Callable[[str], str]], str]]:
    """The kubelet's and client-go's error lines, in the order a failing node repeats them."""
    quoted = logfmt.go_quote
    lease_url = f"{api}{LEASE_PATH}{node}?timeout=10s"
    node_url = f"{api}/api/v1/nodes/{node}?resourceVersion=0&timeout=10s"

    def lease(reason: Callable[[str], str]) -> str:
        err = quoted(reason(lease_url))
        message = f'"Failed to ensure lease exists, will retry" err={err} interval="7s"'
        return logfmt.klog_line("E", "controller.go:145", message)

    def status(reason: Callable[[str], str]) -> str:
        err = f'error getting node "{node}": {reason(node_url)}'
        return logfmt.klog_line(
            "E",
            "kubelet_node_status.go:535",
            f'"Error updating node status, will retry" err={quoted(err)}',
        )

    def reflector(kind: str, path: str) -> list[Callable[[Callable[[str], str]], str]]:
        joiner = "&" if "?" in path else "?"
        url = f"{api}{path}{joiner}limit=500&resourceVersion=0"
        source = "k8s.io/client-go/informers/factory.go:160"

        def warn(reason: Callable[[str], str]) -> str:
            return logfmt.klog_line(
                "W", "reflector.go:561", f"{source}: failed to list *{kind}: {reason(url)}"
            )

        def error(reason: Callable[[str], str]) -> str:
            err = f"{source}: Failed to watch *{kind}: failed to list *{kind}: {reason(url)}"
            return logfmt.klog_line(
                "E",
                "reflector.go:158",
                f'"Unhandled Error" err={quoted(err)} logger="UnhandledError"',
            )

        return [warn, error]

    cycle = [lease, status]
    for kind, path in (
        ("v1.Service", "/api/v1/services"),
        ("v1.Node", f"/api/v1/nodes?fieldSelector=metadata.name%3D{node}"),
        ("v1.RuntimeClass", "/apis/node.k8s.io/v1/runtimeclasses"),
        ("v1.CSIDriver", "/apis/storage.k8s.io/v1/csidrivers"),
        ("v1.Pod", f"/api/v1/pods?fieldSelector=spec.nodeName%3D{node}"),
    ):
        cycle += reflector(kind, path)
        cycle.append(lease)
    while True:
        yield from cycle
