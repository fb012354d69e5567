"""Fixtures: a PKI and a session-wide API stand-in over real TLS."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import kubeapi_pki as pki
import pytest
from kubeapi_cluster import Cluster, Pki, start_cluster


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)
    server_ca, client_ca = pki.Authority(d, "server-ca"), pki.Authority(d, "client-ca")
    foreign_ca = pki.Authority(d, "foreign-ca")
    sans = ("127.0.0.1", "localhost", "kubernetes.default.svc")
    return Pki(
        server_ca=server_ca,
        client_ca=client_ca,
        foreign_ca=foreign_ca,
        serving=server_ca.issue("serving-kube-apiserver", "k3s", server=True, sans=sans),
        admin=client_ca.issue("client-admin", "system:admin", ("system:masters",)),
        node=client_ca.issue("client-kubelet", "system:node:agent1", ("system:nodes",)),
        expired=client_ca.issue(
            "expired-admin",
            "system:admin",
            ("system:masters",),
            not_before=now - dt.timedelta(days=400),
            not_after=now - dt.timedelta(days=35),
        ),
        not_yet_valid=client_ca.issue(
            "future-admin",
            "system:admin",
            ("system:masters",),
            not_before=now + dt.timedelta(days=2),
        ),
        foreign=foreign_ca.issue("foreign-admin", "system:admin", ("system:masters",)),
        expired_serving=server_ca.issue(
            "expired-serving",
            "k3s",
            server=True,
            sans=sans,
            not_before=now - dt.timedelta(days=400),
            not_after=now - dt.timedelta(days=35),
        ),
    )


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, certs: Pki) -> Iterator[Cluster]:
    running = start_cluster(tmp_path_factory.mktemp("cluster"), certs)
    yield running
    running.server.stop()
