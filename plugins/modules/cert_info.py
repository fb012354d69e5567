#!/usr/bin/python
# Copyright (c) 2026, remedy.k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: cert_info
short_description: Report the expiry of every certificate a k3s node uses, in one round trip
version_added: 1.0.0
description:
  - Lists every certificate k3s keeps on a node and says, for each, when it expires and
    whether it is V(ok), V(expiring), V(expired) or V(not_yet_valid).
  - Scans every C(*.crt) under C(<data_dir>/server/tls/) recursively (so C(etcd/) and
    C(temporary-certs/) are included), every C(*.crt) directly under C(<data_dir>/agent/),
    C(<data_dir>/server/tls/dynamic-cert.json) (the cached C(:6443) serving certificate,
    only its C(data."tls.crt")), and the C(certificate-authority-data) of every cluster and
    the C(client-certificate-data) of every user in each of O(kubeconfigs).
  - The backup trees C(server/tls-<timestamp>) and C(agent/tls-<timestamp>) left by
    C(k3s certificate rotate) are not scanned. A missing directory or kubeconfig is not an
    error (an agent has no C(server/)).
  - Private keys are never read or returned. C(*.key) files are never opened; C(tls.key)
    and C(client-key-data) are never returned. A file that holds a private key where a
    certificate should be is reported in RV(errors) by its PEM label, never its content.
  - Files that cannot be read or parsed never fail the task; they are listed in
    RV(errors).
  - Works on a node that has nothing but C(python3) and a 100% full disk. The part that runs
    on the node uses the Python standard library only and writes nothing; it returns the
    certificates' bytes, and the C(remedy.k3s.cert_info) action plugin parses them on the
    controller with C(cryptography) and computes the status.
  - On a full disk Ansible cannot run ordinary modules, pipelining or not (its module
    wrapper must unpack its payload into a temporary directory). When the node reports
    that, the action plugin pipes the same stdlib collector straight to the node's Python
    interpreter, which writes no file, and adds a warning that the disk is full. This
    needs a connection that can feed a command's standard input (C(ssh), C(local)).
    Enable pipelining (the project's C(ansible.cfg) does). Without it, Ansible first
    creates a remote temporary directory and copies the module there, and the fallback
    only starts when that step's error says C(No space left on device).
  - Dates are evaluated against the controller's clock (or O(at)), not the node's, so a
    node with a skewed clock still gets the right verdict.
author:
  - remedy.k3s contributors
options:
  data_dir:
    description:
      - The k3s data directory (k3s's C(--data-dir)).
    type: path
    default: /var/lib/rancher/k3s
  kubeconfigs:
    description:
      - Kubeconfig files whose embedded certificates to report. Missing files are skipped.
      - JSON kubeconfigs and the block-style YAML that k3s, kubectl and client-go write are
        understood. Certificates referenced by path (C(client-certificate)) are not
        followed; the files k3s references live under C(server/tls/) and are scanned there.
    type: list
    elements: path
    default: [/etc/rancher/k3s/k3s.yaml]
  warn_days:
    description:
      - A certificate whose C(not_after) is this many days away or less is V(expiring).
      - k3s renews leaf certificates on start when they are within 90 days of expiry (120
        days since v1.33.1, v1.32.5, v1.31.9 and v1.30.13).
    type: int
    default: 90
  at:
    description:
      - Evaluate as of this moment instead of now, to plan ahead (what will have expired
        by the next maintenance window?).
      - An ISO 8601 timestamp with a UTC offset or C(Z), for example V(2027-03-01T06:00:00Z)
        or V(2027-03-01T07:00:00+01:00). A timestamp without an offset is refused.
    type: str
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs unchanged in check mode.
  diff_mode:
    support: none
  action:
    support: full
    description: Parsing happens on the controller in the C(remedy.k3s.cert_info) action plugin.
requirements:
  - On the controller, the Python library C(cryptography).
  - On the node, C(python3) only.
notes:
  - Never reports RV(ignore:changed).
  - All timestamps are UTC, formatted C(YYYY-MM-DDTHH:MM:SSZ).
  - For a bundle (a leaf followed by its CA, as k3s writes them) the entry describes the
    first certificate, the one that expires first in practice; RV(certificates[].chain_length)
    counts them all.
seealso:
  - module: community.crypto.x509_certificate_info
    description: Details of one certificate per call, parsed on the node.
"""

EXAMPLES = r"""
- name: Read the expiry of every k3s certificate on the node
  remedy.k3s.cert_info:
  register: k3s_certs

- name: Fail when a certificate has expired
  ansible.builtin.assert:
    that: k3s_certs.summary.expired == 0
    fail_msg: >-
      {{ k3s_certs.summary.expired }} certificate(s) expired, the first on
      {{ k3s_certs.summary.earliest_not_after }} ({{ k3s_certs.summary.earliest_path }}):
      rotate the certificates before anything else.

- name: List what will have expired by the next maintenance window
  remedy.k3s.cert_info:
    at: "2027-03-01T06:00:00Z"
    warn_days: 30
    kubeconfigs:
      - /etc/rancher/k3s/k3s.yaml
      - /root/.kube/config
  register: k3s_certs_at_window

- name: Show the certificates that need attention
  ansible.builtin.debug:
    msg: "{{ item.path }}: {{ item.status }} ({{ item.days_left }} days)"
  loop: "{{ k3s_certs_at_window.certificates | rejectattr('status', 'eq', 'ok') }}"
  loop_control:
    label: "{{ item.path }}"
"""

RETURN = r"""
certificates:
  description:
    - One entry per certificate file (its first certificate), one for C(dynamic-cert.json)
      and one per certificate field of each kubeconfig, soonest C(not_after) first.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file the certificate was read from.
      returned: always
      type: path
      sample: /var/lib/rancher/k3s/server/tls/client-admin.crt
    source:
      description:
        - V(file) for a C(.crt) file, V(dynamic) for C(server/tls/dynamic-cert.json),
          V(kubeconfig) for a kubeconfig field.
      returned: always
      type: str
      choices: [file, dynamic, kubeconfig]
      sample: file
    kubeconfig_entry:
      description: The name of the kubeconfig user or cluster; V(null) for other sources.
      returned: always
      type: str
      sample: default
    kubeconfig_field:
      description:
        - V(client-certificate-data) (a user) or V(certificate-authority-data) (a cluster);
          V(null) for other sources.
      returned: always
      type: str
      sample: client-certificate-data
    subject:
      description: The subject as an RFC 4514 string.
      returned: always
      type: str
      sample: CN=system:admin,O=system:masters
    issuer:
      description: The issuer as an RFC 4514 string.
      returned: always
      type: str
      sample: CN=k3s-client-ca@1735689600
    serial:
      description: The serial number in upper-case hex, as C(openssl x509 -serial) prints it.
      returned: always
      type: str
      sample: 3C5E1F0A9B2D7E41
    not_before:
      description: Start of validity, UTC.
      returned: always
      type: str
      sample: "2026-01-01T00:00:00Z"
    not_after:
      description: End of validity, UTC.
      returned: always
      type: str
      sample: "2027-01-01T00:00:00Z"
    days_left:
      description: Days from now (or O(at)) until C(not_after); negative once expired.
      returned: always
      type: float
      sample: 31.5
    status:
      description:
        - V(not_yet_valid) before C(not_before), V(expired) from C(not_after) on,
          V(expiring) when C(not_after) is at most O(warn_days) days away, V(ok) otherwise.
      returned: always
      type: str
      choices: [ok, expiring, expired, not_yet_valid]
      sample: expiring
    is_ca:
      description: Whether the certificate's basic constraints say it is a CA.
      returned: always
      type: bool
      sample: false
    chain_length:
      description: How many certificates the file or field holds (2 for a leaf and its CA).
      returned: always
      type: int
      sample: 2
summary:
  description: Counts over RV(certificates).
  returned: always
  type: dict
  contains:
    total:
      description: Number of entries in RV(certificates).
      returned: always
      type: int
      sample: 42
    ok:
      description: Entries with status V(ok).
      returned: always
      type: int
      sample: 30
    expiring:
      description: Entries with status V(expiring).
      returned: always
      type: int
      sample: 0
    expired:
      description: Entries with status V(expired).
      returned: always
      type: int
      sample: 12
    not_yet_valid:
      description: Entries with status V(not_yet_valid).
      returned: always
      type: int
      sample: 0
    earliest_not_after:
      description: The soonest C(not_after); V(null) when nothing was found.
      returned: always
      type: str
      sample: "2026-11-02T10:00:00Z"
    earliest_path:
      description: The file of that certificate; V(null) when nothing was found.
      returned: always
      type: path
      sample: /var/lib/rancher/k3s/server/tls/client-admin.crt
errors:
  description:
    - Files (or kubeconfig entries) that could not be read or parsed, sorted by path. They
      never fail the task.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file, followed by C((user NAME)) or C((cluster NAME)) for a kubeconfig entry.
      returned: always
      type: str
      sample: /var/lib/rancher/k3s/server/tls/client-admin.crt
    msg:
      description: What is wrong with it. Never contains the file's content.
      returned: always
      type: str
      sample: "no certificate in this PEM file, found: EC PRIVATE KEY"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.remedy.k3s.plugins.module_utils.x509_scan import argument_spec, scan


def main() -> None:
    # Only collects; the action plugin of the same name parses on the controller.
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    result = scan(module.params["data_dir"], module.params["kubeconfigs"])
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
