# Copyright: (c) 2026, remedy.k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Free disk space by pruning logs, on a node whose disk may already be full.

Everything here is stdlib only and writes nothing but the deletions and truncations it
reports: no temp files, no caches. The same selection loop runs in check mode (with a
simulating executor) and for real (with an executor that acts), so the plan shown in
check mode is, by construction, what a real run does on an unchanged tree.

Space is accounted in allocated bytes (``st_blocks * 512``): a sparse file frees only
the blocks it holds, and removing one name of a hard-linked file frees nothing.
"""

from __future__ import annotations

import gc
import os
import re
import stat
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

DEFAULT_PATHS = ("/var/log", "/var/lib/rancher/k3s/agent/containerd/containerd.log")
DEFAULT_ALLOWED_ROOTS = DEFAULT_PATHS
DEFAULT_EXCLUDE = ("/var/log/journal",)
DEFAULT_PODS_DIR = "/var/log/pods"

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)(?:i?B)?$", re.IGNORECASE)
_PERCENT_RE = re.compile(r"^(\d+(?:\.\d+)?)%$")
_COMPRESSED = frozenset(("gz", "xz", "zst", "bz2", "lz4"))
# logrotate's dateext (`-20240101`, `-2024010112`, `-2024-01-01`), kubelet's
# `0.log.20240101-120000`; numbered (`.1`) and `.old` suffixes need no regex.
_DATED_RE = re.compile(r"[-.](?:\d{8}(?:[-_]?\d{2,6})?|\d{4}-\d{2}-\d{2})$")
_DIR_FD_CACHE = 64
_FLAGS_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FLAGS_TRUNC = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY

StatVfs = Callable[[str], os.statvfs_result]


class PruneError(Exception):
    """A request the module must refuse; the message tells the operator what to change."""


# ---------------------------------------------------------------------------- parsing
@dataclass(frozen=True)
class FreeTarget:
    """Free space wanted on a filesystem: absolute bytes or a share of its size."""

    bytes: int | None = None
    percent: float | None = None

    def wanted(self, fs_size: int) -> int:
        if self.percent is not None:
            return int(fs_size * self.percent / 100)
        return self.bytes or 0


def _size_hint(option: str) -> str:
    return (
        f"option '{option}' takes bytes or a number with a unit K, M, G or T "
        f"(powers of 1024), for example {option}=512M or {option}=2G"
    )


def parse_size(value: object, option: str) -> int:
    """Parse ``512M`` / ``2G`` / ``1048576`` into bytes, naming ``option`` on error."""
    text = str(value).strip()
    match = _SIZE_RE.match(text)
    if match is None or isinstance(value, bool):
        raise PruneError(f"{value!r} is not a size: {_size_hint(option)}")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def parse_target(value: object, option: str = "target_free") -> FreeTarget:
    """Parse a free-space target: a size (``2G``) or a percentage (``20%``)."""
    text = str(value).strip()
    match = _PERCENT_RE.match(text)
    if match is None:
        try:
            return FreeTarget(bytes=parse_size(value, option))
        except PruneError:
            raise PruneError(
                f"{value!r} is not a free-space target: {_size_hint(option)}, "
                f"or a percentage of the filesystem such as {option}=20%"
            ) from None
    percent = float(match.group(1))
    if percent > 100:
        raise PruneError(
            f"option '{option}' is {value!r}: a percentage must be at most 100%, "
            f"for example {option}=20%"
        )
    return FreeTarget(percent=percent)


def rotation_base(name: str) -> str | None:
    """The log a rotated/compressed file belongs to, or None for an active log.

    String operations rather than one regex: this runs once per file in the tree.
    """
    stem, dot, ext = name.rpartition(".")
    compressed = bool(dot) and ext in _COMPRESSED
    if compressed:
        name = stem
        stem, dot, ext = name.rpartition(".")
    if dot and (ext == "old" or (ext.isdigit() and ext.isascii())):
        return stem
    if name[-1:].isdigit():
        dated = _DATED_RE.search(name)
        if dated is not None:
            return name[: dated.start()]
    return name if compressed else None


# ---------------------------------------------------------------------------- options
@dataclass(frozen=True)
class PruneOptions:
    paths: tuple[str, ...] = DEFAULT_PATHS
    allowed_roots: tuple[str, ...] = DEFAULT_ALLOWED_ROOTS
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    pods_dir: str = DEFAULT_PODS_DIR
    live_pod_uids: frozenset[str] | None = None
    target_free: FreeTarget | None = None
    max_delete: int | None = None
    keep_rotated: int = 1
    truncate_over: int | None = None
    one_file_system: bool = True


def build_options(params: dict[str, object]) -> PruneOptions:
    """Validate raw module parameters into PruneOptions (raises PruneError)."""
    keep = params.get("keep_rotated", 1)
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
        raise PruneError(
            f"option 'keep_rotated' is {keep!r}: give a whole number of rotated files to "
            "keep per log, 0 or more, for example keep_rotated=1"
        )
    live = params.get("live_pod_uids")
    return PruneOptions(
        paths=tuple(_strings(params, "paths", DEFAULT_PATHS)),
        allowed_roots=tuple(_strings(params, "allowed_roots", DEFAULT_ALLOWED_ROOTS)),
        exclude=tuple(_strings(params, "exclude", DEFAULT_EXCLUDE)),
        pods_dir=str(params.get("pods_dir") or DEFAULT_PODS_DIR),
        live_pod_uids=None if live is None else frozenset(str(u) for u in live),  # type: ignore[union-attr]
        target_free=_optional(params, "target_free", parse_target),
        max_delete=_optional(params, "max_delete", parse_size),
        keep_rotated=keep,
        truncate_over=_optional(params, "truncate_over", parse_size),
        one_file_system=bool(params.get("one_file_system", True)),
    )


def _strings(params: dict[str, object], key: str, default: tuple[str, ...]) -> list[str]:
    value = params.get(key)
    if value is None:
        return list(default)
    return [str(v) for v in value if str(v)]  # type: ignore[union-attr]


def _optional(params: dict[str, object], key: str, parse: Callable[[object, str], object]):  # noqa: ANN202 -- returns what parse returns
    value = params.get(key)
    if value is None or value == "":
        return None
    return parse(value, key)


# ---------------------------------------------------------------------------- scanning
class Candidate:
    """One prunable thing: a rotated file, an oversized active file or a dead pod's dir."""

    # A plain slotted class: the scan makes one per file, 100,000 of them on a bad day.
    __slots__ = ("allocated", "dev", "ino", "kind", "mtime_ns", "name", "parent", "path", "size")

    def __init__(  # noqa: PLR0917 -- positional: one call per scanned file
        self, kind: str, parent: str, name: str, path: str, st: os.stat_result, allocated: int
    ) -> None:
        self.kind = kind  # "rotated" | "active" | "pod_dir"
        self.parent = parent
        self.name = name
        self.path = path
        self.dev = st.st_dev
        self.ino = st.st_ino
        self.mtime_ns = st.st_mtime_ns
        self.size = st.st_size
        self.allocated = allocated


