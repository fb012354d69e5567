"""``k3s agent``: fetch certificates with the join token, then run the kubelet stand-in.

Order as in k3s: start the local load balancer (127.0.0.1:6444 -> server), retrieve the
agent configuration and certificates (retrying every 5 s with k3s's "Waiting to retrieve
agent configuration; server is not ready" line), notify systemd, then keep the Node Ready.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import urlsplit

from k3s_standin import (
    certmonitor,
    kubelet,
    logfmt,
    nodeconfig,
    nodeobject,
    pki,
    proctitle,
    sdnotify,
    settings,
)
from k3s_standin.layout import Layout
from k3s_standin.loadbalancer import LoadBalancer
from k3s_standin.supervisorclient import (
    NodeIdentity,
    Supervisor,
    SupervisorError,
    fetch_agent_certs,
)


@dataclass(frozen=True)
class AgentRun:
    """One agent process: where it fetches from, what it dials, who it is."""

    layout: Layout
    supervisor_url: str
    api_url: str
    token: str
    node: NodeIdentity
    role: str
    node_labels: tuple[str, ...]
    node_taints: tuple[str, ...]
    node_args: list[str]


def retrieve_certs(run: AgentRun, stop: threading.Event, err: TextIO) -> bool:
    while not stop.is_set():
        try:
            supervisor = Supervisor.connect(run.supervisor_url, run.token)
            fetch_agent_certs(run.layout, supervisor, run.node)
            return True
        except (SupervisorError, OSError) as error:
            logfmt.logrus(
                "info",
                f"Waiting to retrieve agent configuration; server is not ready: {error}",
                err,
            )
            stop.wait(5)
    return False


def kubelet_config(run: AgentRun, lab: settings.LabSettings, index: int) -> kubelet.KubeletConfig:
    agent = run.layout.agent_dir
    obj = nodeobject.node(
        run.node.name,
        role=run.role,
        ips=run.node.ips,
        version=lab.version,
        pod_cidr=f"10.42.{index}.0/24",
        node_args=run.node_args,
        extra_labels=run.node_labels,
        node_taints=run.node_taints,
    )
    return kubelet.KubeletConfig(
        api_url=run.api_url,
        node_name=run.node.name,
        client_cert=agent / "client-kubelet.crt",
        client_key=agent / "client-kubelet.key",
        server_ca=agent / "server-ca.crt",
        node_object=obj,
        heartbeat_seconds=lab.heartbeat_seconds,
        storm_lines_per_second=lab.storm_lines_per_second,
        cert_events=_cert_monitor(run, lab) if lab.certificate_check else None,
    )


def _cert_monitor(run: AgentRun, lab: settings.LabSettings) -> Callable[[bool], list[dict]]:
    """k3s's cert monitor shipped with ``certificate check`` (v1.29.4)."""

    def check(first: bool) -> list[dict]:
        now = pki.utcnow()
        found = certmonitor.findings(run.layout, lab.window_days, now, first)
        return [certmonitor.event(run.node.name, *item, now) for item in found]

    return check


def pod_cidr_index(name: str) -> int:
    """A stable /24 per node name (k3s allocates them in join order; the lab cannot know it)."""
    return sum(name.encode()) % 250 + 1 if name != "server" else 0


def start_kubelet(
    run: AgentRun, lab: settings.LabSettings, stop: threading.Event, err: TextIO
) -> kubelet.Kubelet | None:
    if not retrieve_certs(run, stop, err):
        return None
    worker = kubelet.Kubelet(kubelet_config(run, lab, pod_cidr_index(run.node.name)), stop, err)
    threading.Thread(target=worker.run, name="kubelet", daemon=True).start()
    return worker


def main(argv: list[str]) -> int:
    proctitle.set_name("k3s-agent")
    config = nodeconfig.load("agent", argv)
    if not config.server_url or not config.token:
        logfmt.logrus("fatal", "--server and --token (or K3S_URL and K3S_TOKEN) are required")
        return 1
    lab = settings.load(config.layout.lab_yaml)
    err = sys.stderr
    logfmt.logrus("info", f"Starting k3s agent {lab.version}", err)
    upstream = urlsplit(config.server_url)
    balancer = LoadBalancer((upstream.hostname or "", upstream.port or 6443))
    balancer.start()
    logfmt.logrus(
        "info",
        f"Running load balancer k3s-agent-load-balancer 127.0.0.1:{balancer.port} -> "
        f"[{upstream.hostname}:{upstream.port or 6443}]",
        err,
    )
    stop = threading.Event()
    _stop_on_signals(stop)
    run = AgentRun(
        layout=config.layout,
        supervisor_url=f"https://127.0.0.1:{balancer.port}",
        api_url=f"https://127.0.0.1:{balancer.port}",
        token=config.token,
        node=NodeIdentity(config.node_name, nodeconfig.node_ips_or_default(config)),
        role="agent",
        node_labels=config.node_labels,
        node_taints=config.node_taints,
        node_args=["agent", *argv],
    )
    worker = start_kubelet(run, lab, stop, err)
    if worker is None:
        return 0
    sdnotify.notify("READY=1")
    stop.wait()
    balancer.stop()
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(_signum: int, _frame: object) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
