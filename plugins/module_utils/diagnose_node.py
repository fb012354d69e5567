# Copyright (c) 2026, remedy.k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node side of ``remedy.k3s.diagnose_node``: what one k3s node says about itself.

Runs on the managed node with the standard library only and writes nothing: free space,
the journal's size and journald's effective limits, the k3s units, the x509 and
Unauthorized lines k3s logged, the node's clock, and whether a registry answers there.
Every probe returns data or an error string; none of them fails the module, because a
diagnosis must report a half-broken node instead of stopping at it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

DEFAULT_PATHS = ("/", "/var/log", "/var/lib/rancher")
DEFAULT_UNITS = ("k3s", "k3s-agent")
DEFAULT_REGISTRY_URLS = ("http://127.0.0.1:5000",)
JOURNAL_DIRS = ("/var/log/journal", "/run/log/journal")
JOURNALD_CONF = "/etc/systemd/journald.conf"
JOURNALD_DROPIN_DIRS = (
    "/usr/lib/systemd/journald.conf.d",
    "/usr/local/lib/systemd/journald.conf.d",
    "/run/systemd/journald.conf.d",
    "/etc/systemd/journald.conf.d",
)
JOURNALD_KEYS = (
    "Storage",
    "SystemMaxUse",
    "SystemKeepFree",
    "SystemMaxFileSize",
    "RuntimeMaxUse",
    "MaxRetentionSec",
    "RateLimitIntervalSec",
    "RateLimitBurst",
)
# journald's documented defaults: 10% / 15% of the file system, each capped at 4G.
JOURNALD_CAP = 4 << 30
UNIT_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "Result", "NRestarts")
API_ERROR = re.compile(r"x509: |Unauthorized")
X509 = "x509: "
SIZE_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def argument_spec() -> dict[str, dict[str, Any]]:
    """The options of ``remedy.k3s.diagnose_node``, shared by the module and its action."""
    return {
        "paths": {"type": "list", "elements": "path", "default": list(DEFAULT_PATHS)},
        "units": {"type": "list", "elements": "str", "default": list(DEFAULT_UNITS)},
        "journal_window": {"type": "int", "default": 3600},
        "recent_window": {"type": "int", "default": 120},
        "registry_urls": {
            "type": "list",
            "elements": "str",
            "default": list(DEFAULT_REGISTRY_URLS),
        },
        "registry_timeout": {"type": "float", "default": 3.0},
        "now": {"type": "float"},
    }


# --- disk -------------------------------------------------------------------------------


def disk_usage(path: str) -> dict[str, Any]:
    """``df``'s view of the file system holding ``path`` (use% over what users may write)."""
    try:
        st = os.statvfs(path)
    except OSError as exc:
        return {"path": path, "error": f"{exc.strerror or exc}"}
    total = st.f_blocks * st.f_frsize
    free = st.f_bavail * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    usable = used + free
    return {
        "path": path,
        "total": total,
        "used": used,
        "free": free,
        "percent": round(100.0 * used / usable, 1) if usable else 0.0,
        "inodes_free": st.f_favail,
        "fsid": st.f_fsid,
    }


# --- journald ----------------------------------------------------------------------------


