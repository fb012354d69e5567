"""``k3s-lab``: the node-local half of the lab's breakers, and facts for ``lab status``.

    k3s-lab break certs-expired [--ca-from FILE|-]
    k3s-lab break serving-cert-expired
    k3s-lab break log-storm [--keep-free BYTES]
    k3s-lab break clock-skew [--hours N]       (N < 0: behind; default -8)
    k3s-lab heal clock-skew
    k3s-lab facts [--json]
    k3s-lab ca-bundle                          (server: the CAs and keys, PEM)

``certs-expired`` re-signs every leaf on the node with the cluster CA so that it expired
yesterday ("a year passed"), keeping keys and subjects. Agents hold no CA keys: they get
them as a joining server would, from the supervisor's ``/v1-k3s/server-bootstrap`` with the
join token (or from ``--ca-from``). Running processes keep their in-memory state, exactly as
k3s does: the agents' kubelets re-read their client certificate and start failing at once.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import glob
import grp
import gzip
import json
import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from k3s_standin import certcmd, dynamiccert, kubeconfig, nodeconfig, pki, settings
from k3s_standin.layout import Layout
from k3s_standin.supervisor import cas_from_bootstrap
from k3s_standin.supervisorclient import Token, request

FAKETIME_GLOB = "/usr/lib/*/faketime/libfaketime.so.1"
DEFAULT_SKEW_HOURS = -8.0


class LabNodeError(Exception):
    """A breaker could not run; the text says what to do."""


# --- certs-expired ------------------------------------------------------------------------


def cluster_cas(layout: Layout, ca_from: str | None) -> pki.CAKeys:
    if ca_from:
        data = sys.stdin.buffer.read() if ca_from == "-" else Path(ca_from).read_bytes()
        return pki.CAKeys.from_pem_bundle(data)
    local = pki.CAKeys.from_tls_dir(layout.tls_dir)
    if local.by_key_id:
        return local
    return cas_from_server(layout)


def cas_from_server(layout: Layout) -> pki.CAKeys:
    """GET /v1-k3s/server-bootstrap as user ``server`` with this node's join token."""
    config = nodeconfig.load("agent", [])
    env = _unit_env(layout, "k3s-agent")
    url = config.server_url or env.get("K3S_URL", "")
    token = Token.parse(config.token or env.get("K3S_TOKEN", ""), default_user="server")
    if not url or not token.password:
        raise LabNodeError(
            "no CA keys on this node and no server/token in /etc/rancher/k3s/config.yaml or "
            "the unit's env file: pass --ca-from (k3s-lab ca-bundle on the server prints them)"
        )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the breaker must work whatever the serving cert's state
    basic = base64.b64encode(f"server:{token.password}".encode()).decode()
    status, body = request(
        url, "/v1-k3s/server-bootstrap", ctx, {"Authorization": "Basic " + basic}, 10.0
    )
    if status != 200:
        raise LabNodeError(f"{url}/v1-k3s/server-bootstrap answered {status}: is k3s running?")
    return cas_from_bootstrap(json.loads(body))


def _unit_env(layout: Layout, unit: str) -> dict[str, str]:
    path = layout.host_path(f"/etc/systemd/system/{unit}.service.env")
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip().strip("'\"")
    return values


def break_certs_expired(layout: Layout, ca_from: str | None, out: TextIO) -> None:
    cas = cluster_cas(layout, ca_from)
    now = pki.utcnow()
    done = pki.expire_leaves(layout, cas, now)
    if layout.kubeconfig.exists() and (layout.tls_dir / "client-admin.crt").exists():
        mode = os.stat(layout.kubeconfig).st_mode & 0o777
        kubeconfig.write_admin_kubeconfig(layout, f"{mode:o}")
    expiry = pki.year_passed_dates(now)[1]
    out.write(f"re-signed {len(done)} leaves to expire at {expiry:%Y-%m-%dT%H:%M:%SZ}\n")


# --- serving-cert-expired -------------------------------------------------------------------


def break_serving_cert_expired(layout: Layout, out: TextIO) -> None:
    current = dynamiccert.read_file(layout)
    if current is None:
        raise LabNodeError(f"{layout.dynamic_cert} is missing: run this on a started server")
    expired = dynamiccert.expire(layout, current, pki.utcnow())
    dynamiccert.write_file(layout, expired)
    out.write(
        "dynamic-cert.json expired; the running k3s serves it and updates "
        "kube-system/k3s-serving within seconds\n"
    )


# --- log-storm ------------------------------------------------------------------------------


