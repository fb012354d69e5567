"""Fixtures of the k3s stand-in's host-side tests: a node root in a tmp dir."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from k3s_standin import pki
from k3s_standin.layout import ROOT_ENV, Layout

IDENTITY = pki.ServerIdentity("server", ("10.88.0.2",), ("lab.test",))


@pytest.fixture
def node_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "node"
    root.mkdir()
    monkeypatch.setenv(ROOT_ENV, str(root))
    monkeypatch.delenv("K3S_DATA_DIR", raising=False)
    return root


@pytest.fixture
def layout(node_root: Path) -> Layout:
    return Layout.from_env()


@pytest.fixture
def now() -> dt.datetime:
    return pki.utcnow().replace(microsecond=0)


@pytest.fixture
def server_tree(layout: Layout, now: dt.datetime) -> Layout:
    pki.ensure_server_pki(layout, IDENTITY, now, window_days=90)
    return layout
