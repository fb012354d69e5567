"""systemd units shaped like the ones get.k3s.io's install.sh writes.

Kept from install.sh: Description, Documentation, network-online ordering, ``Type=notify``
(the stand-in calls sd_notify READY=1), the three ``EnvironmentFile=-`` lines, KillMode,
Delegate, ``TimeoutStartSec=0``, ``Restart=always``, ``RestartSec=5s``, ExecStart.
Dropped, with reason: ``ExecStartPre=-/sbin/modprobe br_netfilter|overlay`` (no kernel
modules in a container and nothing here needs them) and ``LimitNOFILE=1048576`` /
``LimitNPROC=infinity`` / ``LimitCORE=infinity`` (above the container's hard limits, which
makes systemd refuse to start the unit).
"""

from __future__ import annotations

UNIT = """[Unit]
Description=Lightweight Kubernetes
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=notify
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/sysconfig/%N
EnvironmentFile=-/etc/systemd/system/{name}.service.env
KillMode=process
Delegate=yes
User=root
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStart=/usr/local/bin/k3s \\
    {command} \\

"""

K3S_WRAPPER = """#!/bin/sh
# The incident lab's k3s stand-in (Python), installed by k3s_standin.install.
PYTHONPATH={pythonpath} exec python3 -m k3s_standin.cli "$@"
"""

LAB_WRAPPER = """#!/bin/sh
# The incident lab's node-local breakers and facts (not part of k3s).
PYTHONPATH={pythonpath} exec python3 -m k3s_standin.labnode "$@"
"""

KILLALL = """#!/bin/sh
[ $(id -u) -eq 0 ] || exec sudo $0 $@
# Stop k3s and its agent as k3s-killall.sh does (the stand-in has no containers to kill).
for service in /etc/systemd/system/k3s*.service; do
    [ -s $service ] && systemctl stop $(basename $service)
done
"""


def unit(name: str, command: str) -> str:
    return UNIT.format(name=name, command=command)


def env_file(values: dict[str, str]) -> str:
    """install.sh's ``<unit>.service.env``: K3S_* variables, single-quoted."""
    return "".join(f"{key}='{value}'\n" for key, value in values.items())
