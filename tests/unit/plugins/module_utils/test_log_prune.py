"""Selection and safety of log_prune, on real files in a temporary tree.

Free space comes from ``DirFs``: a stand-in for statvfs that reports a small filesystem
whose used space is what the tree really allocates, so targets in bytes and percent are
checked against real st_blocks. One test also uses a real tmpfs when mounting is allowed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ansible_collections.remedy.k3s.plugins.module_utils.log_prune import (
    Actor,
    FreeTarget,
    PruneError,
    PruneOptions,
    PruneResult,
    Scanner,
    Selector,
    build_options,
    parse_size,
    parse_target,
    prune,
    resolve_paths,
    rotation_base,
)

DAY = 86_400 * 10**9
BLOCK = 4096


class DirFs:
    """statvfs for a pretend filesystem of ``capacity`` bytes holding the tree at ``top``."""

    def __init__(self, top: Path, capacity: int) -> None:
        self.top = top
        self.capacity = capacity

    def used(self) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.top):
            for name in files:
                st = os.lstat(os.path.join(dirpath, name))
                total += st.st_blocks * 512
        return total

    def __call__(self, _path: str) -> os.statvfs_result:
        free = self.capacity - self.used()
        fields = [
            BLOCK,
            BLOCK,
            self.capacity // BLOCK,
            free // BLOCK,
            free // BLOCK,
            0,
            0,
            0,
            0,
            255,
        ]
        return os.statvfs_result(fields)


def write(path: Path, size: int, age_days: float = 0, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data * size)
    stamp = 1_700_000_000 * 10**9 - int(age_days * DAY)
    os.utime(path, ns=(stamp, stamp))
    return path


def allocated(path: Path) -> int:
    return os.lstat(path).st_blocks * 512


def options(root: Path, **kwargs: object) -> PruneOptions:
    params: dict[str, object] = {
        "paths": [str(root)],
        "allowed_roots": [str(root)],
        "exclude": [str(root / "journal")],
        "pods_dir": str(root / "pods"),
    }
    params.update(kwargs)
    return build_options(params)


def snapshot(top: Path) -> dict[str, tuple[int, int, int]]:
    seen = {}
    for dirpath, dirs, files in os.walk(top):
        for name in dirs + files:
            st = os.lstat(os.path.join(dirpath, name))
            seen[os.path.join(dirpath, name)] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return seen


def removed_paths(result: PruneResult) -> list[str]:
    return [str(r["path"]) for r in result.removed]


# ---------------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("1024", 1024), ("512M", 512 * 1024**2), ("2G", 2 * 1024**3), ("1.5k", 1536),
     ("10MiB", 10 * 1024**2), ("3T", 3 * 1024**4)],
)  # fmt: skip
def test_parse_size_accepts_units(text: str, expected: int) -> None:
    assert parse_size(text, "max_delete") == expected


@pytest.mark.parametrize("text", ["5 GB", "-1", "1X", "", "20%", "G", "1.2.3"])
def test_parse_size_rejects_with_option_and_example(text: str) -> None:
    with pytest.raises(PruneError, match=r"option 'max_delete'.*max_delete=512M"):
        parse_size(text, "max_delete")


def test_parse_target_percent_and_bytes() -> None:
    assert parse_target("20%") == FreeTarget(percent=20.0)
    assert parse_target("2G") == FreeTarget(bytes=2 * 1024**3)
    assert parse_target("20%").wanted(1000) == 200


@pytest.mark.parametrize("text", ["120%", "20 %", "lots", "2GB free"])
def test_parse_target_rejects_with_example(text: str) -> None:
    with pytest.raises(PruneError, match=r"target_free.*target_free=20%"):
        build_options({"target_free": text})


@pytest.mark.parametrize("value", [-1, "2", True])
def test_keep_rotated_must_be_a_count(value: object) -> None:
    with pytest.raises(PruneError, match="keep_rotated=1"):
        build_options({"keep_rotated": value})


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("syslog.1", "syslog"),
        ("syslog.2.gz", "syslog"),
        ("kern.log.1", "kern.log"),
        ("messages-20240101", "messages"),
        ("messages-20240101.xz", "messages"),
        ("0.log.20240101-120000", "0.log"),
        ("0.log.20240101-120000.gz", "0.log"),
        ("dpkg.log.old", "dpkg.log"),
        ("app-2024-01-01.zst", "app"),
        ("bundle.tar.bz2", "bundle.tar"),
        ("messages-2024010112", "messages"),
        ("app.log.20240101", "app.log"),
        ("access.log.gz", "access.log"),
        ("Xorg.0.log", None),
        ("2024-01-01.log", None),
        ("syslog", None),
        ("kern.log", None),
        ("containerd.log", None),
        ("app.log.1.tmp", None),
    ],
)
def test_rotation_base(name: str, base: str | None) -> None:
    assert rotation_base(name) == base


# ---------------------------------------------------------------------------- selection
def test_deletes_oldest_first_across_logs(tmp_path: Path) -> None:
    root = tmp_path / "log"
    ages = {"b.log.1": 3, "a.log.1": 5, "c.log.2.gz": 1, "a.log.2.gz": 9, "sub/d.log.1": 7}
    for name, age in ages.items():
        write(root / name, 100, age)
    # A budget (even one never reached) makes the run plan the whole tree first.
    result = prune(options(root, keep_rotated=0, max_delete="1T"), check_mode=False)
    expected = sorted(ages, key=lambda n: -ages[n])
    assert removed_paths(result) == [str(root / n) for n in expected]
    assert not any((root / n).exists() for n in ages)


def test_without_target_or_budget_everything_eligible_goes(tmp_path: Path) -> None:
    # No target and no budget: order cannot change the outcome, so none is imposed (the
    # module skips the sorting, as find -delete does); the live log stays.
    root = tmp_path / "log"
    ages = {"b.log.1": 3, "a.log.1": 5, "sub/d.log.1": 7, "sub/e.log.1": 1, "c.log.2.gz": 1}
    for name, age in ages.items():
        write(root / name, 100, age)
    write(root / "a.log", 100)
    removed = removed_paths(prune(options(root, keep_rotated=0), check_mode=False))
    assert sorted(removed) == sorted(str(root / n) for n in ages)
    assert not any((root / n).exists() for n in ages)
    assert (root / "a.log").exists()


def test_keeps_newest_rotated_per_log_and_directory(tmp_path: Path) -> None:
    root = tmp_path / "log"
    for i in range(1, 5):
        write(root / f"syslog.{i}.gz", 10, age_days=i)
        write(root / "other" / f"syslog.{i}.gz", 10, age_days=i)
    write(root / "kern.log.1", 10, age_days=8)
    write(root / "syslog", 10)
    prune(options(root, keep_rotated=2), check_mode=False)
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert left == [
        "kern.log.1",
        "other/syslog.1.gz",
        "other/syslog.2.gz",
        "syslog",
        "syslog.1.gz",
        "syslog.2.gz",
    ]


def test_active_logs_untouched_without_truncate_over(tmp_path: Path) -> None:
    root = tmp_path / "log"
    big = write(root / "syslog", 50_000)
    fs = DirFs(tmp_path, 10 * 1024**2)
    result = prune(options(root, target_free="100%"), check_mode=False, statvfs=fs)
    assert big.stat().st_size == 50_000
    assert not result.changed
    assert not result.target_met


def test_truncates_only_when_deleting_rotated_is_not_enough(tmp_path: Path) -> None:
    root = tmp_path / "log"
    write(root / "syslog.1", 8192, age_days=2)
    active = write(root / "syslog", 40_000)
    fs = DirFs(tmp_path, 1024 * 1024)
    free = fs(str(root)).f_bavail * BLOCK
    enough = f"{free + 8192}"
    result = prune(
        options(root, target_free=enough, keep_rotated=0, truncate_over="1K"),
        check_mode=False,
        statvfs=fs,
    )
    assert removed_paths(result) == [str(root / "syslog.1")]
    assert result.truncated == []
    assert active.stat().st_size == 40_000
    assert result.target_met


def test_truncates_largest_first_in_place_keeping_the_writer(tmp_path: Path) -> None:
    root = tmp_path / "log"
    write(root / "syslog.1", 4096, age_days=2)
    small = write(root / "small.log", 20_000)
    large = write(root / "large.log", 60_000)
    tiny = write(root / "tiny.log", 100)
    inode = large.stat().st_ino
    fs = DirFs(tmp_path, 1024 * 1024)
    wanted = fs(str(root)).f_bavail * BLOCK + allocated(root / "syslog.1") + allocated(large)
    with large.open("ab") as writer:
        result = prune(
            options(root, target_free=str(wanted), keep_rotated=0, truncate_over="10K"),
            check_mode=False,
            statvfs=fs,
        )
        writer.write(b"after\n")
    assert [t["path"] for t in result.truncated] == [str(large)]
    assert result.truncated[0]["size_before"] == 60_000
    assert large.read_bytes() == b"after\n"
    assert large.stat().st_ino == inode
    assert small.stat().st_size == 20_000
    assert tiny.stat().st_size == 100
    assert result.target_met


def test_without_target_prunes_everything_it_may(tmp_path: Path) -> None:
    root = tmp_path / "log"
    write(root / "a.log.1", 10, 3)
    write(root / "a.log.2", 10, 4)
    write(root / "big.log", 5000)
    result = prune(options(root, keep_rotated=1, truncate_over="1K"), check_mode=False)
    assert removed_paths(result) == [str(root / "a.log.2")]
    assert [t["path"] for t in result.truncated] == [str(root / "big.log")]
    assert result.target_met


# ---------------------------------------------------------------------------- symlinks
def test_symlinks_are_neither_logs_nor_followed(tmp_path: Path) -> None:
    root = tmp_path / "log"
    outside = tmp_path / "outside"
    precious = write(outside / "keep.log.1", 100, 30)
    write(outside / "dir" / "keep.log.2.gz", 100, 30)
    root.mkdir()
    (root / "link.log.1").symlink_to(precious)
    (root / "linkdir").symlink_to(outside / "dir", target_is_directory=True)
    inside = write(root / "real.log.1", 100, 1)
    (root / "alias.log.2").symlink_to(inside)
    before = snapshot(outside)
    result = prune(options(root, keep_rotated=0), check_mode=False)
    assert removed_paths(result) == [str(inside)]
    assert snapshot(outside) == before
    assert (root / "link.log.1").is_symlink()
    assert (root / "linkdir").is_symlink()
    assert (root / "alias.log.2").is_symlink()


def test_root_that_is_a_symlink_out_of_allowed_roots_is_refused(tmp_path: Path) -> None:
    allowed = tmp_path / "log"
    allowed.mkdir()
    outside = tmp_path / "etc"
    write(outside / "passwd.1", 10)
    (allowed / "escape").symlink_to(outside, target_is_directory=True)
    opts = build_options({"paths": [str(allowed / "escape")], "allowed_roots": [str(allowed)]})
    with pytest.raises(PruneError, match=r"resolves to .*etc.* option 'paths'.*allowed_roots"):
        prune(opts, check_mode=True)
    assert (outside / "passwd.1").exists()


def test_file_replaced_after_scan_is_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "log"
    old = write(root / "app.log.1", 100, 5)
    opts = options(root, keep_rotated=0)
    scanner = Scanner(opts)
    plans = scanner.scan(resolve_paths(opts))
    # logrotate runs between scan and action: the name now holds a newer file.
    old.rename(root / "app.log.2")
    write(root / "app.log.1", 100, 0)
    result = PruneResult()
    actor = Actor(scanner.dirs, recheck=True)
    try:
        Selector(opts, actor, result, os.statvfs).run(plans[0], plans[0].deletions)
    finally:
        actor.close()
    assert result.removed == []
    assert result.skipped == [
        {"path": str(root / "app.log.1"), "reason": "replaced since the scan"}
    ]
    assert (root / "app.log.1").exists()
    assert (root / "app.log.2").exists()


def _act_on_plan_after(tmp_path: Path, root: Path, swap: Callable[[], None]) -> PruneResult:
    opts = options(root, keep_rotated=0, max_delete="1T")
    scanner = Scanner(opts)
    plans = scanner.scan(resolve_paths(opts))
    swap()
    result = PruneResult()
    actor = Actor(scanner.dirs, recheck=True)
    try:
        Selector(opts, actor, result, os.statvfs).run(plans[0], plans[0].deletions)
    finally:
        actor.close()
    return result


@pytest.mark.parametrize("depth", ["app", "app/sub"])
def test_directory_swapped_for_symlink_after_scan_is_not_followed(
    tmp_path: Path, depth: str
) -> None:
    """Whether the swapped component is the file's own directory or one above it."""
    root = tmp_path / "log"
    write(root / "app" / "sub" / "x.log.1", 10, 5)
    write(root / "app" / "x.log.1", 10, 5)
    outside = tmp_path / "outside"
    precious = [write(outside / "sub" / "x.log.1", 10, 5), write(outside / "x.log.1", 10, 5)]

    def swap() -> None:
        (root / depth).rename(tmp_path / "moved")
        (root / depth).symlink_to(outside if depth == "app" else outside / "sub")

    result = _act_on_plan_after(tmp_path, root, swap)
    assert all(p.exists() for p in precious)
    gone = [] if depth == "app" else [str(root / "app" / "x.log.1")]
    assert removed_paths(result) == gone
    reasons = sorted(s["reason"] for s in result.skipped)
    # O_NOFOLLOW refuses the symlink itself; the inode check catches a real directory
    # reached through a swapped component above it.
    if depth == "app":
        assert reasons == ["Not a directory", "directory replaced since the scan"]
    else:
        assert reasons == ["Not a directory"]