DirIds = dict[str, tuple[int, int]]
Batch = Callable[["FsPlan", list[Candidate]], None]


@dataclass
class FsPlan:
    """What is prunable on one filesystem, and where to measure its free space."""

    dev: int
    path: str
    deletions: list[Candidate] = field(default_factory=list)
    truncations: list[Candidate] = field(default_factory=list)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def resolve_paths(options: PruneOptions) -> list[str]:
    """Real paths to scan; refuses any that resolves outside ``allowed_roots``."""
    allowed = [os.path.realpath(r) for r in options.allowed_roots]
    resolved: list[str] = []
    for path in options.paths:
        if not os.path.isabs(path):
            raise PruneError(
                f"path {path!r} in option 'paths' is not absolute; give a full path "
                "such as /var/log"
            )
        real = os.path.realpath(path)
        if not any(_inside(real, root) for root in allowed):
            shown = f"{path!r} (resolves to {real!r})" if real != path else repr(path)
            raise PruneError(
                f"path {shown} in option 'paths' is outside the allowed roots "
                f"{list(options.allowed_roots)}; remove it from 'paths' or, if it really "
                "holds only logs, add it to option 'allowed_roots'"
            )
        if os.path.lexists(real):
            resolved.append(real)
    # A path inside another one is scanned once, through the outer one.
    return [p for p in resolved if not any(o != p and _inside(p, o) for o in resolved)]


