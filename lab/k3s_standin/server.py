"""``k3s server``: certificates, kubeconfig, the API on :6443 and the server's own kubelet.

Start order as in k3s: renew the certificate tree (every leaf expired or inside the window),
write ``server/token`` and ``cred/passwd``, rewrite ``/etc/rancher/k3s/k3s.yaml`` with the
current admin certificate, choose the listener certificate (dynamiclistener rules, see
``ServingSync``), serve the API and the supervisor routes, notify systemd, then run the
embedded agent (its kubelet registers the server's Node through the supervisor).

The dynamic (k3s-serving) certificate is regenerated only when ``dynamic-cert-regenerate``
exists or both the Secret and ``dynamic-cert.json`` are gone: decision taken so that an
expired serving certificate survives a plain restart, as in the incident; the documented
remedy (delete both, restart) is what renews it.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

from k3s_standin import (
    agent,
    dynamiccert,
    kubeconfig,
    logfmt,
    nodeconfig,
    pki,
    proctitle,
    sdnotify,
    settings,
)
from k3s_standin.kubeapi import ApiServer, ServerConfig
from k3s_standin.layout import Layout
from k3s_standin.supervisor import Passwd, Supervisor
from k3s_standin.supervisorclient import NodeIdentity, server_token

SEEDS = Path(__file__).resolve().parent / "seeds" / "cluster.yaml"
SYNC_SECONDS = 2.0


def runtime_dir(layout: Layout) -> Path:
    """Where the listener's PEM files live for the TLS layer (not part of k3s's tree)."""
    return layout.host_path("/run/k3s-standin")


def write_tokens(layout: Layout, token: str) -> str:
    """``server/token`` (full K10 form), ``server/node-token`` link, ``cred/passwd``."""
    password = token
    if token.startswith("K10") and "::" in token:
        password = token.split("::", 1)[1].partition(":")[2]
    elif not password:
        password = pki.random_hex(16)
    full = server_token((layout.tls_dir / "server-ca.crt").read_bytes(), password)
    pki.write_private(layout.server_dir / "token", (full + "\n").encode())
    node_token = layout.server_dir / "node-token"
    if not node_token.is_symlink():
        node_token.unlink(missing_ok=True)
        node_token.symlink_to("token")
    Passwd(layout.cred_dir / "passwd").write(password)
    return password


class ServingSync:
    """dynamiclistener's bookkeeping between dynamic-cert.json, the Secret and the listener."""

    def __init__(self, layout: Layout, identity: pki.ServerIdentity, err: TextIO) -> None:
        self.layout = layout
        self.identity = identity
        self.err = err
        self.current: dynamiccert.ServingCert | None = None

    def choose(self, secret: dict | None, now: dt.datetime) -> dynamiccert.ServingCert:
        regen = self.layout.dynamic_cert_regenerate
        from_file = dynamiccert.read_file(self.layout)
        if regen.exists():
            logfmt.logrus("info", "Regenerating dynamic listener certificate", self.err)
            chosen = dynamiccert.generate(self.layout, self.identity, now)
            regen.unlink()
        elif from_file is not None:
            chosen = from_file  # dynamiclistener reads its file cache first
        elif secret is not None:
            chosen = dynamiccert.from_secret(secret)
        else:
            logfmt.logrus("info", "Creating new TLS secret for kube-system/k3s-serving", self.err)
            chosen = dynamiccert.generate(self.layout, self.identity, now)
        self.install(chosen)
        return chosen

    def install(self, serving: dynamiccert.ServingCert) -> None:
        if dynamiccert.read_file(self.layout) != serving:
            dynamiccert.write_file(self.layout, serving)
        run = runtime_dir(self.layout)
        pki.write_private(run / "listener.key", serving.key_pem)
        pki.write_private(run / "listener.crt", serving.cert_pem)
        self.current = serving

    def listener_files(self) -> tuple[Path, Path]:
        run = runtime_dir(self.layout)
        return run / "listener.crt", run / "listener.key"

    def tick(self, api: ApiServer) -> None:
        """Follow a changed file (a breaker) or a changed Secret (kubectl) like dynamiclistener."""
        secret = api.store.find("secrets", "kube-system", dynamiccert.SECRET_NAME)
        from_secret = dynamiccert.from_secret(secret) if secret else None
        from_file = dynamiccert.read_file(self.layout)
        if from_file is not None and from_file != self.current:
            self.install(from_file)
            self.store_secret(api, from_file)
        elif from_secret is not None and from_secret != self.current:
            self.install(from_secret)

    def store_secret(self, api: ApiServer, serving: dynamiccert.ServingCert) -> None:
        wanted = dynamiccert.to_secret(serving)
        wanted["metadata"].pop("creationTimestamp", None)
        existing = api.store.find("secrets", "kube-system", dynamiccert.SECRET_NAME)
        if existing is None:
            res = api.registry.lookup("secrets")
            api.api.default_object(res, wanted)
            api.store.create("secrets", wanted)
            return
        if dynamiccert.from_secret(existing) == serving:
            return
        existing["data"] = wanted["data"]
        existing["type"] = wanted["type"]
        existing["metadata"].setdefault("annotations", {}).update(wanted["metadata"]["annotations"])
        api.store.update("secrets", existing, check_version=False)


