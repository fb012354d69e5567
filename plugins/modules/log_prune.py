#!/usr/bin/python
# Copyright: (c) 2026, remedy.k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: log_prune
short_description: Free disk space by pruning rotated logs and truncating oversized ones
version_added: "0.1.0"
description:
  - Frees space under allowed roots on a node whose disk may already be full. It needs no
    free space itself (no temporary files, no packages, Python standard library only).
  - Deletes rotated and compressed logs (C(*.1), C(*.log.1), C(*.2.gz), C(*-20240101),
    C(*.old), C(*.gz), C(*.xz), C(*.zst), C(*.bz2), C(*.lz4)) oldest first by modification
    time, keeping the newest O(keep_rotated) rotated files of every log (per directory and
    log base name).
  - Only when deleting rotated files did not meet O(target_free), truncates active logs
    larger than O(truncate_over) to zero in place, largest first. The writer keeps its file
    handle, as with logrotate's C(copytruncate).
  - Removes the log directories of pods that no longer exist under O(pods_dir), only when
    O(live_pod_uids) lists the pods that do exist. Without it, pod log directories are
    never touched.
  - Stops as soon as O(target_free) is free on each filesystem, or before O(max_delete)
    bytes would be exceeded. Without O(target_free) it prunes everything it may.
  - With O(target_free) or O(max_delete) the whole tree is scanned first and deletions go
    oldest first across it, each file re-checked by inode just before it goes. Without
    either, every eligible file goes anyway, so each directory is pruned (in listing order) as
    soon as it is listed, at the pace of C(find -delete).
  - Space is counted in allocated blocks, so a sparse file frees only the blocks it holds
    and removing one name of a hard-linked file frees nothing.
  - Follows no symlinks. A symlink is never a log and a symlinked directory is not
    entered. Every action goes through a directory opened with C(O_NOFOLLOW) and checked to
    be the inode the scan listed, so a directory swapped for a symlink meanwhile is left
    alone. Does not cross into another filesystem unless O(one_file_system=false).
  - Leaves C(/var/log/journal) alone by default; vacuum the journal with journald.
  - A second run once the target is met changes nothing.
author:
  - remedy.k3s contributors
options:
  paths:
    description:
      - Directories or files to prune. Each must resolve inside one of O(allowed_roots), or
        the module fails naming the path. Paths that do not exist are ignored.
    type: list
    elements: path
    default:
      - /var/log
      - /var/lib/rancher/k3s/agent/containerd/containerd.log
  allowed_roots:
    description:
      - The only places the module may change anything. O(paths) outside them are refused.
    type: list
    elements: path
    default:
      - /var/log
      - /var/lib/rancher/k3s/agent/containerd/containerd.log
  exclude:
    description:
      - Directories not to enter.
    type: list
    elements: path
    default:
      - /var/log/journal
  pods_dir:
    description:
      - The kubelet's pod log directory. Its subdirectories are named
        C(<namespace>_<pod>_<uid>).
    type: path
    default: /var/log/pods
  live_pod_uids:
    description:
      - UIDs of the pods the Kubernetes API reports (C(metadata.uid)). Directories in
        O(pods_dir) of any other pod are removed, oldest first with the rotated logs.
      - When omitted, nothing in O(pods_dir) is touched. An empty list means no pod
        exists, so pass it only when the API really answered.
    type: list
    elements: str
    aliases: [live_pods]
  target_free:
    description:
      - Free space wanted on each filesystem holding a path, as bytes with an optional unit
        (C(512M), C(2G); units are powers of 1024) or as a percentage of the filesystem's
        size (C(20%)). Free means available to unprivileged users, as C(df) shows.
      - When omitted, everything prunable is pruned.
    type: str
  max_delete:
    description:
      - Most bytes to free in one run (deletions and truncations together). The module
        stops before the action that would exceed it. Same format as O(target_free)
        without percentages.
    type: str
  keep_rotated:
    description:
      - Newest rotated files to keep for each log.
    type: int
    default: 1
  truncate_over:
    description:
      - Active (not rotated) logs larger than this are truncated in place when deleting
        rotated files was not enough. When omitted, active logs are never truncated.
      - A writer that did not open its log with O_APPEND goes on writing at its old
        offset, leaving a sparse file, exactly as after C(copytruncate).
    type: str
  one_file_system:
    description:
      - Stay on the filesystem of each path; do not enter mount points below it.
    type: bool
    default: true
notes:
  - On a full disk, run with SSH pipelining (the project's C(ansible.cfg) sets
    C(pipelining = true)). Without it Ansible copies the module into a temporary file on
    the node before running it, which fails when no space is left.
  - Supports check mode. It then reports exactly the files a real run would remove or
    truncate and projects the free space after.
  - Free space after a real run is measured. It can be lower than projected when a process
    still holds a deleted file open or logs keep growing; the module then warns.
seealso:
  - name: logrotate copytruncate
    description: The truncation semantics this module follows.
    link: https://man7.org/linux/man-pages/man8/logrotate.8.html
"""

EXAMPLES = r"""
- name: Free /var/log down to 20% free, keeping one rotated file per log
  remedy.k3s.log_prune:
    target_free: 20%

- name: Free 2 GiB, truncating active logs over 500 MiB if rotated ones are not enough
  remedy.k3s.log_prune:
    target_free: 2G
    truncate_over: 500M
    max_delete: 10G

- name: Remove the logs of pods that no longer exist
  remedy.k3s.log_prune:
    paths: [/var/log/pods]
    live_pod_uids: "{{ pods.resources | map(attribute='metadata.uid') | list }}"
    keep_rotated: 0
  when: pods is succeeded