# ---------------------------------------------------------------------------- roots
def test_refuses_paths_outside_allowed_roots(tmp_path: Path) -> None:
    opts = build_options({"paths": ["/etc"], "allowed_roots": [str(tmp_path)]})
    with pytest.raises(PruneError, match=r"'/etc' in option 'paths' is outside the allowed"):
        prune(opts, check_mode=True)


def test_refuses_relative_paths(tmp_path: Path) -> None:
    opts = build_options({"paths": ["var/log"], "allowed_roots": [str(tmp_path)]})
    with pytest.raises(PruneError, match="not absolute"):
        prune(opts, check_mode=True)


def test_prefix_of_allowed_root_is_not_inside_it(tmp_path: Path) -> None:
    write(tmp_path / "logger" / "x.1", 10)
    opts = build_options(
        {"paths": [str(tmp_path / "logger")], "allowed_roots": [str(tmp_path / "log")]}
    )
    with pytest.raises(PruneError, match="outside the allowed roots"):
        prune(opts, check_mode=True)


def test_excluded_journal_is_not_entered(tmp_path: Path) -> None:
    root = tmp_path / "log"
    journal = write(root / "journal" / "abc" / "system@0001.journal.1", 100, 99)
    write(root / "x.log.1", 10, 1)
    result = prune(options(root, keep_rotated=0), check_mode=False)
    assert removed_paths(result) == [str(root / "x.log.1")]
    assert journal.exists()


