"""The handles every lab command needs: podman, the saved state, the API identities."""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass
from pathlib import Path

from labctl import kubeconfig
from labctl.kubeclient import KubeClient, KubeError
from labctl.layout import LabState, Paths
from labctl.podman import Podman

SERVER_TLS = "/var/lib/rancher/k3s/server/tls"
K3S_YAML = "/etc/rancher/k3s/k3s.yaml"
CONTROL_USER = "remedy-lab:control"


@dataclass
class Lab:
    podman: Podman
    state: LabState
    paths: Paths
    repo_root: Path

    @property
    def api_url(self) -> str:
        return f"https://127.0.0.1:{self.state.api_port}"

    @property
    def control_kubeconfig(self) -> Path:
        return self.paths.state_dir / "control.kubeconfig"

    def server_exec(self, argv: list[str], *, check: bool = True) -> str:
        return self.podman.exec(self.state.server.container, argv, check=check).stdout

    def server_k3s_yaml(self) -> str:
        """The server's own admin kubeconfig, pointed at the published port."""
        text = self.podman.read_file(self.state.server.container, K3S_YAML)
        return kubeconfig.with_server(text, self.api_url)

    def operator_client(self) -> KubeClient:
        """The operator's copy (.cache/lab/kubeconfig): may be stale, by design."""
        return KubeClient(kubeconfig.parse(self.paths.kubeconfig.read_text()))

    def control(self) -> KubeClient:
        """The lab's own identity: a client-CA-signed cert the breakers never touch.

        Server verification is skipped on purpose: the lab must keep working after
        `serving-cert-expired`; `lab status` probes the serving cert separately.
        """
        if not self.control_kubeconfig.is_file():
            self._mint_control()
        client = KubeClient(kubeconfig.parse(self.control_kubeconfig.read_text()), verify=False)
        try:
            client.get("/version")
        except KubeError as err:
            if err.status != 401:
                raise
            # A re-created cluster has a new client CA: mint again.
            self._mint_control()
            client = KubeClient(kubeconfig.parse(self.control_kubeconfig.read_text()), verify=False)
        return client

    def _mint_control(self) -> None:
        server = self.state.server.container
        ca_pem = self.podman.read_file(server, f"{SERVER_TLS}/client-ca.crt").encode()
        ca_key = self.podman.read_file(server, f"{SERVER_TLS}/client-ca.key").encode()
        server_ca = self.podman.read_file(server, f"{SERVER_TLS}/server-ca.crt").encode()
        now = dt.datetime.now(dt.UTC)
        # Wide validity so that clock-skew (hours) and "a year passed" breakers leave it valid.
        cert, key = kubeconfig.issue_client_cert(
            ca_pem,
            ca_key,
            common_name=CONTROL_USER,
            groups=["system:masters"],
            not_before=now - dt.timedelta(days=30),
            not_after=now + dt.timedelta(days=3 * 365),
        )
        creds = kubeconfig.Credentials(self.api_url, server_ca, cert, key)
        kubeconfig.write_private(self.control_kubeconfig, kubeconfig.render(creds, "lab-control"))


def is_tls_verify_error(err: BaseException) -> bool:
    return isinstance(err, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(err)
