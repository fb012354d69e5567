"""`lab break`: the incident's failures, one by one or all in the article's order.

Node-local damage is done by `k3s-lab break ...` inside the nodes (the stand-in's own
primitives); what happens between nodes or on the controller is done here, through the API
and the operator's files, the way the cluster itself would have got there.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from cryptography import x509

from labctl import kubeconfig, registry, scheduling
from labctl.context import SERVER_TLS, Lab
from labctl.kubeclient import node_ready
from labctl.layout import REGISTRY_PORT, Node
from labctl.registry import registry_node, registry_pod
from labctl.waiting import wait_for

Say = Callable[[str], None]

# The article's order: the year passes, the operator's kubeconfig is stale, the agents'
# x509 storm fills the disks, the apps pile onto the server, the registry restarts empty,
# a node's clock is off, and the central serving certificate is expired too.
INCIDENT = (
    "certs-expired",
    "kubeconfig-stale",
    "log-storm",
    "server-scheduling",
    "registry-lost",
    "clock-skew",
    "serving-cert-expired",
)


@dataclass(frozen=True)
class BreakOptions:
    skew_hours: float | None = None
    skew_node: str | None = None


def _k3s_lab(lab: Lab, nodes: list[Node], args: list[str], stdin: bytes | None = None) -> None:
    """Run `k3s-lab ARGS` in the nodes, in parallel (breaking must take seconds)."""

    def one(node: Node) -> None:
        lab.podman.exec(node.container, ["k3s-lab", *args], input_bytes=stdin, timeout=120)

    with ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
        for future in [pool.submit(one, n) for n in nodes]:
            future.result()


def certs_expired(lab: Lab, opts: BreakOptions, say: Say) -> None:
    # Agents hold no CA keys: hand them the server's (as a joining server would get them).
    bundle = lab.podman.exec(lab.state.server.container, ["k3s-lab", "ca-bundle"]).stdout
    _k3s_lab(lab, lab.state.nodes(), ["break", "certs-expired", "--ca-from", "-"], bundle.encode())
    say("leaves re-signed to have expired yesterday on every node")


def _served_cert_expired(lab: Lab) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection(("127.0.0.1", lab.state.api_port), timeout=3) as sock,
            ctx.wrap_socket(sock) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except OSError:
        return False
    return der is not None and x509.load_der_x509_certificate(der).not_valid_after_utc < (
        dt.datetime.now(dt.UTC)
    )


def serving_cert_expired(lab: Lab, opts: BreakOptions, say: Say) -> None:
    _k3s_lab(lab, [lab.state.server], ["break", "serving-cert-expired"])
    # The running server swaps the certificate it serves within seconds: wait for it.
    wait_for("the server to serve the expired certificate", lambda: _served_cert_expired(lab), 30)
    say("k3s-serving / dynamic-cert.json expired on the server")


def log_storm(lab: Lab, opts: BreakOptions, say: Say) -> None:
    _k3s_lab(lab, lab.state.nodes(), ["break", "log-storm"])
    say("/var/log filled on every node")


def clock_skew(lab: Lab, opts: BreakOptions, say: Say) -> None:
    node = lab.state.node(opts.skew_node) if opts.skew_node else lab.state.agent_nodes()[-1]
    args = ["break", "clock-skew"]
    if opts.skew_hours is not None:
        args += ["--hours", f"{opts.skew_hours:g}"]
    _k3s_lab(lab, [node], args)
    say(f"clock of {node.name} skewed")


def kubeconfig_stale(lab: Lab, opts: BreakOptions, say: Say) -> None:
    """The operator's copy keeps last year's admin cert: signed by the real client CA."""
    server = lab.state.server.container
    ca_pem = lab.podman.read_file(server, f"{SERVER_TLS}/client-ca.crt").encode()
    ca_key = lab.podman.read_file(server, f"{SERVER_TLS}/client-ca.key").encode()
    current = kubeconfig.parse(lab.paths.kubeconfig.read_text())
    now = dt.datetime.now(dt.UTC)
    cert, key = kubeconfig.issue_client_cert(
        ca_pem,
        ca_key,
        common_name="system:admin",
        groups=["system:masters"],
        not_before=now - dt.timedelta(days=366),
        not_after=now - dt.timedelta(days=1),
    )
    stale = kubeconfig.Credentials(current.server, current.ca_pem, cert, key)
    kubeconfig.write_private(lab.paths.kubeconfig, kubeconfig.render(stale))
    say(f"{lab.paths.kubeconfig} now holds an admin cert that expired yesterday")


def server_scheduling(lab: Lab, opts: BreakOptions, say: Say) -> None:
    """Do now what the taint manager does after 300 s of NotReady agents: evict to the server.

    The server is untainted (k3s's default), the agents are kept out while their pods are
    re-created, then let back in: the end state is the incident's, apps on the server.
    """
    client = lab.control()
    server = lab.state.server.name
    node = client.get(f"/api/v1/nodes/{server}")
    if not node_ready(node):
        raise RuntimeError(
            f"{server} is NotReady, so nothing can be scheduled onto it: run server-scheduling "
            "before certs-expired / serving-cert-expired (`lab break incident` does), or "
            "recover the server first"
        )
    kept = [t for t in scheduling.taints(node) if t["key"].startswith("node.kubernetes.io/")]
    scheduling.set_taints(client, server, kept)
    client.merge_patch(f"/api/v1/nodes/{server}", {"spec": {"unschedulable": None}})
    agents = {n.name for n in lab.state.agent_nodes()}
    moved = scheduling.move_replicaset_pods(client, agents, None)
    on_server = [
        p for p in scheduling.replicaset_pods(client, None) if p["spec"].get("nodeName") == server
    ]
    say(f"{moved} pods evicted from the agents; {len(on_server)} now run on {server}")


def registry_lost(lab: Lab, opts: BreakOptions, say: Say) -> None:
    """Restart the registry pod; without a volume its new container starts empty."""
    client = lab.control()
    old = registry_pod(client)
    if old is None:
        raise RuntimeError("no registry pod (label app=registry) in the cluster: is the lab up?")
    node_name = old.get("spec", {}).get("nodeName")
    if node_name and not node_ready(client.get(f"/api/v1/nodes/{node_name}")):
        raise RuntimeError(
            f"the registry's node {node_name} is NotReady, so its kubelet cannot restart the "
            "pod: run registry-lost before certs-expired (`lab break incident` does)"
        )
    old_uid = old["metadata"]["uid"]
    holder: list[list[str]] = []

    def replaced_and_answering() -> bool:
        pod = registry_pod(client)
        node = registry_node(lab, client)
        if pod is None or pod["metadata"]["uid"] == old_uid or node is None:
            return False
        # Until the node's runner has switched, the old registry still answers.
        if registry.serving_pod_uid(lab.podman, node.container) != pod["metadata"]["uid"]:
            return False
        names = registry.catalog(lab.podman, node.container, REGISTRY_PORT)
        if names is None:
            return False
        holder.append(names)
        return True

    # Restarted in place, as a crashed or updated pod is: the other nodes are kept out.
    others = {n.name for n in lab.state.nodes()} - {node_name or ""}
    with scheduling.kept_out(client, others):
        scheduling.delete_pods(client, [old])
        wait_for("the new registry pod to answer on :5000", replaced_and_answering, 90, 1.0)
    say(f"registry pod restarted without a volume; catalog now {holder[-1] or 'empty'}")


NEED_WORKING_API = ("server-scheduling", "registry-lost")

BREAKERS: dict[str, Callable[[Lab, BreakOptions, Say], None]] = {
    "certs-expired": certs_expired,
    "kubeconfig-stale": kubeconfig_stale,
    "log-storm": log_storm,
    "server-scheduling": server_scheduling,
    "registry-lost": registry_lost,
    "clock-skew": clock_skew,
    "serving-cert-expired": serving_cert_expired,
}


def expand(scenarios: list[str], without: list[str]) -> list[str]:
    """`incident` expands to every breaker in the article's order; duplicates are dropped."""
    unknown = [s for s in [*scenarios, *without] if s not in BREAKERS and s != "incident"]
    if unknown:
        raise ValueError(
            f"unknown scenario(s) {', '.join(unknown)}; choose from incident, {', '.join(INCIDENT)}"
        )
    ordered: list[str] = []
    for scenario in scenarios:
        for name in INCIDENT if scenario == "incident" else (scenario,):
            if name not in ordered and name not in without:
                ordered.append(name)
    return ordered


def execution_order(scenarios: list[str]) -> list[str]:
    """The API-side breakers first: they need nodes that still talk to the API.

    In the incident the apps moved and the registry restarted while the server still
    worked; in the lab `certs-expired` and `serving-cert-expired` cut every kubelet off at
    once, the server's included, so nothing could be rescheduled after them. The end state
    is the same as in the article's order.
    """
    first = [s for s in scenarios if s in NEED_WORKING_API]
    return first + [s for s in scenarios if s not in NEED_WORKING_API]


def run(lab: Lab, scenarios: list[str], opts: BreakOptions, say: Say) -> dict[str, float]:
    timings: dict[str, float] = {}
    for name in execution_order(scenarios):
        start = time.monotonic()
        BREAKERS[name](lab, opts, lambda msg, n=name: say(f"[{n}] {msg}"))
        timings[name] = time.monotonic() - start
        say(f"[{name}] done in {timings[name]:.1f}s")
    return timings