def _eligible(groups: dict[str, list[Candidate]], keep: int, ordered: bool) -> list[Candidate]:
    """Rotated files of one directory minus the newest ``keep`` of each log.

    Oldest first when ``ordered``; without it (everything eligible goes, so the order
    cannot change the outcome) nothing is sorted beyond what choosing the kept ones needs.
    """
    if keep == 0 and not ordered:
        return [cand for members in groups.values() for cand in members]
    out: list[Candidate] = []
    for members in groups.values():
        if len(members) > keep:
            members.sort(key=_by_age)
            out.extend(members[: len(members) - keep])
    if ordered:
        out.sort(key=_by_age)
    return out


def _by_age(cand: Candidate) -> tuple[int, str]:
    return cand.mtime_ns, cand.path


class Scanner:
    """Walks the roots without following symlinks and sorts what it finds into plans.

    Each directory is opened with O_NOFOLLOW and checked to be the inode its parent
    listed; its entries are stat'ed relative to that fd. The identities are kept in
    ``dirs`` so that the Actor can refuse a directory swapped after the scan. With
    ``on_batch`` each directory's deletions are handed over as soon as it is listed
    (used when everything eligible goes anyway, so global order does not matter).
    """

    def __init__(self, options: PruneOptions, on_batch: Batch | None = None) -> None:
        self.options = options
        self.on_batch = on_batch
        self.exclude = {os.path.realpath(p) for p in options.exclude}
        self.pods_dir = os.path.realpath(options.pods_dir)
        self.plans: OrderedDict[int, FsPlan] = OrderedDict()
        self.dirs: DirIds = {}

    def scan(self, roots: list[str]) -> list[FsPlan]:
        for root in roots:
            st = os.lstat(root)
            self._plan_for(st.st_dev, root)
            if stat.S_ISDIR(st.st_mode):
                self._walk(root, st)
            elif stat.S_ISREG(st.st_mode):
                self._file_root(root, st)
        for plan in self.plans.values():
            plan.deletions.sort(key=_by_age)
            plan.truncations.sort(key=lambda c: (-c.allocated, c.path))
        return list(self.plans.values())

    def _plan_for(self, dev: int, path: str) -> FsPlan:
        plan = self.plans.get(dev)
        if plan is None:
            plan = self.plans[dev] = FsPlan(dev=dev, path=path)
        return plan

    def _file_root(self, path: str, st: os.stat_result) -> None:
        parent, name = os.path.split(path)
        pst = os.stat(parent)
        self.dirs[parent] = (pst.st_dev, pst.st_ino)
        groups: dict[str, list[Candidate]] = {}
        self._add_file(self.plans[st.st_dev], parent, name, path, st, groups)
        self._emit(
            self.plans[st.st_dev],
            _eligible(groups, self.options.keep_rotated, self.on_batch is None),
        )

    def _walk(self, top: str, top_st: os.stat_result) -> None:
        stack = [(top, top_st)]
        while stack:
            directory, dir_st = stack.pop()
            try:
                fd = os.open(directory, _FLAGS_DIR)
            except OSError:
                continue
            try:
                if not os.path.samestat(os.fstat(fd), dir_st):
                    continue
                self.dirs[directory] = (dir_st.st_dev, dir_st.st_ino)
                self._list(fd, directory, dir_st.st_dev, stack)
            finally:
                os.close(fd)

    def _list(self, fd: int, directory: str, dev: int, stack: list) -> None:
        plan = self.plans[dev]
        prefix = directory.rstrip("/") + "/"
        groups: dict[str, list[Candidate]] = {}
        pods: list[Candidate] = []
        try:
            entries = list(os.scandir(fd))
        except OSError:
            return
        for entry in entries:
            if entry.is_symlink():
                continue
            name = entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode):
                self._add_file(plan, directory, name, prefix + name, st, groups)
            elif stat.S_ISDIR(st.st_mode):
                self._enter(prefix + name, st, dev, stack, pods)
        self._emit(
            plan, [*_eligible(groups, self.options.keep_rotated, self.on_batch is None), *pods]
        )

    def _emit(self, plan: FsPlan, deletions: list[Candidate]) -> None:
        if not deletions:
            return
        if self.on_batch is None:
            plan.deletions.extend(deletions)
        else:
            self.on_batch(plan, deletions)

    def _enter(
        self, path: str, st: os.stat_result, dev: int, stack: list, pods: list[Candidate]
    ) -> None:
        if path in self.exclude:
            return
        if st.st_dev != dev:
            if self.options.one_file_system:
                return
            self._plan_for(st.st_dev, path)
        if os.path.dirname(path) == self.pods_dir:
            pod = self._pod_dir(path, st)
            if pod is not None:
                pods.append(pod)
        elif path != self.pods_dir or self.options.live_pod_uids is not None:
            stack.append((path, st))

    def _add_file(  # noqa: PLR0917 -- positional: called once per scanned file
        self,
        plan: FsPlan,
        parent: str,
        name: str,
        path: str,
        st: os.stat_result,
        groups: dict[str, list[Candidate]],
    ) -> None:
        base = rotation_base(name)
        if base is not None:
            allocated = st.st_blocks * 512 if st.st_nlink == 1 else 0
            cand = Candidate("rotated", parent, name, path, st, allocated)
            group = groups.get(base)
            if group is None:
                groups[base] = [cand]
            else:
                group.append(cand)
            return
        limit = self.options.truncate_over
        if limit is not None and st.st_size > limit and st.st_blocks:
            plan.truncations.append(Candidate("active", parent, name, path, st, st.st_blocks * 512))

    def _pod_dir(self, path: str, st: os.stat_result) -> Candidate | None:
        parent, name = os.path.split(path)
        live = self.options.live_pod_uids
        if live is None or "_" not in name or name.rsplit("_", 1)[1] in live:
            return None
        allocated, size, newest = _tree_usage(path, st.st_dev)
        cand = Candidate("pod_dir", parent, name, path, st, allocated)
        cand.size = size
        cand.mtime_ns = max(newest, st.st_mtime_ns)
        return cand


