"""``ApiServer``: the Kubernetes API stand-in, its controllers and the lab's extra routes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from . import volumes
from .api import ApiSettings, RestApi, json_response
from .auth import (
    MASTERS,
    AuthenticationError,
    ClientCertAuthenticator,
    Identity,
    log_authentication_failure,
)
from .clock import Clock
from .control import LabState
from .control import handle as handle_control
from .controllers import Controllers, ControllerSettings
from .errors import REASONS, ApiError, status_body
from .resources import Registry, UnknownResourceError
from .store import Store
from .tlsio import ServingContext
from .transport import HttpServer, Request, Response

Handler = Callable[[Request], Response]
LOG = logging.getLogger(__name__)
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
KUBERNETES_SERVICE = {
    "metadata": {
        "name": "kubernetes",
        "namespace": "default",
        "labels": {"component": "apiserver", "provider": "kubernetes"},
    },
    "spec": {
        "type": "ClusterIP",
        "clusterIP": "10.43.0.1",
        "clusterIPs": ["10.43.0.1"],
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "internalTrafficPolicy": "Cluster",
        "sessionAffinity": "None",
        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
    },
    "status": {"loadBalancer": {}},
}
# Without TLS there is no identity to check: unit tests act as the cluster admin.
PLAIN_HTTP_IDENTITY = Identity("system:admin", (MASTERS,))


@dataclass
class ServerConfig:
    """How to run the stand-in; see docs/kubeapi.md for what each setting changes."""

    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 6443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    git_version: str = "v1.31.4+k3s1"
    seed_files: list[Path] = field(default_factory=list)
    node_grace_seconds: float = 40.0
    pod_eviction_seconds: float = 300.0
    controllers: bool = True
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("k3s"))


class ApiServer:
    """The API over HTTPS with client-certificate authentication (see docs/kubeapi.md)."""

    def __init__(self, config: ServerConfig) -> None:
        if (config.tls_cert is None) != (config.tls_key is None):
            raise ValueError(
                "give both tls_cert and tls_key, or neither (plain HTTP, unit tests only)"
            )
        if config.tls_cert is not None and config.client_ca is None:
            raise ValueError("a TLS server needs client_ca to authenticate client certificates")
        if config.tls_cert is None and config.host not in LOOPBACK:
            raise ValueError(
                f"plain HTTP (no tls_cert) is for unit tests on loopback only, not {config.host}; "
                "give tls_cert, tls_key and client_ca"
            )
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.registry = Registry()
        self.clock = Clock(config.state_dir / "clock.json")
        self.lab = LabState(config.state_dir / "lab.json")
        self.store = Store(self.registry, self.clock, config.state_dir / "objects.json")
        self.api = RestApi(
            self.store,
            self.registry,
            self.clock,
            ApiSettings(
                git_version=config.git_version,
                pod_eviction_seconds=config.pod_eviction_seconds,
                server_address=f"{config.host}:{config.port}",
            ),
        )
        self.controllers = Controllers(
            self.store,
            self.api,
            self.clock,
            self.lab,
            ControllerSettings(
                node_grace_seconds=config.node_grace_seconds,
                pod_eviction_seconds=config.pod_eviction_seconds,
                heartbeat_seconds=min(10.0, config.node_grace_seconds / 4),
            ),
        )
        self._authenticator = (
            ClientCertAuthenticator(config.client_ca) if config.client_ca else None
        )
        self._routes: list[tuple[str, str, Handler]] = []
        self._http: HttpServer | None = None

    # -- public --------------------------------------------------------------------------
    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Serve ``method path`` with ``handler`` (before auth; ``req.user`` says who, or None).

        A path ending in ``/*`` matches everything below it.
        """
        self._routes.append((method.upper(), path, handler))

    @property
    def port(self) -> int:
        if self._http is None:
            raise RuntimeError("the server is not started; call start() first")
        return self._http.port

    def start(self) -> None:
        self._bootstrap()
        tls = None
        if self.config.tls_cert is not None and self.config.tls_key is not None:
            tls = ServingContext(self.config.tls_cert, self.config.tls_key)
            tls.current()
        self._http = HttpServer(self.config.host, self.config.port, self.handle, tls)
        self.api.settings = replace(
            self.api.settings, server_address=f"{self.config.host}:{self.port}"
        )
        self._http.start()
        if self.config.controllers:
            self.controllers.start()

    def stop(self) -> None:
        self.api.stopping = True
        self.store.close_watches()
        if self.config.controllers:
            self.controllers.stop()
        if self._http is not None:
            self._http.stop()

    def load_seed(self, path: Path) -> int:
        """Create the objects of a (multi-document) YAML file that do not exist yet."""
        created = 0
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            items = doc.get("items", []) if str(doc.get("kind", "")).endswith("List") else [doc]
            for obj in items:
                created += self._seed_object(obj, path)
        return created

    # -- internals -----------------------------------------------------------------------
    def _seed_object(self, obj: dict, path: Path) -> int:
        try:
            res = self.registry.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
        except UnknownResourceError as err:
            raise ValueError(
                f"{path}: the stand-in does not serve {err}; see docs/kubeapi.md"
            ) from err
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            meta.setdefault("namespace", "default")
        if self.store.find(res, meta.get("namespace", ""), meta.get("name", "")) is not None:
            return 0
        self.api.default_object(res, obj)
        self.store.create(res, obj)
        return 1

    def _bootstrap(self) -> None:
        for name in SYSTEM_NAMESPACES:
            if self.store.find("namespaces", "", name) is None:
                ns = {"metadata": {"name": name}}
                self.api.default_object(self.registry.lookup("namespaces"), ns)
                self.store.create("namespaces", ns)
        if self.store.find("storageclasses", "", "local-path") is None:
            self.store.create("storageclasses", volumes.LOCAL_PATH_CLASS)
        if self.store.find("services", "default", "kubernetes") is None:
            self.store.create("services", KUBERNETES_SERVICE)
        for path in self.config.seed_files:
            self.load_seed(path)

    def _authenticate(self, req: Request) -> None:
        if self._authenticator is None:
            req.user = PLAIN_HTTP_IDENTITY
            return
        if not req.peer_chain_der:
            return
        from cryptography import x509  # noqa: PLC0415
        from cryptography.hazmat.primitives.serialization import Encoding  # noqa: PLC0415

        leaf = x509.load_der_x509_certificate(req.peer_chain_der[0])
        req.peer_cert_pem = leaf.public_bytes(Encoding.PEM).decode()
        now = self.clock.now()
        try:
            req.user = self._authenticator.authenticate(req.peer_chain_der, now)
        except AuthenticationError as err:
            req.auth_error = str(err)
            log_authentication_failure(self.config.logger, str(err), now)

    def _extra_route(self, req: Request) -> Handler | None:
        for method, path, handler in self._routes:
            if method not in (req.method, "*"):
                continue
            if path == req.path or (path.endswith("/*") and req.path.startswith(path[:-1])):
                return handler
        return None

    def handle(self, req: Request) -> Response:  # noqa: PLR0911 - one exit per kind of request
        self._authenticate(req)
        try:
            fault = (
                None if req.path.startswith("/lab/") else self.lab.take_fault(req.method, req.path)
            )
            if fault is not None:
                reason = REASONS.get(fault.status, "InternalError")
                return json_response(fault.status, status_body(fault.status, fault.message, reason))
            extra = self._extra_route(req)
            if extra is not None:
                return extra(req)
            if self._authenticator is not None and req.user is None:
                return json_response(401, status_body(401, "Unauthorized", "Unauthorized"))
            if req.path.startswith("/lab/"):
                return handle_control(req, self.lab, self.clock)
            return self.api.handle(req)
        except ApiError as err:
            return json_response(err.code, err.status())
        except (ValueError, json.JSONDecodeError) as err:
            return json_response(400, status_body(400, str(err), "BadRequest"))
        except Exception as err:
            # A bug in the stand-in: answer like the apiserver's panic handler, keep serving.
            LOG.exception("%s %s failed", req.method, req.path)
            return json_response(
                500, status_body(500, f"Internal error occurred: {err}", "InternalError")
            )
