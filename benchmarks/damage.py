"""A large day with a few hundred damaged flights, to check that validation at scale blocks it
with the same evidence as a small day, and quarantines the offending rows only.

:func:`damage_landing` writes a copy of a landing zone (the other tables linked, not copied)
whose flights of ``day`` have ``rows`` clock times no clock shows (``dep_time`` 2599: the
``dep_time.hhmm`` check) and ``rows`` flights delivered twice (the ``key.unique`` check: both
copies are offending). The rest of the file is copied line by line, unparsed, so a 10M-row day is
damaged in seconds and in constant memory. Deterministic: the damaged lines are evenly spaced.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

BAD_CLOCK = "2599"


@dataclass(frozen=True)
class Damage:
    landing: Path
    rows_in_file: int
    bad_clock_rows: int
    duplicated_rows: int

    @property
    def offending_rows(self) -> int:
        """What validation must quarantine: each bad clock, and both copies of each duplicate."""
        return self.bad_clock_rows + 2 * self.duplicated_rows


def damage_landing(landing: Path, out: Path, day: date, rows: int) -> Damage:
    """A copy of ``landing`` at ``out`` with ``rows`` bad clocks and ``rows`` duplicates in the
    flights of ``day`` (see the module docstring)."""
    if rows < 1:
        raise ValueError(f"damage at least one row of each kind; got {rows}")
    source = landing / "flights" / f"{day.isoformat()}.csv"
    for table in sorted(p for p in landing.iterdir() if p.is_dir()):
        (out / table.name).mkdir(parents=True, exist_ok=True)
        for linked in table.iterdir():
            if linked == source:
                continue
            target = out / table.name / linked.name
            target.unlink(missing_ok=True)
            target.symlink_to(linked.resolve())
    with source.open(encoding="utf-8", newline="") as f:
        total = sum(1 for _ in f) - 1
    if total < 2 * rows:
        raise ValueError(f"{source} has {total} flights: too few to damage {rows} twice")
    step = total // rows
    written = out / "flights" / source.name
    written.unlink(missing_ok=True)  # never write through a link to the clean file
    duplicates: list[str] = []
    with (
        source.open(encoding="utf-8", newline="") as f,
        written.open("w", encoding="utf-8", newline="") as w,
    ):
        header = f.readline()
        dep_time = next(csv.reader([header])).index("dep_time")
        w.write(header)
        for i, line in enumerate(f):
            line = line if line.endswith("\n") else line + "\n"
            if i % step == 0 and i // step < rows:
                line = _with_field(line, dep_time, BAD_CLOCK)
            elif i % step == step // 2 and i // step < rows:
                duplicates.append(line)
            w.write(line)
        w.writelines(duplicates)
    return Damage(out, total + len(duplicates), rows, len(duplicates))


def _with_field(line: str, index: int, value: str) -> str:
    """``line`` with its ``index``-th field replaced, every other byte as it was (the flights
    files hold no quoted commas: codes, tail numbers and times)."""
    fields = line.rstrip("\n").split(",")
    if len(fields) != len(next(csv.reader([line]))):
        raise ValueError(f"a quoted comma in {line!r}: cannot damage it in place")
    fields[index] = value
    return ",".join(fields) + "\n"