def _tree_usage(top: str, dev: int) -> tuple[int, int, int]:
    """Allocated bytes, apparent bytes and newest mtime under a directory (same fs only)."""
    allocated = size = newest = 0
    for entry, st in _walk_tree(top, dev):
        if entry.is_file(follow_symlinks=False):
            allocated += st.st_blocks * 512 if st.st_nlink == 1 else 0
            size += st.st_size
            newest = max(newest, st.st_mtime_ns)
    return allocated, size, newest


def _walk_tree(top: str, dev: int) -> Iterator[tuple[os.DirEntry[str], os.stat_result]]:
    for entry in os.scandir(top):
        st = entry.stat(follow_symlinks=False)
        if entry.is_dir(follow_symlinks=False) and st.st_dev == dev:
            yield from _walk_tree(entry.path, dev)
        yield entry, st


# ---------------------------------------------------------------------------- executing
class Skipped(Exception):
    """An action not taken because the file changed or could not be touched."""


class Executor(Protocol):
    def delete(self, cand: Candidate) -> int: ...
    def truncate(self, cand: Candidate) -> int: ...
    def close(self) -> None: ...


class Simulator:
    """Check mode: every action succeeds and frees what the scan measured."""

    def delete(self, cand: Candidate) -> int:
        return cand.allocated

    def truncate(self, cand: Candidate) -> int:
        return cand.allocated

    def close(self) -> None:
        return None