def _storm_block(hostname: str, day: dt.datetime, lines: int = 4000) -> bytes:
    """Syslog lines of a failing kubelet in rsyslog's bookworm format (RFC 3339 stamps)."""
    rows = []
    for i in range(lines):
        stamp = day + dt.timedelta(seconds=i * 0.05)
        klog = f"E{stamp:%m%d %H:%M:%S}.{stamp.microsecond:06d}    1187"
        kind = i % 3
        if kind == 0:
            text = (
                f'{klog} controller.go:145] "Failed to ensure lease exists, will retry" '
                'err="Unauthorized" interval="7s"'
            )
        elif kind == 1:
            text = (
                f'{klog} kubelet_node_status.go:535] "Error updating node status, will retry" '
                f'err="error getting node \\"{hostname}\\": Unauthorized"'
            )
        else:
            text = (
                f"W{klog[1:]} reflector.go:561] k8s.io/client-go/informers/factory.go:160: "
                "failed to list *v1.Service: Unauthorized"
            )
        rows.append(f"{stamp.isoformat(timespec='microseconds')} {hostname} k3s[1187]: {text}\n")
    return "".join(rows).encode()


def _piece(block: bytes, room: int) -> bytes:
    """As much of ``block`` as fits in ``room`` bytes, cut after a whole line."""
    if room <= 0:
        return b""
    if room >= len(block):
        return block
    cut = block.rfind(b"\n", 0, room)
    return block[: cut + 1] if cut >= 0 else b""


def _write_until(path: Path, block: bytes, budget: int, compressed: bool) -> None:
    """Write whole lines of ``block``, repeated, up to ``budget`` bytes on disk.

    Compressed files use gzip level 0: valid ``.gz`` files that zcat reads, as large on disk
    as the text they hold, so that filling a disk takes a second instead of minutes.
    """
    try:
        with open(path, "wb") as raw:
            if not compressed:
                while piece := _piece(block, budget - raw.tell()):
                    raw.write(piece)
                return
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=0) as gz:
                overhead = 64
                while piece := _piece(block, budget - raw.tell() - overhead):
                    gz.write(piece)
                    gz.flush()
                    overhead = 64 + len(piece) // 16000 * 5
    except OSError as error:
        if error.errno != 28:  # ENOSPC: exactly what the breaker is after
            raise