def test_single_file_root(tmp_path: Path) -> None:
    log = write(tmp_path / "containerd" / "containerd.log", 30_000)
    opts = build_options({"paths": [str(log)], "allowed_roots": [str(log)], "truncate_over": "1K"})
    result = prune(opts, check_mode=False)
    assert [t["path"] for t in result.truncated] == [str(log)]
    assert log.stat().st_size == 0


def test_missing_paths_are_ignored(tmp_path: Path) -> None:
    result = prune(options(tmp_path / "absent"), check_mode=False)
    assert not result.changed


# ---------------------------------------------------------------------------- budgets, targets
def test_max_delete_stops_before_exceeding(tmp_path: Path) -> None:
    root = tmp_path / "log"
    files = [write(root / f"a.log.{i}", 4096, age_days=10 - i) for i in range(1, 6)]
    each = allocated(files[0])
    result = prune(options(root, keep_rotated=0, max_delete=str(each * 2 + 1)), check_mode=False)
    assert removed_paths(result) == [str(f) for f in files[:2]]
    assert result.freed == each * 2
    assert result.budget_exhausted
    assert all(f.exists() for f in files[2:])


def test_target_in_bytes_stops_as_soon_as_met(tmp_path: Path) -> None:
    root = tmp_path / "log"
    files = [write(root / f"a.log.{i}", 4096, age_days=10 - i) for i in range(1, 6)]
    fs = DirFs(tmp_path, 1024 * 1024)
    free = fs(str(root)).f_bavail * BLOCK
    target = free + allocated(files[0]) * 2 + 1  # needs a third file
    result = prune(
        options(root, keep_rotated=0, target_free=str(target)), check_mode=False, statvfs=fs
    )
    assert removed_paths(result) == [str(f) for f in files[:3]]
    assert result.filesystems[0].free_before == free
    assert result.filesystems[0].free_after == free + 3 * allocated(files[3])
    assert result.target_met