class Actor:
    """Real mode: acts only through directory fds that are the directories scanned.

    A directory is opened with O_NOFOLLOW and must be the inode the scan listed, so a
    path swapped for a symlink after the scan cannot redirect anything out of the roots.
    With ``recheck`` (the plan was made for the whole tree before acting) each file is
    also re-checked by inode, so a file rotated into a planned name in the meantime is
    left alone. Without it (each directory is acted on right after it is listed) the
    window is the one ``find -delete`` has.
    """

    def __init__(self, dirs: DirIds, *, recheck: bool) -> None:
        self.ids = dirs
        self.recheck = recheck
        self._fds: OrderedDict[str, int] = OrderedDict()
        self._last: str | None = None
        self._last_fd = -1

    def delete(self, cand: Candidate) -> int:
        dir_fd = self._last_fd if cand.parent == self._last else self._dir_fd(cand.parent)
        name = cand.name
        try:
            if self.recheck or cand.kind == "pod_dir":
                st = os.lstat(name, dir_fd=dir_fd)
                if st.st_ino != cand.ino or st.st_dev != cand.dev:
                    raise Skipped("replaced since the scan")
                if cand.kind == "pod_dir":
                    return _remove_tree(name, dir_fd, st.st_dev)
                cand.allocated = st.st_blocks * 512 if st.st_nlink == 1 else 0
            os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            raise Skipped("vanished since the scan") from None
        except OSError as exc:
            raise Skipped(exc.strerror or str(exc)) from None
        return cand.allocated

    def truncate(self, cand: Candidate) -> int:
        dir_fd = self._dir_fd(cand.parent)
        fd = _or_skip(os.open, cand.name, _FLAGS_TRUNC, dir_fd=dir_fd)
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != (cand.dev, cand.ino) or not stat.S_ISREG(st.st_mode):
                raise Skipped("replaced since the scan")
            os.ftruncate(fd, 0)
            after = os.fstat(fd)
            return max(0, (st.st_blocks - after.st_blocks) * 512)
        finally:
            os.close(fd)

    def close(self) -> None:
        self._last = None
        while self._fds:
            os.close(self._fds.popitem()[1])

    def _dir_fd(self, path: str) -> int:
        if path == self._last:
            return self._last_fd
        fd = self._fds.get(path)
        if fd is None:
            fd = self._open_dir(path)
        else:
            self._fds.move_to_end(path)
        self._last, self._last_fd = path, fd
        return fd

    def _open_dir(self, path: str) -> int:
        fd = _or_skip(os.open, path, _FLAGS_DIR)
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != self.ids.get(path):
            os.close(fd)
            raise Skipped("directory replaced since the scan")
        self._fds[path] = fd
        if len(self._fds) > _DIR_FD_CACHE:
            os.close(self._fds.popitem(last=False)[1])
        return fd


def _or_skip(func: Callable[..., object], *args: object, **kwargs: object):  # noqa: ANN202 -- passes func's result through
    try:
        return func(*args, **kwargs)
    except FileNotFoundError:
        raise Skipped("vanished since the scan") from None
    except OSError as exc:
        raise Skipped(exc.strerror or str(exc)) from None


def _remove_tree(name: str, parent_fd: int, dev: int) -> int:
    """Remove a directory tree below parent_fd without following any symlink."""
    fd = _or_skip(os.open, name, _FLAGS_DIR, dir_fd=parent_fd)
    freed = 0
    try:
        if os.fstat(fd).st_dev != dev:
            raise Skipped("is another filesystem's mount point")
        for entry in list(os.scandir(fd)):
            st = _or_skip(os.lstat, entry.name, dir_fd=fd)
            if stat.S_ISDIR(st.st_mode):
                freed += _remove_tree(entry.name, fd, dev)
                continue
            if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
                freed += st.st_blocks * 512
            _or_skip(os.unlink, entry.name, dir_fd=fd)
    finally:
        os.close(fd)
    _or_skip(os.rmdir, name, dir_fd=parent_fd)
    return freed


# ---------------------------------------------------------------------------- selection
@dataclass
class FsReport:
    path: str
    device: int
    size: int
    free_before: int
    free_after: int
    target: int | None
    target_met: bool
    freed: int

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class PruneResult:
    removed: list[dict[str, object]] = field(default_factory=list)
    truncated: list[dict[str, object]] = field(default_factory=list)
    skipped: list[dict[str, object]] = field(default_factory=list)
    filesystems: list[FsReport] = field(default_factory=list)
    freed: int = 0
    budget_exhausted: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.removed or self.truncated)

    @property
    def target_met(self) -> bool:
        return all(fs.target_met for fs in self.filesystems)

    def as_dict(self) -> dict[str, object]:
        return {
            "changed": self.changed,
            "removed": self.removed,
            "truncated": self.truncated,
            "skipped": self.skipped,
            "freed": self.freed,
            "free_before": sum(fs.free_before for fs in self.filesystems),
            "free_after": sum(fs.free_after for fs in self.filesystems),
            "target_met": self.target_met,
            "budget_exhausted": self.budget_exhausted,
            "filesystems": [fs.as_dict() for fs in self.filesystems],
        }


