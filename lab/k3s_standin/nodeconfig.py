"""``k3s server`` / ``k3s agent`` options: flags merged over ``/etc/rancher/k3s/config.yaml``.

As in k3s, the config file holds the long flag names as keys, command-line flags win, and list
flags (``tls-san``, ``node-label``, ``node-taint``) accept a list or a single string. The
token may also come from ``K3S_TOKEN`` and the server URL from ``K3S_URL`` (the install
script's variables).
"""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from k3s_standin.layout import Layout


@dataclass(frozen=True)
class NodeConfig:
    role: str
    layout: Layout
    node_name: str
    token: str = ""
    server_url: str = ""
    node_ips: tuple[str, ...] = ()
    tls_sans: tuple[str, ...] = ()
    node_labels: tuple[str, ...] = ()
    node_taints: tuple[str, ...] = ()
    write_kubeconfig_mode: str = "0600"
    https_listen_port: int = 6443
    bind_address: str = "0.0.0.0"
    extra: dict[str, object] = field(default_factory=dict)


_LISTS = ("tls-san", "node-label", "node-taint", "node-ip")


def build_parser(role: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"k3s {role}", add_help=True)
    parser.add_argument("--config", "-c", default=None)
    parser.add_argument("--data-dir", "-d", default=None)
    parser.add_argument("--token", "-t", default=None)
    parser.add_argument("--node-name", default=None)
    parser.add_argument("--node-ip", "-i", action="append", default=None)
    parser.add_argument("--node-label", action="append", default=None)
    parser.add_argument("--node-taint", action="append", default=None)
    if role == "server":
        parser.add_argument("--tls-san", action="append", default=None)
        parser.add_argument("--write-kubeconfig-mode", default=None)
        parser.add_argument("--https-listen-port", type=int, default=None)
        parser.add_argument("--bind-address", default=None)
        parser.add_argument("--cluster-init", action="store_true", default=None)
        parser.add_argument("--disable", action="append", default=None)
    parser.add_argument("--server", "-s", default=None)
    return parser


def load(role: str, argv: list[str]) -> NodeConfig:
    args = build_parser(role).parse_args(argv)
    layout = Layout.from_env(args.data_dir)
    config_path = Path(args.config) if args.config else layout.config_yaml
    file_values = _read_config(config_path)
    merged: dict[str, object] = dict(file_values)
    for key, value in vars(args).items():
        if value is not None and key not in {"config", "data_dir"}:
            merged[key.replace("_", "-")] = value
    if args.data_dir is None and "data-dir" in file_values:
        layout = Layout.from_env(str(file_values["data-dir"]))
    return NodeConfig(
        role=role,
        layout=layout,
        node_name=str(merged.get("node-name") or socket.gethostname()),
        token=str(merged.get("token") or os.environ.get("K3S_TOKEN", "")),
        server_url=str(merged.get("server") or os.environ.get("K3S_URL", "")),
        node_ips=_as_tuple(merged.get("node-ip")),
        tls_sans=_as_tuple(merged.get("tls-san")),
        node_labels=_as_tuple(merged.get("node-label")),
        node_taints=_as_tuple(merged.get("node-taint")),
        write_kubeconfig_mode=str(merged.get("write-kubeconfig-mode") or "0600"),
        https_listen_port=int(str(merged.get("https-listen-port") or 6443)),
        bind_address=str(merged.get("bind-address") or "0.0.0.0"),
        extra={k: v for k, v in merged.items() if k not in _KNOWN},
    )


_KNOWN = {
    "node-name",
    "token",
    "server",
    "node-ip",
    "tls-san",
    "node-label",
    "node-taint",
    "write-kubeconfig-mode",
    "https-listen-port",
    "bind-address",
}


def _read_config(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} must be a YAML mapping of k3s flag names to values")
    return {str(key): value for key, value in data.items()}


def _as_tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        items: list[str] = []
        for item in value:
            items += [part for part in str(item).split(",") if part]
        return tuple(items)
    return tuple(part for part in str(value).split(",") if part)


def node_ips_or_default(config: NodeConfig) -> tuple[str, ...]:
    """The node's addresses: configured ones, else the address its hostname resolves to."""
    if config.node_ips:
        return config.node_ips
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        return ("127.0.0.1",)
    return (address,)
