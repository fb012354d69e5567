# Copyright (c) 2026, remedy.k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Turn what diagnose saw on the nodes and in the API into ranked findings.

Pure functions over plain data (what ``remedy.k3s.cert_info``, ``remedy.k3s.diagnose_node``
and ``kubernetes.core.k8s_info`` returned), so that the order and the remedies are
unit-tested without a cluster. The order is the incident's lesson: tactical problems first
(a full disk blocks everything, a skewed clock fakes certificate errors), then the
certificates, then what follows from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

SCHEMA_VERSION = 1
# Category -> rank. The stable, documented order of docs/diagnose.md.
CATEGORIES = (
    "disk",
    "clock",
    "certs",
    "serving_cert",
    "agents",
    "placement",
    "registry",
)
SEVERITIES = ("critical", "warning")
FAIL_ON = {"critical": ("critical",), "warning": ("critical", "warning"), "never": ()}
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
BAD_CERT = ("expired", "not_yet_valid")

Finding = dict[str, Any]
Data = dict[str, Any]

REMEDIES: dict[str, Data] = {
    "disk": {
        "playbook": "playbooks/free_disk.yml",
        "tags": ["disk"],
        "runbook_tags": ["disk"],
        "action": "Free space on the node(s) before anything else: nothing else can "
        "succeed on a full disk.",
    },
    "clock": {
        "playbook": None,
        "tags": [],
        "runbook_tags": ["clock"],
        "action": "Fix time sync (chrony/systemd-timesyncd) on {nodes}; a skewed clock makes valid "
        "certificates look expired or not yet valid, so do it before rotating anything.",
    },
    "certs": {
        "playbook": "playbooks/rotate_certs.yml",
        "tags": ["certs"],
        "runbook_tags": ["certs"],
        "action": "Rotate the certificates, servers first, then agents.",
    },
    "kubeconfig": {
        "playbook": "playbooks/rotate_certs.yml",
        "tags": ["kubeconfig"],
        "runbook_tags": ["certs"],
        "action": "Refresh the operator's kubeconfig from the server's /etc/rancher/k3s/k3s.yaml.",
    },
    "serving_cert": {
        "playbook": "playbooks/rotate_certs.yml",
        "tags": ["serving_cert"],
        "runbook_tags": ["certs"],
        "action": "Regenerate the API's serving certificate (k3s-serving, dynamic-cert.json), "
        "then restart CoreDNS.",
    },
    "agents": {
        "playbook": "recover.yml",
        "tags": ["agents"],
        "runbook_tags": ["agents"],
        "action": "Bring the nodes back to Ready (after the disk, clock and certificate fixes "
        "above, which are the usual cause).",
    },
    "placement": {
        "playbook": "recover.yml",
        "tags": ["placement"],
        "runbook_tags": ["placement"],
        "action": "Taint the servers and move the applications back to the agents.",
    },
    "registry": {
        "playbook": "playbooks/registry.yml",
        "tags": [],
        "runbook_tags": [],
        "action": "Restore the registry and its images; back it with a volume. "
        "playbooks/registry.yml comes with a later issue; until then, push the images again.",
    },
}


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def remedy(category: str, nodes: list[str], inventory: str = "INVENTORY") -> Data:
    base = REMEDIES[category]
    playbook, tags = base["playbook"], base["tags"]
    command = None
    if playbook:
        command = f"ansible-playbook -i {inventory} {playbook}"
        if tags:
            command += f" --tags {','.join(tags)}"
        if nodes and category in ("disk",):
            command += f" --limit {','.join(nodes)}"
    return {
        "playbook": playbook,
        "tags": list(tags),
        "command": command,
        "runbook": {"playbook": "recover.yml", "tags": list(base["runbook_tags"])},
        "action": base["action"].format(nodes=", ".join(nodes) or "the nodes"),
    }


def finding(  # noqa: PLR0917 -- every field of a finding, read in order at call sites
    fid: str,
    category: str,
    severity: str,
    title: str,
    nodes: Iterable[str],
    evidence: Iterable[str],
    inventory: str,
    remedy_category: str | None = None,
) -> Finding:
    node_list = sorted(set(nodes))
    return {
        "id": fid,
        "category": category,
        "rank": CATEGORIES.index(category) + 1,
        "severity": severity,
        "title": title,
        "nodes": node_list,
        "evidence": list(evidence),
        "remedy": remedy(remedy_category or category, node_list, inventory),
    }


