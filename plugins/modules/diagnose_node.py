#!/usr/bin/python
# Copyright (c) 2026, remedy.k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: diagnose_node
short_description: Read what a k3s node says about itself, in one round trip, changing nothing
version_added: 1.0.0
description:
  - Collects the node-side facts C(playbooks/diagnose.yml) needs, in one round trip,
    free space of O(paths), the journal's disk usage and journald's effective limits,
    the state and restart count of the k3s units, the x509 and C(Unauthorized) lines
    those units logged, the node's clock, and the catalog of every registry in
    O(registry_urls) as seen from the node.
  - Uses the Python standard library only and writes nothing on the node. A probe that
    fails reports its error in the result; none of them fails the task.
  - The action plugin of the same name reads the controller's clock just before and just
    after the module runs, so the node's clock offset comes with its uncertainty.
author:
  - remedy.k3s contributors
options:
  paths:
    description: Paths whose file system's usage to report (C(df)'s view).
    type: list
    elements: path
    default: [/, /var/log, /var/lib/rancher]
  units:
    description: systemd units (without C(.service)) whose state and journal to read.
    type: list
    elements: str
    default: [k3s, k3s-agent]
  journal_window:
    description: Count the units' x509 journal lines of the last this many seconds.
    type: int
    default: 3600
  recent_window:
    description:
      - Count x509 and C(Unauthorized) lines of the last this many seconds, and never from
        before the units' last start, as a sign that k3s cannot talk to the API right now.
    type: int
    default: 120
  registry_urls:
    description: Registries (C(http[s]://host:port)) whose C(/v2/_catalog) to read from the node.
    type: list
    elements: str
    default: [http://127.0.0.1:5000]
  registry_timeout:
    description: Seconds to wait for each registry.
    type: float
    default: 3.0
  now:
    description:
      - The controller's time (seconds since the epoch) the journal windows count from, so
        a node with a skewed clock is read over the right hour. The action plugin sets it.
    type: float
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
notes:
  - Never reports RV(ignore:changed).
seealso:
  - module: remedy.k3s.cert_info
"""

EXAMPLES = r"""
- name: Read the node's disks, journal, k3s units, clock and registry
  remedy.k3s.diagnose_node:
  register: node_facts

- name: Say how far the node's clock is off
  ansible.builtin.debug:
    msg: "{{ node_facts.clock.offset }} s (+/- {{ node_facts.clock.uncertainty }} s)"
"""

RETURN = r"""
node_time:
  description: The node's clock when the module ran (seconds since the epoch).
  returned: always
  type: float
  sample: 1796049782.25
clock:
  description: The node's clock against the controller's (set by the action plugin).
  returned: always
  type: dict
  contains:
    offset:
      description: Node time minus the controller's at the round trip's middle, in seconds.
      returned: always
      type: float
      sample: -28800.4
    uncertainty:
      description: Half the round trip, in seconds; the offset is exact to within this.
      returned: always
      type: float
      sample: 0.6
disks:
  description: One entry per O(paths) item.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The path asked for.
      returned: always
      type: str
      sample: /var/log
    total:
      description: Size of its file system in bytes.
      returned: success
      type: int
      sample: 268435456
    used:
      description: Bytes used.
      returned: success
      type: int
      sample: 268435456
    free:
      description: Bytes an unprivileged user may still write.
      returned: success
      type: int
      sample: 0
    percent:
      description: Use in percent, as C(df) computes it.
      returned: success
      type: float
      sample: 100.0
    error:
      description: Why the path could not be read.
      returned: failure
      type: str
      sample: No such file or directory
journal:
  description: The journal's size and journald's limits.
  returned: always
  type: dict
  contains:
    usage:
      description: Bytes the journal files take (C(journalctl --disk-usage)).
      returned: always
      type: int
      sample: 839680
    configured:
      description: The C([Journal]) settings of C(journald.conf) and its drop-ins, last one wins.
      returned: always
      type: dict
      sample: {SystemMaxUse: 64M}
    effective:
      description: The limits journald applies, its defaults filled in.
      returned: always
      type: dict
      sample: {SystemMaxUse: 6710886, SystemKeepFree: 10066329, RateLimitBurst: 10000}
units:
  description:
    - Per unit, C(load_state), C(active_state), C(sub_state), C(result), C(restarts) and
      C(active_since).
  returned: always
  type: dict
  sample: {k3s-agent: {load_state: loaded, active_state: active, sub_state: running, restarts: 0}}
journal_errors:
  description: x509 lines of the last O(journal_window) s and recent API errors of the units.
  returned: always
  type: dict
  sample: {x509_errors: 1200, recent_api_errors: 240, last_api_error: "k3s[81]: ... Unauthorized"}
registries:
  description: One entry per O(registry_urls) item.
  returned: always
  type: list
  elements: dict
  sample: [{url: "http://127.0.0.1:5000", reachable: true, status: 200, repositories: [blog]}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.remedy.k3s.plugins.module_utils.diagnose_node import (
    argument_spec,
    collect,
)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    module.exit_json(changed=False, **collect(module.params))


if __name__ == "__main__":
    main()
