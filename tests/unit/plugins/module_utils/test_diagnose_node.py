"""The node-side probes of remedy.k3s.diagnose_node, on real files, sockets and processes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from ansible_collections.remedy.k3s.plugins.action.diagnose_node import clock_offset
from ansible_collections.remedy.k3s.plugins.module_utils import diagnose_node as dn


def test_disk_usage_matches_shutil(tmp_path: Path) -> None:
    usage = dn.disk_usage(str(tmp_path))
    real = shutil.disk_usage(tmp_path)
    assert usage["total"] == real.total
    assert usage["path"] == str(tmp_path)
    assert 0.0 <= usage["percent"] <= 100.0
    assert abs(usage["free"] - real.free) < 64 << 20  # other engineers write meanwhile


def test_disk_usage_of_a_missing_path_is_an_error_not_an_exception(tmp_path: Path) -> None:
    usage = dn.disk_usage(str(tmp_path / "nope"))
    assert "No such file" in usage["error"]
    assert "percent" not in usage


@pytest.mark.parametrize(
    ("text", "size"),
    [("64M", 64 << 20), ("1G", 1 << 30), ("512", 512), ("4.5K", 4608), ("10%", None), ("", None)],
)
def test_parse_size(text: str, size: int | None) -> None:
    assert dn.parse_size(text) == size


def test_journald_conf_last_assignment_wins_and_other_sections_are_ignored() -> None:
    main = "[Journal]\n#SystemMaxUse=\nSystemMaxUse=1G\n[Other]\nSystemMaxUse=9G\n"
    dropin = "; comment\n[Journal]\nSystemMaxUse=64M\nRateLimitBurst=500\nBogus=1\n"
    assert dn.parse_journald_conf([main, dropin]) == {
        "SystemMaxUse": "64M",
        "RateLimitBurst": "500",
    }


def test_effective_limit_defaults_to_a_share_of_the_file_system_capped_at_4g() -> None:
    assert dn.effective_limit(None, 1000 << 20, 10) == 100 << 20
    assert dn.effective_limit(None, 100 << 30, 10) == 4 << 30
    assert dn.effective_limit("64M", 1000 << 20, 10) == 64 << 20


def test_directory_size_counts_allocated_blocks(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "system.journal").write_bytes(os.urandom(64 << 10))
    assert dn.directory_size(str(tmp_path)) >= 64 << 10


def test_parse_systemctl_show_splits_units() -> None:
    text = (
        "Id=k3s.service\nActiveState=active\nNRestarts=2\n\n"
        "Id=k3s-agent.service\nLoadState=not-found\n"
    )
    units = dn.parse_systemctl_show(text)
    assert [u["Id"] for u in units] == ["k3s.service", "k3s-agent.service"]
    assert units[0]["NRestarts"] == "2"


def test_count_api_errors_counts_x509_over_the_window_and_recent_errors_since_cutoff() -> None:
    lines = [
        "1000.5 agent1 k3s[1]: E x509: certificate has expired or is not yet valid\n",
        "1001.0 agent1 k3s[1]: I all good\n",
        "2000.0 agent1 k3s[1]: E Unauthorized\n",
        "2001.0 agent1 k3s[1]: E x509: certificate signed by unknown authority\n",
    ]
    counted = dn.count_api_errors(lines, recent_since=1500.0)
    assert counted["x509_errors"] == 3 - 1  # the Unauthorized line is not an x509 line
    assert counted["recent_api_errors"] == 2
    assert "unknown authority" in counted["last_api_error"]


class _Registry(BaseHTTPRequestHandler):
    catalog: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        if self.path != "/v2/_catalog":
            self.send_error(404)
            return
        body = json.dumps({"repositories": self.catalog}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        del args


@pytest.fixture
def registry() -> Iterator[tuple[str, type[_Registry]]]:
    handler = type("Handler", (_Registry,), {"catalog": ["lighthouse", "blog"]})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_registry_catalog_lists_repositories(registry: tuple[str, type[_Registry]]) -> None:
    url, _handler = registry
    assert dn.registry_catalog(url, 3.0) == {
        "url": url,
        "reachable": True,
        "status": 200,
        "repositories": ["blog", "lighthouse"],
    }


def test_registry_catalog_of_a_closed_port_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = dn.registry_catalog(f"http://127.0.0.1:{port}", 2.0)
    assert result["reachable"] is False
    assert "refused" in result["error"].lower()


def test_clock_offset_is_measured_from_the_round_trip_middle() -> None:
    assert clock_offset(node_time=1000.0, sent=990.0, received=1010.0) == {
        "offset": 0.0,
        "uncertainty": 10.0,
    }
    skewed = clock_offset(node_time=1000.0 - 8 * 3600, sent=999.0, received=1001.0)
    assert skewed == {"offset": -28800.0, "uncertainty": 1.0}