@dataclass
class FsState:
    """Free space on one filesystem as the run goes: measured once, then accounted."""

    path: str
    dev: int
    size: int
    free_before: int
    wanted: int | None
    freed: int = 0


class Selector:
    """The one loop that decides what to prune; shared by check mode and real runs."""

    def __init__(
        self, options: PruneOptions, executor: Executor, result: PruneResult, statvfs: StatVfs
    ) -> None:
        self.options = options
        self.executor = executor
        self.result = result
        self.statvfs = statvfs
        self.states: OrderedDict[int, FsState] = OrderedDict()

    def state(self, plan: FsPlan) -> FsState:
        """The filesystem's state, measured the first time it is needed (before any action)."""
        state = self.states.get(plan.dev)
        if state is None:
            vfs = self.statvfs(plan.path)
            size = vfs.f_blocks * vfs.f_frsize
            target = self.options.target_free
            wanted = None if target is None else target.wanted(size)
            state = FsState(plan.path, plan.dev, size, vfs.f_bavail * vfs.f_frsize, wanted)
            self.states[plan.dev] = state
        return state

    def run(self, plan: FsPlan, candidates: list[Candidate]) -> None:
        """Act on candidates in order until the target is met or the budget would be exceeded."""
        state = self.state(plan)
        budget = self.options.max_delete
        result = self.result
        # Target and budget checked inline: this loop runs once per file.
        wanted = state.wanted
        for cand in candidates:
            if result.budget_exhausted or (
                wanted is not None and state.free_before + state.freed >= wanted
            ):
                return
            if budget is not None and result.freed + cand.allocated > budget:
                result.budget_exhausted = True
                return
            got = self._act(cand)
            state.freed += got
            result.freed += got

    def _act(self, cand: Candidate) -> int:
        truncate = cand.kind == "active"
        try:
            got = self.executor.truncate(cand) if truncate else self.executor.delete(cand)
        except Skipped as why:
            self.result.skipped.append({"path": cand.path, "reason": str(why)})
            return 0
        if truncate:
            self.result.truncated.append(
                {"path": cand.path, "bytes": got, "size_before": cand.size}
            )
        else:
            kind = "pod_dir" if cand.kind == "pod_dir" else "file"
            self.result.removed.append(
                {"path": cand.path, "bytes": got, "kind": kind, "mtime": cand.mtime_ns // 10**9}
            )
        return got

    def report(self, plans: list[FsPlan], check_mode: bool) -> None:
        for plan in plans:
            state = self.state(plan)
            after = state.free_before + state.freed
            if not check_mode:
                vfs = self.statvfs(plan.path)
                after = vfs.f_bavail * vfs.f_frsize
            met = True if state.wanted is None else after >= state.wanted
            report = FsReport(
                path=plan.path,
                device=plan.dev,
                size=state.size,
                free_before=state.free_before,
                free_after=after,
                target=state.wanted,
                target_met=met,
                freed=state.freed,
            )
            self.result.filesystems.append(report)


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    # The scan makes a few objects per file and none of them form cycles; with 100,000
    # files the collector's repeated passes over them cost about a third of the run.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def prune(options: PruneOptions, *, check_mode: bool, statvfs: StatVfs = os.statvfs) -> PruneResult:
    """Plan (check mode) or carry out the pruning described by ``options``.

    With a target or a budget the whole tree is scanned first, so that deletions go
    oldest first across it. Without either, everything eligible goes anyway, and each
    directory is pruned as soon as it is listed (in listing order: all of it goes), the way
    ``find -delete`` works.
    """
    roots = resolve_paths(options)
    result = PruneResult()
    streaming = options.target_free is None and options.max_delete is None
    scanner = Scanner(options)
    executor: Executor = Simulator() if check_mode else Actor(scanner.dirs, recheck=not streaming)
    selector = Selector(options, executor, result, statvfs)
    if streaming:
        scanner.on_batch = selector.run
    with _without_cyclic_gc():
        try:
            plans = scanner.scan(roots)
            for plan in plans:
                selector.state(plan)
            for plan in plans:
                selector.run(plan, [*plan.deletions, *plan.truncations])
            selector.report(plans, check_mode)
        finally:
            executor.close()
    return result
