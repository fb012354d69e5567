"""``/etc/rancher/k3s/k3s.yaml``: rewritten with the current admin certificate at every start."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from k3s_standin import pki
from k3s_standin.layout import Layout


def admin_kubeconfig(layout: Layout, server_url: str = "https://127.0.0.1:6443") -> str:
    """k3s.yaml as k3s writes it: embedded server CA, admin bundle and key."""
    tls = layout.tls_dir

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    return (
        "apiVersion: v1\nclusters:\n- cluster:\n"
        f"    certificate-authority-data: {b64(tls / 'server-ca.crt')}\n"
        f"    server: {server_url}\n  name: default\n"
        "contexts:\n- context:\n    cluster: default\n    user: default\n  name: default\n"
        "current-context: default\nkind: Config\npreferences: {}\n"
        "users:\n- name: default\n  user:\n"
        f"    client-certificate-data: {b64(tls / 'client-admin.crt')}\n"
        f"    client-key-data: {b64(tls / 'client-admin.key')}\n"
    )


def write_admin_kubeconfig(layout: Layout, mode: str) -> None:
    pki.write_private(layout.kubeconfig, admin_kubeconfig(layout).encode())
    os.chmod(layout.kubeconfig, int(mode, 8))
