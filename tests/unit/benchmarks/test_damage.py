"""The bench's damaged day: the same validation blocks a scaled day with a few damaged rows,
quarantines those rows alone and leaves the published day as it was."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from benchmarks import stages
from benchmarks.damage import BAD_CLOCK, damage_landing
from tests.fixtures.scaled_day import DAY, validated

ROWS = 25


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("damaged")
    validated(root)  # its own lake: the stage writes incoming and quarantine
    return root


def test_the_damaged_file_differs_in_the_damaged_rows_only(root: Path, tmp_path: Path) -> None:
    damage = damage_landing(root / "landing", tmp_path / "landing", DAY, ROWS)
    original = (root / "landing" / "flights" / f"{DAY}.csv").read_text().splitlines()
    damaged = (tmp_path / "landing" / "flights" / f"{DAY}.csv").read_text().splitlines()

    assert damage.rows_in_file == len(original) - 1 + ROWS
    assert damaged[0] == original[0]
    changed = [(a, b) for a, b in zip(original, damaged, strict=False) if a != b]
    assert len(changed) == ROWS
    column = next(csv.reader([original[0]])).index("dep_time")
    for before, after in changed:
        before_fields, after_fields = next(csv.reader([before])), next(csv.reader([after]))
        assert after_fields[column] == BAD_CLOCK
        assert [f for i, f in enumerate(after_fields) if i != column] == [
            f for i, f in enumerate(before_fields) if i != column
        ]
    assert set(damaged[len(original) :]) <= set(original[1:])  # the copies: delivered twice
    assert (tmp_path / "landing" / "weather").is_dir()


def test_damaging_again_never_writes_through_to_the_clean_file(root: Path, tmp_path: Path) -> None:
    clean = root / "landing" / "flights" / f"{DAY}.csv"
    before = clean.read_bytes()
    out = tmp_path / "landing"
    (out / "flights").mkdir(parents=True)
    (out / "flights" / clean.name).symlink_to(clean)  # left by a run for another day, say
    damage_landing(root / "landing", out, DAY, ROWS)
    assert clean.read_bytes() == before
    with pytest.raises(ValueError, match="at least one row"):
        damage_landing(root / "landing", out, DAY, 0)


def test_the_damaged_day_is_blocked_with_the_offending_rows_quarantined(root: Path) -> None:
    args = argparse.Namespace(
        root=root, day=DAY, run_id="damaged-test", damaged_rows=ROWS, history_days=7
    )
    stages.prepare_damaged(args)
    rows, detail = stages.damaged(args)

    assert rows == args.damage.rows_in_file
    assert detail["failed_checks"]["dep_time.hhmm"] == ROWS
    assert any(name.startswith("key.unique") for name in detail["failed_checks"])
    assert detail["quarantined_rows"] == 3 * ROWS  # each bad clock, both copies of each duplicate
    assert detail["published_unchanged"] is True
    assert "dep_time.hhmm" in detail["blocked"]
