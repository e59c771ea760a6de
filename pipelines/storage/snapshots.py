"""Snapshots of the lake: which file is each partition, as of one commit.

A partition's data is an immutable Parquet file (``<layer>/<table>/dt=D/part-<id>.parquet``);
which file a reader sees is decided by the lake's current snapshot, a JSON manifest
``_snapshots/<id>.json`` mapping ``layer.table`` -> day -> file. ``_snapshots/CURRENT`` names the
current snapshot. A commit writes the next manifest, then replaces ``CURRENT`` with one
``os.replace``: that is the one atomic step that publishes every partition of the commit together.
A process killed at any point before it leaves the previous snapshot current (its new files are
unreferenced and vacuumed later); after it, the new one. Older manifests stay readable (time
travel) until :func:`vacuum` drops them.

Commits are serialised by an exclusive ``flock`` on ``_snapshots/.lock`` (writers on one host, or
on a shared file system that supports POSIX locks); readers never lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FOLDER = "_snapshots"
CURRENT = "CURRENT"
LEGACY_FILE = "data.parquet"  # lakes written before snapshots: one file per partition
# Files younger than this are never vacuumed: they may belong to a commit still in flight.
GRACE_SECONDS = 3600


@dataclass(frozen=True)
class Snapshot:
    """The lake as of one commit: ``tables[layer.table][YYYY-MM-DD]`` is a file under the root."""

    id: int
    tables: Mapping[str, Mapping[str, str]]
    committed_at: str = ""
    run_id: str = ""
    parent: int | None = None

    def files(self, qualified: str) -> Mapping[str, str]:
        return self.tables.get(qualified, {})


@dataclass
class Changes:
    """What one commit does: partitions to point at new files, partitions to withdraw, and the
    partitions it read to compute them (which must not have changed meanwhile)."""

    put: dict[str, dict[str, str]] = field(default_factory=dict)
    delete: dict[str, set[str]] = field(default_factory=dict)
    expect: dict[str, dict[str, str | None]] = field(default_factory=dict)
    # Whole tables read for update: every partition as it was (one added or withdrawn conflicts).
    expect_tables: dict[str, dict[str, str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.put or self.delete)


class CommitConflict(RuntimeError):
    """Another commit changed a partition this one read, or a file it publishes is gone: redo
    the work on the current snapshot (a retry does)."""


_cache: dict[tuple[str, int], Snapshot] = {}


def folder(root: Path) -> Path:
    return Path(root) / FOLDER


def current_id(root: Path) -> int | None:
    """The id of the current snapshot, or None for a lake that has never committed."""
    try:
        return int((folder(root) / CURRENT).read_text(encoding="ascii").strip())
    except FileNotFoundError:
        return None


def load(root: Path, snapshot_id: int | None = None) -> Snapshot:
    """The current snapshot (or ``snapshot_id``); a lake without one is read from its folders."""
    chosen = current_id(root) if snapshot_id is None else snapshot_id
    if chosen is None:
        return _legacy(root)
    key = (str(Path(root).resolve()), chosen)
    if key not in _cache:
        path = folder(root) / f"{chosen:010d}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            kept = ", ".join(map(str, list_ids(root))) or "none"
            raise LookupError(
                f"lake snapshot {chosen} is not kept at {path} (kept: {kept})"
            ) from None
        _cache.clear()  # one snapshot per lake is what readers need; keep memory flat
        _cache[key] = Snapshot(
            data["id"], data["tables"], data["committed_at"], data["run_id"], data["parent"]
        )
    return _cache[key]


def list_ids(root: Path) -> list[int]:
    """Ids of the snapshots still kept, oldest first."""
    return sorted(int(p.stem) for p in folder(root).glob("[0-9]*.json"))


def _legacy(root: Path) -> Snapshot:
    """A lake from before snapshots (or an empty one): every ``dt=*/data.parquet`` it holds."""
    tables: dict[str, dict[str, str]] = {}
    for path in sorted(Path(root).glob(f"*/*/dt=*/{LEGACY_FILE}")):
        rel = path.relative_to(root)
        layer, table, part = rel.parts[0], rel.parts[1], rel.parts[2]
        tables.setdefault(f"{layer}.{table}", {})[part.removeprefix("dt=")] = rel.as_posix()
    return Snapshot(0, tables)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    folder(root).mkdir(parents=True, exist_ok=True)
    with open(folder(root) / ".lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)


def commit(root: Path, changes: Changes, run_id: str) -> Snapshot:
    """Apply ``changes`` to the current snapshot and make the result current, atomically."""
    with _locked(root):
        base = load(root)
        _check(root, base, changes)
        tables = {name: dict(days) for name, days in base.tables.items()}
        for name, withdrawn in changes.delete.items():
            for day in withdrawn:
                tables.get(name, {}).pop(day, None)
        for name, files in changes.put.items():
            tables.setdefault(name, {}).update(files)
        tables = {name: dict(sorted(days.items())) for name, days in sorted(tables.items()) if days}
        new_id = base.id + 1
        record: dict[str, Any] = {
            "id": new_id,
            "parent": base.id if current_id(root) is not None else None,
            "committed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "run_id": run_id,
            "tables": tables,
        }
        _write_atomically(folder(root) / f"{new_id:010d}.json", json.dumps(record))
        # The commit point: until this replace, readers see the previous snapshot.
        _write_atomically(folder(root) / CURRENT, f"{new_id}\n")
    return load(root, new_id)


def _check(root: Path, base: Snapshot, changes: Changes) -> None:
    for name, files in changes.expect_tables.items():
        if dict(base.files(name)) != files:
            raise CommitConflict(f"{name} changed since it was read (another run committed it)")
    for name, days in changes.expect.items():
        for day, file in days.items():
            if base.files(name).get(day) != file:
                raise CommitConflict(
                    f"{name} dt={day} changed since it was read (another run committed it)"
                )
    for name, files in changes.put.items():
        for day, rel in files.items():
            if not (Path(root) / rel).is_file():
                raise CommitConflict(f"{name} dt={day}: {rel} vanished before the commit")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class VacuumSummary:
    snapshots_dropped: int
    files_deleted: int


def vacuum(root: Path, keep: int, grace_seconds: float = GRACE_SECONDS) -> VacuumSummary:
    """Drop all but the newest ``keep`` snapshots, then delete data files none of them uses.

    Files younger than ``grace_seconds`` are kept whatever references them: a writer may have
    written them for a commit that has not happened yet.
    """
    if keep < 1:
        raise ValueError(f"keep at least the current snapshot; got keep={keep}")
    with _locked(root):
        current = current_id(root)
        ids = list_ids(root)
        # Manifests past CURRENT are commits that died before publishing: never kept.
        kept = [] if current is None else [i for i in ids if i <= current][-keep:]
        dropped = [i for i in ids if i not in kept]
        for snapshot_id in dropped:
            (folder(root) / f"{snapshot_id:010d}.json").unlink()
        for stale in folder(root).glob(".*.tmp"):
            if stale.stat().st_mtime < time.time() - grace_seconds:
                stale.unlink()
        if current is None:  # a lake from before snapshots: its files are its data
            return VacuumSummary(len(dropped), 0)
        used = {
            f
            for snapshot_id in kept
            for days in load(root, snapshot_id).tables.values()
            for f in days.values()
        }
        cutoff = time.time() - grace_seconds
        deleted = 0
        for path in Path(root).glob("*/*/dt=*/*"):
            rel = path.relative_to(root).as_posix()
            if rel in used or not path.is_file() or path.stat().st_mtime >= cutoff:
                continue
            path.unlink()
            deleted += 1
    return VacuumSummary(len(dropped), deleted)