def fill_to_full(directory: Path, block: bytes, limit: int) -> None:
    """Append to ``directory/syslog`` until the filesystem refuses another byte.

    ``limit`` (the free space measured before, plus slack) bounds the loop should the
    filesystem be larger than it said.
    """
    written = 0
    with open(directory / "syslog", "ab", buffering=0) as handle:
        chunk = block
        while chunk and written < limit:
            chunk = _piece(chunk, limit - written) or chunk[: limit - written]
            try:
                written += handle.write(chunk) or 0
            except OSError as error:
                if error.errno != 28:
                    raise
                if len(chunk) == 1:
                    return
                chunk = chunk[: len(chunk) // 2]


def _like_rsyslog(path: Path) -> None:
    """Debian's rsyslog files: root:adm 0640."""
    os.chmod(path, 0o640)
    with contextlib.suppress(KeyError, PermissionError):
        os.chown(path, 0, grp.getgrnam("adm").gr_gid)


def break_log_storm(layout: Layout, out: TextIO, hostname: str) -> None:
    """Old rotated logs take most of /var/log; the live syslog takes the rest: 100 %."""
    log_dir = layout.host_path("/var/log")
    log_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(log_dir).free
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    plan = [("syslog.1", 0.2, 1, False)]
    plan += [(f"syslog.{n}.gz", 0.1, n, True) for n in range(2, 8)]
    for name, share, days_ago, compressed in plan:
        day = today - dt.timedelta(days=days_ago)
        target = log_dir / name
        target.unlink(missing_ok=True)
        _write_until(
            target,
            _storm_block(hostname, day + dt.timedelta(hours=6)),
            int(free * share),
            compressed,
        )
        stamp = (day + dt.timedelta(hours=23, minutes=59)).timestamp()
        _like_rsyslog(target)
        os.utime(target, (stamp, stamp))
    remaining = shutil.disk_usage(log_dir).free
    fill_to_full(log_dir, _storm_block(hostname, today), remaining + (1 << 20))
    usage = shutil.disk_usage(log_dir)
    out.write(f"{log_dir}: {usage.used * 100 // usage.total}% used, {usage.free} bytes free\n")


# --- clock-skew -----------------------------------------------------------------------------


def _units(layout: Layout) -> list[str]:
    units = []
    for unit in ("k3s", "k3s-agent"):
        if layout.host_path(f"/etc/systemd/system/{unit}.service").exists():
            units.append(unit)
    return units


def _restart(layout: Layout, units: list[str]) -> None:
    if str(layout.root) != "/":
        return  # tests on tmp dirs: no systemd to talk to
    for unit in units:
        subprocess.run(["systemctl", "restart", "--no-block", unit], check=True)


def faketime_library(layout: Layout) -> str:
    found = sorted(glob.glob(str(layout.host_path(FAKETIME_GLOB))))
    if not found:
        raise LabNodeError("libfaketime is not installed in this node image (package libfaketime)")
    return "/" + str(Path(found[0]).relative_to(layout.root))


def break_clock_skew(layout: Layout, hours: float, out: TextIO) -> None:
    """Shift the node's clock for every new process: /etc/ld.so.preload + /etc/faketimerc."""
    library = faketime_library(layout)
    offset = int(hours * 3600)
    layout.host_path("/etc/faketimerc").write_text(f"{offset:+d}\n")
    preload = layout.host_path("/etc/ld.so.preload")
    lines = preload.read_text().splitlines() if preload.exists() else []
    if library not in lines:
        preload.write_text("\n".join([*lines, library]) + "\n")
    _restart(layout, _units(layout))
    out.write(
        f"clock skewed by {hours:+g} h for new processes; restarted {', '.join(_units(layout))}\n"
    )


def heal_clock_skew(layout: Layout, out: TextIO) -> None:
    preload = layout.host_path("/etc/ld.so.preload")
    if preload.exists():
        kept = [line for line in preload.read_text().splitlines() if "libfaketime" not in line]
        if kept:
            preload.write_text("\n".join(kept) + "\n")
        else:
            preload.unlink()
    layout.host_path("/etc/faketimerc").unlink(missing_ok=True)
    _restart(layout, _units(layout))
    out.write("clock skew removed; k3s units restarted\n")


# --- facts ----------------------------------------------------------------------------------


def facts(layout: Layout) -> dict[str, object]:
    lab = settings.load(layout.lab_yaml)
    now = pki.utcnow()
    leaves = []
    for path in pki.leaf_files(layout):
        cert = pki.load_certs(path)[0]
        leaves.append(
            {
                "file": str(path.relative_to(layout.root))
                if layout.root != Path("/")
                else str(path),
                "subject": pki.common_name(cert),
                "not_after": certcmd.rfc3339(pki.not_after(cert)),
                "status": certcmd.cert_status(cert, now, lab.window_days),
            }
        )
    serving = dynamiccert.read_file(layout)
    disk = {}
    for mount in ("/var/log", "/var/log/journal"):
        path = layout.host_path(mount)
        if path.exists():
            usage = shutil.disk_usage(path)
            disk[mount] = {"total": usage.total, "used": usage.used, "free": usage.free}
    return {
        "now": certcmd.rfc3339(now),
        "version": lab.version,
        "role": "server" if layout.is_server() else "agent",
        "leaves": leaves,
        "serving_cert": None
        if serving is None
        else {
            "not_after": certcmd.rfc3339(pki.not_after(serving.leaf)),
            "status": certcmd.cert_status(serving.leaf, now, lab.window_days),
        },
        "disk": disk,
        "units": {unit: _unit_state(layout, unit) for unit in ("k3s", "k3s-agent")},
        "clock_skew": layout.host_path("/etc/faketimerc").read_text().strip()
        if layout.host_path("/etc/faketimerc").exists()
        else None,
    }


def _unit_state(layout: Layout, unit: str) -> str:
    if not layout.host_path(f"/etc/systemd/system/{unit}.service").exists():
        return "absent"
    if str(layout.root) != "/":
        return "unknown"
    result = subprocess.run(
        ["systemctl", "is-active", unit], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or "unknown"


# --- entry point ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="k3s-lab", description="the lab's node-local breakers")
    sub = parser.add_subparsers(dest="command", required=True)
    brk = sub.add_parser("break")
    brk.add_argument(
        "scenario", choices=["certs-expired", "serving-cert-expired", "log-storm", "clock-skew"]
    )
    brk.add_argument("--hours", type=float, default=DEFAULT_SKEW_HOURS)
    brk.add_argument("--ca-from", default=None)
    heal = sub.add_parser("heal")
    heal.add_argument("scenario", choices=["clock-skew"])
    fct = sub.add_parser("facts")
    fct.add_argument("--json", action="store_true")
    sub.add_parser("ca-bundle")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    stdout = out or sys.stdout
    layout = Layout.from_env()
    try:
        return _run(args, layout, stdout)
    except (LabNodeError, OSError, ValueError, LookupError) as error:
        sys.stderr.write(f"k3s-lab: {error}\n")
        return 1


def _run(args: argparse.Namespace, layout: Layout, out: TextIO) -> int:
    if args.command == "facts":
        data = facts(layout)
        out.write(json.dumps(data, indent=None if args.json else 2) + "\n")
    elif args.command == "ca-bundle":
        cas = pki.CAKeys.from_tls_dir(layout.tls_dir)
        if not cas.by_key_id:
            raise LabNodeError("no CAs here: run ca-bundle on the server")
        out.write(cas.to_pem_bundle().decode())
    elif args.command == "heal":
        heal_clock_skew(layout, out)
    elif args.scenario == "certs-expired":
        break_certs_expired(layout, args.ca_from, out)
    elif args.scenario == "serving-cert-expired":
        break_serving_cert_expired(layout, out)
    elif args.scenario == "log-storm":
        break_log_storm(layout, out, os.uname().nodename)
    else:
        break_clock_skew(layout, args.hours, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