def test_target_in_percent(tmp_path: Path) -> None:
    root = tmp_path / "log"
    capacity = 100 * BLOCK * 4
    files = [write(root / f"a.log.{i}", BLOCK * 4, age_days=10 - i) for i in range(1, 9)]
    write(root / "pad", BLOCK * 4 * 88)
    fs = DirFs(tmp_path, capacity)
    assert fs(str(root)).f_bavail == 16  # 4% free; each rotated file holds 1% more
    result = prune(options(root, keep_rotated=0, target_free="10%"), check_mode=False, statvfs=fs)
    assert removed_paths(result) == [str(f) for f in files[:6]]
    assert result.filesystems[0].target == capacity // 10
    assert result.target_met


def test_target_already_met_touches_nothing_and_is_idempotent(tmp_path: Path) -> None:
    root = tmp_path / "log"
    for i in range(1, 4):
        write(root / f"a.log.{i}", 4096, age_days=i)
    write(root / "big.log", 50_000)
    fs = DirFs(tmp_path, 10 * 1024 * 1024)
    opts = options(root, keep_rotated=0, target_free="50%", truncate_over="1K")
    before = snapshot(root)
    result = prune(opts, check_mode=False, statvfs=fs)
    assert not result.changed
    assert result.target_met
    assert snapshot(root) == before