"""

RETURN = r"""
removed:
  description:
    - Files and pod log directories removed (or that would be, in check mode), in the order
      acted on (see the description for the order with and without a target or budget).
  returned: always
  type: list
  elements: dict
  sample:
    - {path: /var/log/syslog.4.gz, bytes: 1048576, kind: file, mtime: 1704067200}
    - {path: /var/log/pods/default_web-1_1b2c, bytes: 40960, kind: pod_dir, mtime: 1704067300}
  contains:
    path:
      description: Absolute path.
      type: str
      returned: always
    bytes:
      description: Allocated bytes freed.
      type: int
      returned: always
    kind:
      description: C(file) or C(pod_dir).
      type: str
      returned: always
    mtime:
      description: Modification time (newest inside, for a pod directory), epoch seconds.
      type: int
      returned: always
truncated:
  description: Active logs truncated to zero in place (or that would be), in order.
  returned: always
  type: list
  elements: dict
  sample:
    - {path: /var/log/syslog, bytes: 5368709120, size_before: 5368709120}
  contains:
    path:
      description: Absolute path.
      type: str
      returned: always
    bytes:
      description: Allocated bytes freed.
      type: int
      returned: always
    size_before:
      description: Apparent size before truncation.
      type: int
      returned: always
skipped:
  description: Candidates left alone because they vanished, were replaced or could not be changed.
  returned: always
  type: list
  elements: dict
  sample:
    - {path: /var/log/app.1, reason: vanished since the scan}
freed:
  description: Allocated bytes freed in total (projected in check mode).
  returned: always
  type: int
  sample: 5369757696
free_before:
  description: Bytes available before the run, summed over the filesystems holding the paths.
  returned: always
  type: int
  sample: 0
free_after:
  description:
    - Bytes available after the run, summed over the filesystems.
    - Measured after a real run; projected in check mode.
  returned: always
  type: int
  sample: 5369757696
target_met:
  description: Whether O(target_free) is free on every filesystem (always true without a target).
  returned: always
  type: bool
  sample: true
budget_exhausted:
  description: Whether the run stopped because the next action would exceed O(max_delete).
  returned: always
  type: bool
  sample: false
filesystems:
  description: Per filesystem holding a path.
  returned: always
  type: list
  elements: dict
  sample:
    - {path: /var/log, device: 2049, size: 21474836480, free_before: 0, free_after: 5369757696,
       target: 4294967296, target_met: true, freed: 5369757696}
  contains:
    path:
      description: The path its free space is measured at.
      type: str
      returned: always
    device:
      description: Device number (st_dev).
      type: int
      returned: always
    size:
      description: Filesystem size in bytes.
      type: int
      returned: always
    free_before:
      description: Bytes available before.
      type: int
      returned: always
    free_after:
      description: Bytes available after (projected in check mode).
      type: int
      returned: always
    target:
      description: Bytes wanted free, null without O(target_free).
      type: int
      returned: always
    target_met:
      description: Whether free_after reaches target.
      type: bool
      returned: always
    freed:
      description: Allocated bytes freed on this filesystem.
      type: int
      returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.remedy.k3s.plugins.module_utils.log_prune import (
    DEFAULT_ALLOWED_ROOTS,
    DEFAULT_EXCLUDE,
    DEFAULT_PATHS,
    DEFAULT_PODS_DIR,
    PruneError,
    PruneResult,
    build_options,
    prune,
)


def _argument_spec() -> dict[str, dict[str, object]]:
    return {
        "paths": {"type": "list", "elements": "path", "default": list(DEFAULT_PATHS)},
        "allowed_roots": {
            "type": "list",
            "elements": "path",
            "default": list(DEFAULT_ALLOWED_ROOTS),
        },
        "exclude": {"type": "list", "elements": "path", "default": list(DEFAULT_EXCLUDE)},
        "pods_dir": {"type": "path", "default": DEFAULT_PODS_DIR},
        "live_pod_uids": {"type": "list", "elements": "str", "aliases": ["live_pods"]},
        "target_free": {"type": "str"},
        "max_delete": {"type": "str"},
        "keep_rotated": {"type": "int", "default": 1},
        "truncate_over": {"type": "str"},
        "one_file_system": {"type": "bool", "default": True},
    }


def _warnings(result: PruneResult, check_mode: bool) -> list[str]:
    warnings = [f"left {s['path']} alone: {s['reason']}" for s in result.skipped[:20]]
    if check_mode:
        return warnings
    for fs in result.filesystems:
        projected = fs.free_before + fs.freed
        if fs.target is not None and not fs.target_met and projected >= fs.target:
            warnings.append(
                f"{fs.path}: freed {fs.freed} bytes but only {fs.free_after} are available; "
                "a process still holds deleted files open or logs are growing fast "
                "(find them with `find /proc/*/fd -lname '*(deleted)'`) and restart it"
            )
    return warnings


def main() -> None:
    module = AnsibleModule(argument_spec=_argument_spec(), supports_check_mode=True)
    try:
        options = build_options(module.params)
        result = prune(options, check_mode=module.check_mode)
    except PruneError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"cannot read {exc.filename}: {exc.strerror}; run as root (become)")
    for warning in _warnings(result, module.check_mode):
        module.warn(warning)
    summary = (
        f"{'would free' if module.check_mode else 'freed'} {result.freed} bytes: "
        f"{len(result.removed)} removed, {len(result.truncated)} truncated; "
        f"target {'met' if result.target_met else 'NOT met'}"
    )
    module.exit_json(msg=summary, **result.as_dict())


if __name__ == "__main__":
    main()
