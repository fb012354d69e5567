"""Install the k3s stand-in into a lab node, as ``curl -sfL https://get.k3s.io | sh -`` would.

    python3 -m k3s_standin.install server --node-name server --token T [--version V]
        [--lab-setting key=value ...]
    python3 -m k3s_standin.install agent --node-name agent1 --server https://server:6443
        --token T [--version V] [--lab-setting key=value ...]

Writes ``/usr/local/bin/k3s`` (and ``k3s-lab``, ``k3s-killall.sh``), the unit and its env
file (``K3S_TOKEN``/``K3S_URL`` as install.sh writes them, 0600), ``/etc/rancher/k3s/
config.yaml`` and the lab settings ``/etc/rancher/k3s/lab.yaml``, then ``systemctl enable``
and ``restart`` the unit (which returns once k3s has notified readiness).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml

from k3s_standin import pki, settings, units
from k3s_standin.layout import Layout

PYTHONPATH = str(Path(__file__).resolve().parent.parent)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m k3s_standin.install")
    parser.add_argument("role", choices=["server", "agent"])
    parser.add_argument("--node-name", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--server", default="")
    parser.add_argument("--version", default=settings.DEFAULT_VERSION)
    parser.add_argument("--lab-setting", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--no-start", action="store_true", help="write files only")
    return parser


def lab_settings(version: str, pairs: list[str]) -> settings.LabSettings:
    values: dict[str, object] = {"version": version}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--lab-setting takes KEY=VALUE, got {pair!r}")
        values[key.strip().replace("-", "_")] = value
    return settings.from_mapping(values)


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def install(layout: Layout, args: argparse.Namespace) -> str:
    """Write every file; return the unit name."""
    if args.role == "agent" and not args.server:
        raise ValueError("an agent needs --server https://<server>:6443")
    name = "k3s" if args.role == "server" else "k3s-agent"
    bin_dir = layout.host_path("/usr/local/bin")
    _write(bin_dir / "k3s", units.K3S_WRAPPER.format(pythonpath=PYTHONPATH), 0o755)
    _write(bin_dir / "k3s-lab", units.LAB_WRAPPER.format(pythonpath=PYTHONPATH), 0o755)
    _write(bin_dir / "k3s-killall.sh", units.KILLALL, 0o755)
    systemd = layout.host_path("/etc/systemd/system")
    _write(systemd / f"{name}.service", units.unit(name, args.role), 0o644)
    env = {"K3S_TOKEN": args.token}
    if args.role == "agent":
        env["K3S_URL"] = args.server
    pki.write_private(systemd / f"{name}.service.env", units.env_file(env).encode())
    config: dict[str, object] = {"node-name": args.node_name, "token": args.token}
    if args.role == "agent":
        config["server"] = args.server
    else:
        config["write-kubeconfig-mode"] = "0600"
    _write(layout.config_yaml, yaml.safe_dump(config, sort_keys=False), 0o600)
    lab = lab_settings(args.version, args.lab_setting)
    _write(layout.lab_yaml, settings.dump(lab), 0o644)
    return name


def start(name: str) -> None:
    for command in (
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", name],
        ["systemctl", "restart", name],
    ):
        subprocess.run(command, check=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    layout = Layout.from_env()
    try:
        name = install(layout, args)
    except (OSError, ValueError) as error:
        sys.stderr.write(f"[ERROR]  {error}\n")
        return 1
    if not args.no_start and str(layout.root) == "/":
        sys.stdout.write(f"[INFO]  systemd: Starting {name}\n")
        start(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