def parse_size(text: str) -> int | None:
    """journald's size syntax (``64M``, ``1G``, ``512``, ``10%`` is not a size)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", text, re.IGNORECASE)
    if not match:
        return None
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2).upper()])


def parse_journald_conf(texts: Iterable[str]) -> dict[str, str]:
    """The ``[Journal]`` settings of the given files in order: the last assignment wins."""
    values: dict[str, str] = {}
    for text in texts:
        section = ""
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]").strip()
                continue
            key, sep, value = line.partition("=")
            if sep and section == "Journal" and key.strip() in JOURNALD_KEYS:
                values[key.strip()] = value.strip()
    return values


def journald_conf_files() -> list[str]:
    """The files journald reads, in the order it applies them (drop-ins sorted by name)."""
    dropins: dict[str, str] = {}
    for directory in JOURNALD_DROPIN_DIRS:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if name.endswith(".conf"):
                dropins[name] = os.path.join(directory, name)
    files = [JOURNALD_CONF] if os.path.isfile(JOURNALD_CONF) else []
    return files + [dropins[name] for name in sorted(dropins)]


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def directory_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return total


def effective_limit(configured: str | None, fs_total: int, percent: int) -> int:
    """A configured size, else journald's default: ``percent`` of the file system, max 4G."""
    size = parse_size(configured) if configured else None
    if size is not None:
        return size
    return min(fs_total * percent // 100, JOURNALD_CAP)


def journal_facts() -> dict[str, Any]:
    files = journald_conf_files()
    configured = parse_journald_conf(_read_text(path) for path in files)
    persistent = next((d for d in JOURNAL_DIRS if os.path.isdir(d)), JOURNAL_DIRS[-1])
    fs = disk_usage(persistent)
    fs_total = int(fs.get("total", 0))
    max_use = effective_limit(configured.get("SystemMaxUse"), fs_total, 10)
    return {
        "directory": persistent,
        "usage": sum(directory_size(d) for d in JOURNAL_DIRS if os.path.isdir(d)),
        "filesystem": fs,
        "config_files": files,
        "configured": configured,
        "effective": {
            "SystemMaxUse": max_use,
            "SystemKeepFree": effective_limit(configured.get("SystemKeepFree"), fs_total, 15),
            "SystemMaxFileSize": parse_size(configured.get("SystemMaxFileSize", ""))
            or max_use // 8,
            "RateLimitIntervalSec": configured.get("RateLimitIntervalSec", "30s"),
            "RateLimitBurst": int(configured.get("RateLimitBurst", "10000") or 10000),
        },
    }


# --- units and their journal ------------------------------------------------------------


def parse_systemctl_show(text: str) -> list[dict[str, str]]:
    """``systemctl show A B`` prints one blank-line-separated block per unit."""
    units: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if current:
                units.append(current)
            current = {}
            continue
        key, _, value = line.partition("=")
        current[key] = value
    return units


def unit_facts(units: list[str]) -> dict[str, dict[str, Any]]:
    props = ",".join([*UNIT_PROPERTIES, "ActiveEnterTimestamp"])
    names = [f"{u}.service" for u in units]
    try:
        proc = subprocess.run(
            ["systemctl", "show", "--timestamp=unix", "-p", props, *names],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {u: {"error": str(exc)} for u in units}
    found = {}
    for block in parse_systemctl_show(proc.stdout):
        name = block.get("Id", "").removesuffix(".service")
        stamp = block.get("ActiveEnterTimestamp", "").lstrip("@")
        found[name] = {
            "load_state": block.get("LoadState", ""),
            "active_state": block.get("ActiveState", ""),
            "sub_state": block.get("SubState", ""),
            "result": block.get("Result", ""),
            "restarts": int(block.get("NRestarts") or 0),
            "active_since": float(stamp) if stamp.replace(".", "").isdigit() else None,
        }
    return {u: found.get(u, {"load_state": "not-found"}) for u in units}


def count_api_errors(lines: Iterable[str], recent_since: float) -> dict[str, Any]:
    """Count x509 lines, and x509/Unauthorized lines since ``recent_since`` (epoch).

    Lines are journalctl's ``short-unix`` output: ``<epoch.usec> <host> <ident>: <text>``.
    """
    x509 = recent = 0
    last = ""
    for line in lines:
        if not API_ERROR.search(line):
            continue
        if X509 in line:
            x509 += 1
        stamp, _, rest = line.partition(" ")
        try:
            moment = float(stamp)
        except ValueError:
            continue
        if moment >= recent_since:
            recent += 1
            last = rest.strip()
    return {"x509_errors": x509, "recent_api_errors": recent, "last_api_error": last[:400]}


def _journal_lines(units: list[str], since: float) -> Iterator[str]:
    args = ["journalctl", "--no-pager", "-q", "-o", "short-unix", "--since", f"@{int(since)}"]
    for unit in units:
        args += ["-u", f"{unit}.service"]
    with subprocess.Popen(
        [*args, "--grep", API_ERROR.pattern],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        yield from proc.stdout


def journal_errors(
    units: list[str], now: float, window: int, recent_window: int, started: dict[str, Any]
) -> dict[str, Any]:
    """x509 lines in the last ``window`` s; API errors since the later of the recent window
    and the units' last start (a restart that fixed things must not leave a stale verdict)."""
    starts = [s["active_since"] for s in started.values() if s.get("active_since")]
    recent_since = max([now - recent_window, *starts])
    try:
        counted = count_api_errors(_journal_lines(units, now - window), recent_since)
    except OSError as exc:
        return {"error": f"journalctl: {exc}"}
    return {**counted, "window": window, "recent_since": recent_since}


# --- registry ---------------------------------------------------------------------------


def registry_catalog(url: str, timeout: float) -> dict[str, Any]:
    """GET ``<url>/v2/_catalog``: reachable or not, and the repositories it lists."""
    target = url.rstrip("/") + "/v2/_catalog"
    try:
        with urllib.request.urlopen(target, timeout=timeout) as resp:
            body = json.loads(resp.read(1 << 20).decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return {"url": url, "reachable": True, "status": exc.code, "error": str(exc.reason)}
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return {"url": url, "reachable": False, "error": str(reason)}
    repos = body.get("repositories") if isinstance(body, dict) else None
    return {"url": url, "reachable": True, "status": 200, "repositories": sorted(repos or [])}


# --- all of it ----------------------------------------------------------------------------


def collect(params: dict[str, Any]) -> dict[str, Any]:
    node_time = time.time()
    now = float(params.get("now") or node_time)
    units = unit_facts(list(params["units"]))
    return {
        "node_time": node_time,
        "disks": [disk_usage(path) for path in params["paths"]],
        "journal": journal_facts(),
        "units": units,
        "journal_errors": journal_errors(
            list(params["units"]),
            now,
            int(params["journal_window"]),
            int(params["recent_window"]),
            units,
        ),
        "registries": [
            registry_catalog(url, float(params["registry_timeout"]))
            for url in params["registry_urls"]
        ],
    }