# --- node-side findings -------------------------------------------------------------------


def _reachable(nodes: list[Data]) -> list[Data]:
    return [n for n in nodes if n.get("reachable") and n.get("probe")]


def disk_findings(nodes: list[Data], cfg: Data, inventory: str) -> list[Finding]:
    found: dict[str, list[tuple[str, str]]] = {"critical": [], "warning": []}
    for node in _reachable(nodes):
        seen: set[Any] = set()
        journal = node["probe"].get("journal", {})
        for disk in node["probe"].get("disks", []):
            key = (disk.get("fsid"), disk.get("total"))
            if "percent" not in disk or key in seen:
                continue
            seen.add(key)
            pct = float(disk["percent"])
            level = (
                "critical"
                if pct >= cfg["disk_critical_percent"]
                else "warning"
                if pct >= cfg["disk_warn_percent"]
                else None
            )
            if level:
                text = (
                    f"{node['name']}: {disk['path']} {pct:g}% used, "
                    f"{human_bytes(disk['free'])} free of {human_bytes(disk['total'])}"
                )
                if disk["path"].startswith("/var/log") and journal.get("usage") is not None:
                    limit = journal.get("effective", {}).get("SystemMaxUse")
                    text += f"; journal {human_bytes(journal['usage'])}"
                    if limit:
                        text += f" (journald SystemMaxUse {human_bytes(limit)})"
                found[level].append((node["name"], text))
    out = []
    if found["critical"]:
        out.append(
            finding(
                "disk_full",
                "disk",
                "critical",
                "Disk full",
                [n for n, _ in found["critical"]],
                [t for _, t in found["critical"]],
                inventory,
            )
        )
    if found["warning"]:
        out.append(
            finding(
                "disk_low",
                "disk",
                "warning",
                "Disk space low",
                [n for n, _ in found["warning"]],
                [t for _, t in found["warning"]],
                inventory,
            )
        )
    return out


def clock_findings(nodes: list[Data], cfg: Data, inventory: str) -> list[Finding]:
    hits: dict[str, list[tuple[str, str]]] = {"critical": [], "warning": []}
    for node in _reachable(nodes):
        clock = node["probe"].get("clock")
        if not clock:
            continue
        # Only what the measurement proves: the offset minus the round trip's uncertainty.
        proven = abs(float(clock["offset"])) - float(clock["uncertainty"])
        level = (
            "critical"
            if proven > cfg["clock_critical_seconds"]
            else "warning"
            if proven > cfg["clock_warn_seconds"]
            else None
        )
        if level:
            direction = "ahead of" if clock["offset"] > 0 else "behind"
            hits[level].append(
                (
                    node["name"],
                    f"{node['name']}: clock {abs(clock['offset']):.1f} s {direction} the "
                    f"controller (+/- {clock['uncertainty']:.1f} s)",
                )
            )
    return [
        finding(
            "clock_skew",
            "clock",
            level,
            "Clock skew",
            [n for n, _ in hits[level]],
            [t for _, t in hits[level]],
            inventory,
        )
        for level in SEVERITIES
        if hits[level]
    ]


def _cert_lines(node: str, certs: list[Data]) -> str:
    first = certs[0]
    names = ", ".join(sorted({c["path"].rsplit("/", 1)[-1] for c in certs})[:6])
    more = "" if len(certs) <= 6 else f" and {len(certs) - 6} more"
    return (
        f"{node}: {len(certs)} certificate(s) {first['status']} (earliest not_after "
        f"{first['not_after']}, {first['path']}): {names}{more}"
    )


def cert_findings(nodes: list[Data], inventory: str) -> list[Finding]:
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for node in nodes:
        result = node.get("certs") or {}
        entries = result.get("certificates") or []
        for category, source_ok in (
            ("certs", lambda c: c.get("source") != "dynamic"),
            ("serving_cert", lambda c: c.get("source") == "dynamic"),
        ):
            mine = [c for c in entries if source_ok(c)]
            for status_set, level in ((BAD_CERT, "critical"), (("expiring",), "warning")):
                hit = [c for c in mine if c.get("status") in status_set]
                if hit:
                    extra = ""
                    errors = (node.get("probe") or {}).get("journal_errors", {})
                    if errors.get("x509_errors"):
                        extra = (
                            f"; {errors['x509_errors']} x509 errors in the k3s journal "
                            "in the last hour"
                        )
                    groups.setdefault((category, level), []).append(
                        (node["name"], _cert_lines(node["name"], hit) + extra)
                    )
    titles = {
        ("certs", "critical"): ("certs_expired", "Certificates expired"),
        ("certs", "warning"): ("certs_expiring", "Certificates expiring soon"),
        ("serving_cert", "critical"): ("serving_cert_expired", "API serving certificate expired"),
        ("serving_cert", "warning"): ("serving_cert_expiring", "API serving certificate expiring"),
    }
    return [
        finding(
            titles[key][0],
            key[0],
            key[1],
            titles[key][1],
            [n for n, _ in hits],
            [t for _, t in hits],
            inventory,
        )
        for key, hits in groups.items()
    ]