def test_second_run_without_target_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "log"
    for i in range(1, 4):
        write(root / f"a.log.{i}", 10, age_days=i)
    write(root / "big.log", 50_000)
    opts = options(root, keep_rotated=1, truncate_over="1K")
    assert prune(opts, check_mode=False).changed
    before = snapshot(root)
    second = prune(opts, check_mode=False)
    assert not second.changed
    assert snapshot(root) == before


def test_unreachable_target_reports_not_met(tmp_path: Path) -> None:
    root = tmp_path / "log"
    write(root / "a.log.1", 4096, 2)
    write(root / "active.log", 4096)
    fs = DirFs(tmp_path, 1024 * 1024)
    result = prune(options(root, keep_rotated=0, target_free="100%"), check_mode=False, statvfs=fs)
    assert result.changed
    assert not result.target_met
    assert not result.filesystems[0].target_met


# ---------------------------------------------------------------------------- accounting
def test_sparse_files_free_only_their_blocks(tmp_path: Path) -> None:
    root = tmp_path / "log"
    root.mkdir()
    sparse = root / "sparse.log.1"
    with sparse.open("wb") as handle:
        handle.truncate(64 * 1024**2)
        handle.seek(1024**2)
        handle.write(b"y" * 10)
    blocks = allocated(sparse)
    assert 0 < blocks < 1024**2
    result = prune(options(root, keep_rotated=0), check_mode=False)
    assert result.removed[0]["bytes"] == blocks
    assert result.freed == blocks


def test_hard_linked_file_frees_nothing(tmp_path: Path) -> None:
    root = tmp_path / "log"
    log = write(root / "a.log.1", 8192, 3)
    os.link(log, tmp_path / "elsewhere")
    result = prune(options(root, keep_rotated=0), check_mode=False)
    assert result.removed == [
        {"path": str(log), "bytes": 0, "kind": "file", "mtime": result.removed[0]["mtime"]}
    ]
    assert (tmp_path / "elsewhere").stat().st_size == 8192


# ---------------------------------------------------------------------------- check mode
def _mixed_tree(root: Path) -> None:
    for i in range(1, 6):
        write(root / f"syslog.{i}.gz", 4096, age_days=i)
        write(root / "app" / f"app.log-2024010{i}", 8192, age_days=i + 0.5)
    write(root / "syslog", 30_000)
    write(root / "app" / "app.log", 50_000)
    write(root / "pods" / "default_web_dead-uid" / "web" / "0.log", 4096, 20)
    write(root / "pods" / "default_api_live-uid" / "api" / "0.log", 4096, 20)


@pytest.mark.parametrize("target", ["1", "60%", "99%", None])
def test_check_mode_plans_exactly_what_converge_does(tmp_path: Path, target: str | None) -> None:
    root = tmp_path / "log"
    _mixed_tree(root)
    fs = DirFs(tmp_path, 512 * 1024)
    opts = options(
        root, keep_rotated=1, truncate_over="10K", target_free=target, live_pod_uids=["live-uid"]
    )
    before = snapshot(root)
    plan = prune(opts, check_mode=True, statvfs=fs)
    assert snapshot(root) == before
    done = prune(opts, check_mode=False, statvfs=fs)
    assert plan.removed == done.removed
    assert plan.truncated == done.truncated
    assert plan.freed == done.freed
    assert plan.as_dict()["free_after"] == done.as_dict()["free_after"]
    assert plan.target_met == done.target_met


# ---------------------------------------------------------------------------- pods
def test_pod_dirs_untouched_without_live_pod_list(tmp_path: Path) -> None:
    root = tmp_path / "log"
    _mixed_tree(root)
    before = snapshot(root / "pods")
    prune(options(root, keep_rotated=0), check_mode=False)
    assert snapshot(root / "pods") == before


