"""Verify the smoke scenario on the node itself (testinfra's podman backend)."""

from __future__ import annotations

from testinfra.host import Host


def test_systemd_is_pid_1(host: Host) -> None:
    assert host.file("/proc/1/comm").content_string.strip() == "systemd"


def test_unit_ran(host: Host) -> None:
    service = host.service("remedy-smoke")
    assert service.is_enabled
    assert service.is_running or host.file("/run/remedy-smoke").content_string == "smoke-ok\n"


def test_var_log_is_bounded(host: Host) -> None:
    # The same bounded log disk as the lab: a full disk is really full yet small.
    out = host.check_output("df --output=size -B1M /var/log | tail -n1")
    assert 0 < int(out) <= 64