def unit_findings(nodes: list[Data], inventory: str) -> list[Finding]:
    hits = []
    for node in _reachable(nodes):
        unit = "k3s" if "server" in node.get("roles", []) else "k3s-agent"
        state = node["probe"].get("units", {}).get(unit, {})
        if state.get("active_state") != "active":
            hits.append(
                (
                    node["name"],
                    f"{node['name']}: {unit}.service is {state.get('active_state', 'unknown')}"
                    f" ({state.get('sub_state') or state.get('load_state', '?')}, "
                    f"{state.get('restarts', 0)} restarts)",
                )
            )
    if not hits:
        return []
    return [
        finding(
            "k3s_service_down",
            "agents",
            "critical",
            "k3s is not running",
            [n for n, _ in hits],
            [t for _, t in hits],
            inventory,
        )
    ]


def unreachable_findings(nodes: list[Data], inventory: str) -> list[Finding]:
    hits = [n for n in nodes if not n.get("reachable")]
    if not hits:
        return []
    return [
        finding(
            "node_unreachable",
            "agents",
            "critical",
            "Node unreachable",
            [n["name"] for n in hits],
            [f"{n['name']}: {n.get('msg') or 'unreachable'}" for n in hits],
            inventory,
        )
    ]


# --- API findings -------------------------------------------------------------------------


def api_findings(api: Data, inventory: str) -> list[Finding]:
    attempts = api.get("attempts") or []
    out = []
    refused = [a for a in attempts if a.get("outcome") == "refused"]
    operator = next((a for a in refused if a.get("credential") == "operator"), None)
    if operator:
        server_refused = any(a.get("credential") == "server" for a in refused)
        evidence = [
            f"the operator's kubeconfig {operator.get('kubeconfig')}: {operator.get('msg')}"
        ]
        if server_refused:
            evidence.append(
                "the server's own /etc/rancher/k3s/k3s.yaml is refused too: its admin "
                "certificate expired (rotate the certificates first)"
            )
        out.append(
            finding(
                "api_credentials_refused",
                "certs",
                "critical",
                "API refuses the admin credentials",
                [],
                evidence,
                inventory,
                remedy_category="certs" if server_refused else "kubeconfig",
            )
        )
    tls = [a for a in attempts if a.get("outcome") == "tls"]
    if tls:
        out.append(
            finding(
                "serving_cert_untrusted",
                "serving_cert",
                "critical",
                "API serving certificate fails verification",
                [],
                [f"{a['credential']} kubeconfig: {a.get('msg')}" for a in tls[:2]],
                inventory,
            )
        )
    if attempts and all(a.get("outcome") in ("unreachable", "missing") for a in attempts):
        out.append(
            finding(
                "api_unreachable",
                "agents",
                "critical",
                "API unreachable",
                [],
                [
                    f"{a['credential']} kubeconfig: {a.get('msg')}"
                    for a in attempts
                    if a.get("outcome") == "unreachable"
                ]
                or ["no kubeconfig to try"],
                inventory,
            )
        )
    return out


def _ready(node: Data) -> bool:
    for cond in node.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def server_names(api_nodes: list[Data], inventory_servers: Iterable[str]) -> set[str]:
    names = set(inventory_servers)
    for node in api_nodes:
        labels = node.get("metadata", {}).get("labels") or {}
        if labels.get(CONTROL_PLANE_LABEL) == "true":
            names.add(node["metadata"]["name"])
    return names