def test_dead_pod_dirs_removed_live_ones_kept(tmp_path: Path) -> None:
    root = tmp_path / "log"
    _mixed_tree(root)
    write(root / "pods" / "default_api_live-uid" / "api" / "0.log.20240101-000000.gz", 10, 30)
    (root / "pods" / "default_web_dead-uid" / "web" / "link").symlink_to(tmp_path / "outside")
    dead = root / "pods" / "default_web_dead-uid"
    expected = allocated(dead / "web" / "0.log")
    result = prune(options(root, keep_rotated=0, live_pod_uids=["live-uid"]), check_mode=False)
    pod_records = [r for r in result.removed if r["kind"] == "pod_dir"]
    assert pod_records == [
        {"path": str(dead), "bytes": expected, "kind": "pod_dir", "mtime": pod_records[0]["mtime"]}
    ]
    assert not dead.exists()
    assert (root / "pods" / "default_api_live-uid" / "api" / "0.log").exists()
    assert (root / "pods" / "default_api_live-uid" / "api" / "0.log.20240101-000000.gz").exists()


def test_empty_live_list_means_every_pod_is_gone(tmp_path: Path) -> None:
    root = tmp_path / "log"
    _mixed_tree(root)
    prune(options(root, keep_rotated=0, live_pod_uids=[]), check_mode=False)
    assert list((root / "pods").iterdir()) == []


# ---------------------------------------------------------------------------- real tmpfs
@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_real_tmpfs_target_measured_equals_projected(tmpfs: Path) -> None:
    root = tmpfs / "log"
    for i in range(1, 7):
        write(root / f"app.log.{i}", 1024**2, age_days=i)  # 6 MiB of 8
    write(root / "app.log", 512 * 1024)
    opts = options(root, keep_rotated=1, target_free="50%", truncate_over="100K")
    plan = prune(opts, check_mode=True)
    done = prune(opts, check_mode=False)
    fs = done.filesystems[0]
    assert fs.free_after == plan.filesystems[0].free_after
    assert fs.free_after >= fs.target >= fs.free_before
    assert removed_paths(done) == [str(root / f"app.log.{i}") for i in (6, 5, 4)]
    assert os.statvfs(root).f_bavail * os.statvfs(root).f_frsize == fs.free_after


def test_one_file_system_skips_mounts_below_root(tmp_path: Path, tmpfs: Path) -> None:
    other = write(tmpfs / "other.log.1", 100, 9)
    root = tmp_path
    opts = build_options(
        {"paths": [str(root)], "allowed_roots": [str(root)], "keep_rotated": 0, "exclude": []}
    )
    assert prune(opts, check_mode=False).removed == []
    assert other.exists()
    crossing = build_options(
        {"paths": [str(root)], "allowed_roots": [str(root)], "keep_rotated": 0,
         "exclude": [], "one_file_system": False}
    )  # fmt: skip
    result = prune(crossing, check_mode=False)
    assert removed_paths(result) == [str(other)]
    assert {fs.path for fs in result.filesystems} == {str(root), str(tmpfs)}


def test_garbage_collector_is_back_on_after_a_run_even_a_failed_one(tmp_path: Path) -> None:
    import gc  # noqa: PLC0415 -- only this test looks at the collector

    def broken_statvfs(path: str) -> os.statvfs_result:
        raise OSError(5, "Input/output error", path)

    prune(options(tmp_path), check_mode=True)
    assert gc.isenabled()
    with pytest.raises(OSError, match="Input/output error"):
        prune(options(tmp_path), check_mode=False, statvfs=broken_statvfs)
    assert gc.isenabled()


def test_works_on_a_filesystem_that_is_100_percent_full(tmpfs: Path) -> None:
    root = tmpfs / "log"
    for i in range(1, 4):
        write(root / f"syslog.{i}.gz", 1024**2, age_days=i)
    active = root / "syslog"
    with active.open("ab") as writer, pytest.raises(OSError, match="No space left"):
        while True:  # the log storm: write until the disk is full
            writer.write(b"e" * 65536)
            writer.flush()
    assert os.statvfs(root).f_bavail == 0
    opts = options(root, keep_rotated=1, target_free="60%", truncate_over="1M")
    result = prune(opts, check_mode=False)
    assert removed_paths(result) == [str(root / "syslog.3.gz"), str(root / "syslog.2.gz")]
    assert [t["path"] for t in result.truncated] == [str(active)]
    assert result.filesystems[0].free_before == 0
    assert result.target_met
    assert (root / "syslog.1.gz").exists()
