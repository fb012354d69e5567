"""`lab status`: the whole lab on one screen, even when the API refuses the operator."""

from __future__ import annotations

import ssl
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from labctl import kubeconfig
from labctl.context import Lab
from labctl.kubeclient import KubeClient, KubeError, node_ready
from labctl.layout import REGISTRY_PORT
from labctl.nodeprobe import NodeFacts, probe
from labctl.registry import registry_pod


@dataclass
class Access:
    """How each identity fared against the API; the first that worked supplies the data."""

    attempts: dict[str, str] = field(default_factory=dict)
    used: str = ""


def _attempt(client: KubeClient) -> str:
    try:
        client.get("/api/v1/namespaces/kube-system")
    except ssl.SSLError as err:
        reason = getattr(err, "verify_message", None) or err.reason or str(err)
        return f"TLS: the server's certificate does not verify ({reason})"
    except KubeError as err:
        return "Unauthorized" if err.status == 401 else str(err)
    except OSError as err:
        return f"unreachable: {err}"
    return "ok"


def connect(lab: Lab) -> tuple[KubeClient | None, Access]:
    access = Access()
    candidates: list[tuple[str, Any]] = [
        (f"operator kubeconfig {lab.paths.kubeconfig}", lab.operator_client),
        (
            "server's /etc/rancher/k3s/k3s.yaml (podman exec)",
            lambda: KubeClient(kubeconfig.parse(lab.server_k3s_yaml())),
        ),
        ("lab control identity (server TLS not verified)", lab.control),
    ]
    for label, make in candidates:
        try:
            client = make()
        except (OSError, ValueError, KubeError, RuntimeError) as err:
            access.attempts[label] = f"unusable: {err}"
            continue
        outcome = _attempt(client)
        access.attempts[label] = outcome
        if outcome == "ok":
            access.used = label
            return client, access
    return None, access


def collect(lab: Lab) -> dict[str, Any]:
    nodes = lab.state.nodes()
    # Node probes (podman exec) and the API run side by side: status must stay quick.
    with ThreadPoolExecutor(max_workers=len(nodes) + 1) as pool:
        connecting = pool.submit(connect, lab)
        probes = [pool.submit(probe, lab.podman, n.container, REGISTRY_PORT) for n in nodes]
        client, access = connecting.result()
        facts = {node: future.result() for node, future in zip(nodes, probes, strict=True)}
    api_nodes: dict[str, dict[str, Any]] = {}
    pods: list[dict[str, Any]] = []
    reg_pod_node = None
    if client is not None:
        api_nodes = {n["metadata"]["name"]: n for n in client.items("/api/v1/nodes")}
        pods = client.items("/api/v1/pods")
        reg_pod_node = (registry_pod(client) or {}).get("spec", {}).get("nodeName")
    per_node = Counter(p.get("spec", {}).get("nodeName") or "<pending>" for p in pods)
    report: dict[str, Any] = {
        "api": {"url": lab.api_url, "attempts": access.attempts, "used": access.used},
        "nodes": [],
        "registry": None,
    }
    for node in nodes:
        api = api_nodes.get(node.name)
        fact = facts[node]
        entry: dict[str, Any] = {
            "name": node.name,
            "container": node.container,
            "role": node.role,
            "ready": node_ready(api) if api else None,
            "taints": [
                f"{t['key']}:{t['effect']}" for t in (api or {}).get("spec", {}).get("taints") or []
            ],
            "pods": per_node.get(node.name, 0),
            "apps": sorted(
                {
                    p["metadata"]["name"].rsplit("-", 2)[0]
                    for p in pods
                    if p.get("spec", {}).get("nodeName") == node.name
                }
            ),
        }
        if isinstance(fact, NodeFacts):
            earliest = fact.earliest
            entry.update(
                certs={
                    "leaves": len(fact.leaves),
                    "expired": fact.expired,
                    "earliest": earliest["not_after"] if earliest else None,
                    "earliest_file": earliest["file"] if earliest else None,
                    "serving": fact.serving_cert,
                },
                var_log=fact.var_log(),
                units=fact.units,
                clock_skew=fact.clock_skew,
            )
        else:
            entry["probe_error"] = fact
        report["nodes"].append(entry)
    serving = {
        n.name: f.catalog
        for n, f in facts.items()
        if isinstance(f, NodeFacts) and f.catalog is not None
    }
    report["registry"] = {
        "pod_node": reg_pod_node,
        "serving": serving,
        # The registry the cluster would pull from: the pod's node, else any that answers.
        "catalog": serving.get(reg_pod_node or "", next(iter(serving.values()), None)),
    }
    report["pending_pods"] = per_node.get("<pending>", 0)
    return report


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f}M"


def render(report: dict[str, Any]) -> str:
    lines = [f"API {report['api']['url']}"]
    for label, outcome in report["api"]["attempts"].items():
        mark = "ok  " if outcome == "ok" else "FAIL"
        lines.append(f"  {mark} {label}" + ("" if outcome == "ok" else f": {outcome}"))
    if report["api"]["used"] and not report["api"]["used"].startswith("operator"):
        lines.append(f"  (cluster data below read with the {report['api']['used']})")
    header = (
        f"{'NODE':<9} {'READY':<8} {'CERTS expired/leaves, earliest':<44} {'/var/log':<16} PODS"
    )
    lines += ["", header]
    for node in report["nodes"]:
        ready = {True: "Ready", False: "NotReady", None: "?"}[node["ready"]]
        if "probe_error" in node:
            lines.append(f"{node['name']:<9} {ready:<8} probe failed: {node['probe_error']}")
            continue
        certs = node["certs"]
        cert_text = f"{certs['expired']}/{certs['leaves']} expired, {certs['earliest'] or '-'}"
        disk = node["var_log"]
        disk_text = f"{disk['percent']}% {_mib(disk['used'])}/{_mib(disk['total'])}"
        lines.append(
            f"{node['name']:<9} {ready:<8} {cert_text:<44} {disk_text:<16} "
            f"{node['pods']} {','.join(node['apps'])}"
        )
        extra = [f"{u}={s}" for u, s in node["units"].items()]
        serving = node["certs"].get("serving")
        if serving and serving.get("status") != "OK":
            extra.append(f"serving-cert={serving['status']}")
        if node.get("clock_skew"):
            extra.append(f"clock-skew={node['clock_skew']}s")
        if node["taints"]:
            extra.append("taints " + ",".join(node["taints"]))
        if extra:
            lines.append(f"{'':<9} {' '.join(extra)}")
    if report.get("pending_pods"):
        lines.append(f"pending pods: {report['pending_pods']}")
    reg = report["registry"]
    pod_at = f"pod on {reg['pod_node']}" if reg["pod_node"] else "no registry pod bound"
    if not reg["serving"]:
        lines.append(f"registry: {pod_at}; nothing answers on :5000")
    for node, catalog in reg["serving"].items():
        lines.append(f"registry on {node} ({pod_at}): {', '.join(catalog) or 'EMPTY'}")
    return "\n".join(lines)