def not_ready_findings(nodes: list[Data], api: Data, inventory: str) -> list[Finding]:
    """NotReady in the API, or (when the API cannot tell) a k3s-agent that keeps being refused."""
    hits: dict[str, str] = {}
    # Nodes whose state the API reported: their Ready condition is the answer. A server's
    # journal also holds the refusals of *other* nodes' requests (agents still presenting
    # expired certificates), so it says nothing about that server when the API can tell.
    known: set[str] = set()
    if api.get("credential"):
        known = {n["metadata"]["name"] for n in api.get("nodes") or []}
        for node in api.get("nodes") or []:
            if not _ready(node):
                name = node["metadata"]["name"]
                cond = next(
                    (
                        c
                        for c in node.get("status", {}).get("conditions") or []
                        if c.get("type") == "Ready"
                    ),
                    {},
                )
                hits[name] = (
                    f"{name}: NotReady since {cond.get('lastTransitionTime', '?')} "
                    f"({cond.get('reason', 'no Ready condition')})"
                )
    for node in _reachable(nodes):
        errors = node["probe"].get("journal_errors", {})
        if node["name"] not in known and errors.get("recent_api_errors"):
            hits[node["name"]] = (
                f"{node['name']}: k3s logged {errors['recent_api_errors']} x509/Unauthorized "
                f"errors in the last minutes, so its kubelet cannot report to the API "
                f"(last: {errors.get('last_api_error', '')[:160]})"
            )
    if not hits:
        return []
    return [
        finding(
            "nodes_not_ready",
            "agents",
            "critical",
            "Nodes NotReady",
            hits,
            [hits[n] for n in sorted(hits)],
            inventory,
        )
    ]


def _owner_kind(pod: Data) -> str:
    owners = pod.get("metadata", {}).get("ownerReferences") or []
    return owners[0].get("kind", "") if owners else ""


def app_pods(api: Data, cfg: Data) -> list[Data]:
    """Pods of the applications: not in a system namespace, not a DaemonSet's."""
    skip = set(cfg["system_namespaces"])
    return [
        p
        for p in api.get("pods") or []
        if p.get("metadata", {}).get("namespace") not in skip and _owner_kind(p) != "DaemonSet"
    ]


def _pod_name(pod: Data) -> str:
    meta = pod.get("metadata", {})
    return f"{meta.get('namespace')}/{meta.get('name')}"


def placement_findings(api: Data, cfg: Data, inventory: str) -> list[Finding]:
    if not api.get("credential"):
        return []
    servers = server_names(api.get("nodes") or [], cfg["inventory_servers"])
    apps = app_pods(api, cfg)
    on_servers = [p for p in apps if p.get("spec", {}).get("nodeName") in servers]
    out = []
    if on_servers:
        out.append(
            finding(
                "apps_on_servers",
                "placement",
                "critical",
                "Application pods run on server nodes",
                {p["spec"]["nodeName"] for p in on_servers},
                [
                    f"{_pod_name(p)} on {p['spec']['nodeName']}"
                    + (" (terminating)" if p["metadata"].get("deletionTimestamp") else "")
                    for p in on_servers
                ],
                inventory,
            )
        )
    stuck = [
        p
        for p in apps
        if p.get("status", {}).get("phase") not in ("Running", "Succeeded")
        and not p.get("metadata", {}).get("deletionTimestamp")
    ]
    if stuck:
        untainted = [
            n["metadata"]["name"]
            for n in api.get("nodes") or []
            if n["metadata"]["name"] in servers
            and not any(
                t.get("effect") in ("NoSchedule", "NoExecute")
                for t in n.get("spec", {}).get("taints") or []
            )
        ]
        evidence = [
            f"{_pod_name(p)} {p.get('status', {}).get('phase', 'Unknown')}"
            + (f" on {p['spec']['nodeName']}" if p.get("spec", {}).get("nodeName") else "")
            for p in stuck
        ]
        if untainted:
            evidence.append(
                f"servers {', '.join(sorted(untainted))} carry no NoSchedule/NoExecute taint: "
                "these pods land there as soon as a server is Ready again"
            )
        out.append(
            finding(
                "apps_not_running",
                "placement",
                "critical",
                "Application pods not running",
                untainted,
                evidence,
                inventory,
            )
        )
    return out


def _repo_of(image: str, hosts: Iterable[str]) -> str | None:
    for host in hosts:
        prefix = host.rstrip("/") + "/"
        if image.startswith(prefix):
            rest = image[len(prefix) :]
            return rest.split("@", 1)[0].rsplit(":", 1)[0] if ":" in rest else rest
    return None