def _logger(err: TextIO) -> logging.Logger:
    """The API's log lines (already klog-formatted) to this process's stream, nowhere else."""
    logger = logging.getLogger(f"k3s.server.{id(err)}")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def _log_pki(report: pki.PkiReport, layout: Layout, err: TextIO) -> None:
    for name in report.renewed:
        leaf = pki.load_certs(layout.tls_dir / name)[0]
        logfmt.logrus(
            "info",
            f"Certificate {name} renewed: now expires at {pki.not_after(leaf):%Y-%m-%dT%H:%M:%SZ}",
            err,
        )
    if report.created:
        logfmt.logrus("info", f"Generated {len(report.created)} certificates and keys", err)


def fail_once_after_rotation(layout: Layout) -> bool:
    """True the first time a start finds a rotation's traces (missing leaves or the trigger)."""
    rotated = layout.dynamic_cert_regenerate.exists() or (
        layout.tls_dir.exists() and not (layout.tls_dir / "client-admin.crt").exists()
    )
    marker = runtime_dir(layout) / "failed-after-rotation"
    if not rotated or marker.exists():
        marker.unlink(missing_ok=True)
        return False
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("1\n")
    return True


class ServerProcess:
    """Everything one ``k3s server`` run owns, so tests can start and stop it in-process."""

    def __init__(
        self, config: nodeconfig.NodeConfig, lab: settings.LabSettings, err: TextIO
    ) -> None:
        self.config = config
        self.lab = lab
        self.err = err
        self.stop_event = threading.Event()
        self.identity = pki.ServerIdentity(
            config.node_name, nodeconfig.node_ips_or_default(config), config.tls_sans
        )
        self.sync = ServingSync(config.layout, self.identity, err)
        self.api: ApiServer | None = None
        self.kubelet_started = threading.Event()

    def prepare(self, now: dt.datetime) -> str:
        layout = self.config.layout
        report = pki.ensure_server_pki(layout, self.identity, now, self.lab.window_days)
        _log_pki(report, layout, self.err)
        password = write_tokens(layout, self.config.token)
        kubeconfig.write_admin_kubeconfig(layout, self.config.write_kubeconfig_mode)
        logfmt.logrus("info", f"Wrote kubeconfig {layout.kubeconfig}", self.err)
        return password

    def start_api(self, host: str, port: int) -> ApiServer:
        layout = self.config.layout
        cert, key = self.sync.listener_files()
        api = ApiServer(
            ServerConfig(
                state_dir=layout.db_dir,
                host=host,
                port=port,
                tls_cert=cert,
                tls_key=key,
                client_ca=layout.tls_dir / "client-ca.crt",
                git_version=self.lab.version,
                seed_files=[SEEDS],
                node_grace_seconds=self.lab.node_grace_seconds,
                pod_eviction_seconds=self.lab.pod_eviction_seconds,
                logger=_logger(self.err),
            )
        )
        secret = api.store.find("secrets", "kube-system", dynamiccert.SECRET_NAME)
        self.sync.choose(secret, pki.utcnow())
        supervisor = Supervisor(layout, self.identity, self._supervisor_config(port))
        for method, path, handler in supervisor.routes():
            api.add_route(method, path, handler)
        api.start()
        assert self.sync.current is not None
        self.sync.store_secret(api, self.sync.current)
        self.api = api
        threading.Thread(
            target=self._follow_serving_cert, name="dynamiclistener", daemon=True
        ).start()
        return api

    def _supervisor_config(self, port: int) -> dict[str, object]:
        return {
            "ClusterDomain": "cluster.local",
            "ClusterDNS": "10.43.0.10",
            "ClusterIPRange": "10.43.0.0/16",
            "ServiceIPRange": "10.43.0.0/16",
            "FlannelBackend": "vxlan",
            "HTTPSPort": port,
            "SupervisorPort": port,
            "ServerVersion": self.lab.version,
        }

    def _follow_serving_cert(self) -> None:
        while not self.stop_event.wait(SYNC_SECONDS):
            if self.api is not None:
                try:
                    self.sync.tick(self.api)
                except (OSError, ValueError) as error:
                    logfmt.logrus("error", f"dynamiclistener: {error}", self.err)

    def start_kubelet(self, port: int, password: str) -> None:
        url = f"https://127.0.0.1:{port}"
        run = agent.AgentRun(
            layout=self.config.layout,
            supervisor_url=url,
            api_url=url,
            token=password,
            node=NodeIdentity(self.config.node_name, self.identity.node_ips),
            role="server",
            node_labels=self.config.node_labels,
            node_taints=self.config.node_taints,
            node_args=["server"],
        )

        def go() -> None:
            if agent.start_kubelet(run, self.lab, self.stop_event, self.err) is not None:
                self.kubelet_started.set()

        threading.Thread(target=go, name="embedded-agent", daemon=True).start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.api is not None:
            self.api.stop()


def main(argv: list[str]) -> int:
    proctitle.set_name("k3s-server")
    config = nodeconfig.load("server", argv)
    lab = settings.load(config.layout.lab_yaml)
    err = sys.stderr
    logfmt.logrus("info", f"Starting k3s {lab.version}", err)
    if lab.fail_start_after_rotation and fail_once_after_rotation(config.layout):
        logfmt.logrus(
            "fatal",
            "lab: this k3s is set to fail its first start after `certificate rotate` "
            "(lab setting fail_start_after_rotation); systemd restarts it",
            err,
        )
        return 1
    process = ServerProcess(config, lab, err)
    password = process.prepare(pki.utcnow())
    api = process.start_api(config.bind_address, config.https_listen_port)
    logfmt.logrus("info", "k3s is up and running", err)
    sdnotify.notify("READY=1")
    process.start_kubelet(api.port, password)

    def handler(_signum: int, _frame: object) -> None:
        process.stop_event.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
    process.stop_event.wait()
    process.stop()
    return 0
