"""Where k3s keeps its files, relocatable under a root so host tests run on tmp dirs.

Inside a lab node the root is ``/``. Tests (and anything else that must not touch the real
paths) set ``K3S_LAB_ROOT`` to a directory: every absolute k3s path is then taken below it.
``--data-dir`` / ``K3S_DATA_DIR`` move only the data dir, as in real k3s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = "/var/lib/rancher/k3s"
ROOT_ENV = "K3S_LAB_ROOT"


@dataclass(frozen=True)
class Layout:
    """Every path the stand-in reads or writes, derived from one root and one data dir."""

    root: Path
    data_dir: Path

    @classmethod
    def from_env(cls, data_dir: str | None = None) -> Layout:
        root = Path(os.environ.get(ROOT_ENV, "/"))
        chosen = data_dir or os.environ.get("K3S_DATA_DIR") or DEFAULT_DATA_DIR
        return cls(root=root, data_dir=_under(root, chosen))

    def host_path(self, absolute: str) -> Path:
        """An absolute node path (``/var/log``) relocated below the root."""
        return _under(self.root, absolute)

    @property
    def server_dir(self) -> Path:
        return self.data_dir / "server"

    @property
    def tls_dir(self) -> Path:
        return self.server_dir / "tls"

    @property
    def cred_dir(self) -> Path:
        return self.server_dir / "cred"

    @property
    def agent_dir(self) -> Path:
        return self.data_dir / "agent"

    @property
    def db_dir(self) -> Path:
        """The API's state (kine's SQLite lives in server/db in real k3s)."""
        return self.server_dir / "db"

    @property
    def etc_dir(self) -> Path:
        return self.host_path("/etc/rancher/k3s")

    @property
    def node_etc_dir(self) -> Path:
        return self.host_path("/etc/rancher/node")

    @property
    def kubeconfig(self) -> Path:
        return self.etc_dir / "k3s.yaml"

    @property
    def config_yaml(self) -> Path:
        return self.etc_dir / "config.yaml"

    @property
    def lab_yaml(self) -> Path:
        return self.etc_dir / "lab.yaml"

    @property
    def dynamic_cert(self) -> Path:
        return self.tls_dir / "dynamic-cert.json"

    @property
    def dynamic_cert_regenerate(self) -> Path:
        return self.tls_dir / "dynamic-cert-regenerate"

    def is_server(self) -> bool:
        """k3s's own test: a node with a server data dir is a server."""
        return self.server_dir.exists()


def _under(root: Path, absolute: str) -> Path:
    path = Path(absolute)
    if not path.is_absolute():
        return path.resolve()
    return root / path.relative_to("/")