def registry_findings(nodes: list[Data], api: Data, cfg: Data, inventory: str) -> list[Finding]:
    answering = [
        (node["name"], reg)
        for node in _reachable(nodes)
        for reg in node["probe"].get("registries") or []
        if reg.get("reachable") and reg.get("status") == 200
    ]
    selector = cfg["registry_labels"]
    registry_pods = [
        p
        for p in api.get("pods") or []
        if p.get("metadata", {}).get("namespace") == cfg["registry_namespace"]
        and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
    ]
    out = []
    # A registry on a node Ansible could not reach is not known to be down: that node's
    # own finding says why nothing was probed there.
    probed = {n["name"] for n in _reachable(nodes)}
    hosted = {p["spec"].get("nodeName") for p in registry_pods} - {None}
    if api.get("credential") and registry_pods and not answering and not hosted - probed:
        out.append(
            finding(
                "registry_unreachable",
                "registry",
                "critical",
                "Registry unreachable",
                {p["spec"].get("nodeName") for p in registry_pods if p["spec"].get("nodeName")},
                [
                    f"{_pod_name(p)} is {p.get('status', {}).get('phase')} on "
                    f"{p['spec'].get('nodeName') or 'no node'}; no registry answers at "
                    f"{', '.join(cfg['registry_urls'])} on any node"
                    for p in registry_pods
                ],
                inventory,
            )
        )
    wanted = sorted(
        {
            repo
            for p in api.get("pods") or []
            for c in p.get("spec", {}).get("containers") or []
            if (repo := _repo_of(str(c.get("image", "")), cfg["registry_hosts"]))
        }
    )
    missing_evidence = []
    for node, reg in answering:
        have = set(reg.get("repositories") or [])
        lacking = [r for r in wanted if r not in have]
        if not have:
            missing_evidence.append(f"{node}: the registry at {reg['url']} is empty")
        elif lacking:
            missing_evidence.append(
                f"{node}: the registry at {reg['url']} lacks {', '.join(lacking)}"
            )
    if missing_evidence:
        out.append(
            finding(
                "registry_images_missing",
                "registry",
                "critical",
                "Registry lost its images",
                [n for n, _ in answering],
                missing_evidence,
                inventory,
            )
        )
    return out


# --- all of it ----------------------------------------------------------------------------


def sort_key(item: Finding) -> tuple[int, int, str]:
    return (item["rank"], SEVERITIES.index(item["severity"]), item["id"])


def build_findings(nodes: list[Data], api: Data, cfg: Data) -> list[Finding]:
    inventory = cfg.get("inventory") or "INVENTORY"
    producers: list[Callable[[], list[Finding]]] = [
        lambda: disk_findings(nodes, cfg, inventory),
        lambda: clock_findings(nodes, cfg, inventory),
        lambda: cert_findings(nodes, inventory),
        lambda: api_findings(api, inventory),
        lambda: unreachable_findings(nodes, inventory),
        lambda: unit_findings(nodes, inventory),
        lambda: not_ready_findings(nodes, api, inventory),
        lambda: placement_findings(api, cfg, inventory),
        lambda: registry_findings(nodes, api, cfg, inventory),
    ]
    found = sorted((f for produce in producers for f in produce()), key=sort_key)
    for position, item in enumerate(found, start=1):
        item["order"] = position
    return found


def summary(findings: list[Finding], fail_on: str) -> Data:
    counts = {level: sum(1 for f in findings if f["severity"] == level) for level in SEVERITIES}
    worst = next((level for level in SEVERITIES if counts[level]), None)
    return {
        "total": len(findings),
        **counts,
        "worst": worst,
        "categories": [c for c in CATEGORIES if any(f["category"] == c for f in findings)],
        "fail_on": fail_on,
        "needs_attention": any(f["severity"] in FAIL_ON[fail_on] for f in findings),
    }


# --- the API's answer, the report -------------------------------------------------------

API_OUTCOMES = (
    ("refused", ("401", "Unauthorized")),
    ("tls", ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "certificate has expired")),
    (
        "unreachable",
        (
            "Connection refused",
            "Max retries exceeded",
            "timed out",
            "Name or service not known",
            "No route to host",
        ),
    ),
)


def api_outcome(result: Data) -> str:
    """``ok``, ``refused`` (401), ``tls`` (serving certificate), ``unreachable`` or ``error``."""
    if not result.get("failed") and "resources" in result:
        return "ok"
    text = " ".join(str(result.get(k, "")) for k in ("msg", "reason", "status", "error"))
    return next(
        (outcome for outcome, marks in API_OUTCOMES if any(m in text for m in marks)), "error"
    )


def api_message(result: Data, limit: int = 300) -> str:
    """The first line that says why, without the kubernetes client's HTTP header dump."""
    text = str(result.get("msg") or result.get("reason") or "")
    verify = re.search(r"certificate verify failed: [^(')]*", text)
    if verify:
        return "TLS " + verify.group(0).strip()
    # The kubernetes client appends its traceback and HTTP headers: the cause comes first.
    text = text.split("Original traceback", 1)[0].split("HTTP response headers", 1)[0]
    text = text.split("' raised while", 1)[0].removeprefix("Exception '")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("HTTP response headers", "HTTP "))]
    return " ".join(useful)[:limit] if useful else "ok"


def markdown(report: Data) -> str:
    """The human half of the report: what is wrong, in which order to fix it, and how."""
    head = report["summary"]
    lines = [
        f"# k3s diagnosis {report['generated_at']}",
        "",
        f"- Nodes: {', '.join(n['name'] for n in report['nodes'])}",
        f"- API: {report['api']['endpoint']} ({report['api']['status']})",
        f"- Findings: {head['total']} ({head['critical']} critical, {head['warning']} warning)",
        "",
    ]
    if not report["findings"]:
        lines += ["No findings: the cluster looks healthy.", ""]
    for item in report["findings"]:
        lines += [
            f"## {item['order']}. [{item['severity'].upper()}] {item['title']} (`{item['id']}`, "
            f"rank {item['rank']} {item['category']})",
            "",
        ]
        if item["nodes"]:
            lines.append(f"Nodes: {', '.join(item['nodes'])}")
            lines.append("")
        lines += [f"- {text}" for text in item["evidence"]]
        fix = item["remedy"]
        lines += ["", f"Fix: {fix['action']}"]
        if fix["command"]:
            lines.append(f"`{fix['command']}`")
        if fix["runbook"]["tags"]:
            lines.append(
                f"(or the runbook: `ansible-playbook {fix['runbook']['playbook']} "
                f"--tags {','.join(fix['runbook']['tags'])}`)"
            )
        lines.append("")
    lines += ["## Credentials tried", ""]
    lines += [
        f"- {a['credential']}: {a['outcome']}"
        + ("" if a.get("validate_certs", True) else " (serving certificate not verified)")
        + (f": {a['msg']}" if a.get("msg") and a["outcome"] != "ok" else "")
        for a in report["api"]["attempts"]
    ]
    return "\n".join(lines) + "\n"


def node_summary(node: Data) -> Data:
    """What the report keeps of a node's probes: enough to explain its findings."""
    certs = node.get("certs") or {}
    probe = node.get("probe") or {}
    journal = probe.get("journal") or {}
    return {
        "name": node["name"],
        "roles": node.get("roles", []),
        "reachable": bool(node.get("reachable")),
        "msg": node.get("msg", ""),
        "errors": node.get("errors", []),
        "certificates": certs.get("summary"),
        "certificate_errors": certs.get("errors", []),
        "disks": probe.get("disks", []),
        "journal": {
            "usage": journal.get("usage"),
            "effective": journal.get("effective"),
            "configured": journal.get("configured"),
        },
        "units": probe.get("units", {}),
        "journal_errors": probe.get("journal_errors", {}),
        "clock": probe.get("clock"),
        "registries": probe.get("registries", []),
    }


def event_reasons(events: list[Data]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        reason = str(event.get("reason") or "Unknown")
        counts[reason] = counts.get(reason, 0) + int(event.get("count") or 1)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def summary_lines(findings: list[Finding]) -> list[str]:
    """One line per finding, in order, with the fix: the end-of-run summary."""
    if not findings:
        return ["No findings: the cluster looks healthy."]
    lines = []
    for item in findings:
        where = f" [{', '.join(item['nodes'])}]" if item["nodes"] else ""
        fix = item["remedy"]
        how = (
            f"{fix['playbook']}" + (f" --tags {','.join(fix['tags'])}" if fix["tags"] else "")
            if fix["playbook"]
            else fix["action"].split(";")[0]
        )
        lines.append(
            f"{item['order']}. {item['severity'].upper()} {item['id']}{where}: "
            f"{item['title']} -> {how}"
        )
    return lines
