"""How copy k of a real flight is keyed when a day holds N times the real flights.

The rules (and why) are in the docstring of ``benchmarks/scale.py``. Everything here is a pure
function of the 2013 sample: copy k of a flight gets the same carrier code, flight number and tail
at every scale, on every day, so a day generated at 100x is the first 100 copies of the day at
1,000x and a generated history agrees with the day after it.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.ingest.sources.nycflights import full_table

ALPHABET = string.ascii_uppercase + string.digits  # the suite's carrier pattern: [A-Z0-9]{2}
MAX_SCALE = 10_000
MAX_FLIGHT_NUMBER = 9_999  # flights_suite: between("flight", 1, 9_999)
PLANES_MAX_ROWS = 1_000_000  # planes_suite: row_count_between(1, 1_000_000)
# Rows per generated batch: the lake's row group, so memory stays at one batch per table.
CHUNK_ROWS = 256 * 1024


@cache
def flight_slots() -> dict[tuple[str, int, str], int]:
    """A slot for every (carrier, flight, origin) of the year, numbered per (carrier, origin).

    Two flights of a carrier and origin share a slot only if they never fly on the same day
    (first fit, in flight-number order), so slots are few (about a tenth of the flight numbers)
    and a slot names one flight on any one day.
    """
    frame = full_table("flights").select(["carrier", "flight", "origin", "year", "month", "day"])
    days: dict[tuple[str, int, str], int] = {}
    for c, f, o, y, m, d in zip(*frame.to_pydict().values(), strict=True):
        days[(c, f, o)] = days.get((c, f, o), 0) | 1 << date(y, m, d).timetuple().tm_yday
    slots: dict[tuple[str, int, str], int] = {}
    used: dict[tuple[str, str], list[int]] = {}
    for key in sorted(days):
        taken = used.setdefault((key[0], key[2]), [])
        slot = next((i for i, mask in enumerate(taken) if not mask & days[key]), len(taken))
        if slot == len(taken):
            taken.append(0)
        taken[slot] |= days[key]
        slots[key] = slot
    return slots


@dataclass(frozen=True)
class CopyKeys:
    """Carrier codes, flight numbers and tails of the copies of each real flight at ``scale``."""

    scale: int
    real_carriers: tuple[str, ...]
    codes: tuple[str, ...]  # the synthetic carrier codes, in allocation order
    width: dict[
        str, int
    ]  # flight numbers one copy of a carrier needs (its most slots at an origin)
    first_code: dict[str, int]  # index in ``codes`` of the carrier's first code
    plane_copies: int  # copies of the planes table (copy k flies the tails of copy k % this)

    @classmethod
    def for_scale(cls, scale: int) -> CopyKeys:
        if not 1 <= scale <= MAX_SCALE:
            raise ValueError(f"scale must be 1..{MAX_SCALE}, got {scale}")
        real = tuple(sorted(full_table("airlines")["carrier"].to_pylist()))
        codes = tuple(a + b for a in ALPHABET for b in ALPHABET if a + b not in real)
        width: dict[str, int] = {}
        for (carrier, _, _), slot in flight_slots().items():
            width[carrier] = max(width.get(carrier, 0), slot + 1)
        # Codes are allocated for MAX_SCALE whatever the scale: a copy's code never depends on N.
        first_code, needed = {}, 0
        for carrier in sorted(width):
            first_code[carrier] = needed
            needed += math.ceil((MAX_SCALE - 1) / (MAX_FLIGHT_NUMBER // width[carrier]))
        if needed > len(codes):
            raise ValueError(f"{MAX_SCALE}x needs {needed} carrier codes; {len(codes)} exist")
        plane_copies = min(scale, PLANES_MAX_ROWS // full_table("planes").num_rows)
        return cls(scale, real, codes, width, first_code, plane_copies)

    def copies_per_code(self, carrier: str) -> int:
        return MAX_FLIGHT_NUMBER // self.width[carrier]

    def code(self, carrier: str, copy: int) -> str:
        """The carrier code of copy ``copy`` (0: the real one) of ``carrier``'s flights."""
        if copy == 0:
            return carrier
        return self.codes[self.first_code[carrier] + (copy - 1) // self.copies_per_code(carrier)]

    def synthetic_carriers(self) -> dict[str, str]:
        """Every synthetic code the copies at this scale use -> the real carrier it copies."""
        found = {}
        for carrier in sorted(self.width):
            for group in range(math.ceil((self.scale - 1) / self.copies_per_code(carrier))):
                found[self.codes[self.first_code[carrier] + group]] = carrier
        return found

    def tail_suffix(self, copy: int) -> str:
        tails = copy % self.plane_copies
        return f"-{tails}" if tails else ""

    def copy_batches(self, day: pa.Table) -> Iterator[pa.RecordBatch]:
        """Copies 0..scale-1 of one day's flights (canonical columns), re-keyed, in batches."""
        rows = day.num_rows
        carriers = day["carrier"].to_pylist()
        keys = zip(carriers, day["flight"].to_pylist(), day["origin"].to_pylist(), strict=True)
        slots = flight_slots()
        slot = np.array([slots[k] for k in keys], dtype=np.int64)
        real_index = np.array([self.real_carriers.index(c) for c in carriers], dtype=np.int64)
        first = np.array([self.first_code[c] for c in carriers], dtype=np.int64)
        per_code = np.array([self.copies_per_code(c) for c in carriers], dtype=np.int64)
        width = np.array([self.width[c] for c in carriers], dtype=np.int64)
        flight = day["flight"].to_numpy().astype(np.int64)
        all_codes = pa.array([*self.real_carriers, *self.codes])
        suffixes = pa.array([self.tail_suffix(t) for t in range(self.plane_copies)])
        step = max(1, CHUNK_ROWS // max(rows, 1))
        for start in range(0, self.scale if rows else 0, step):
            copy = np.repeat(np.arange(start, min(start + step, self.scale)), rows)
            row = np.tile(np.arange(rows), len(copy) // rows)
            j, real = copy - 1, copy == 0
            code = np.where(
                real, real_index[row], len(self.real_carriers) + first[row] + j // per_code[row]
            )
            number = np.where(real, flight[row], j % per_code[row] * width[row] + slot[row] + 1)
            tails = pc.binary_join_element_wise(
                day["tailnum"].take(row), suffixes.take(copy % self.plane_copies), ""
            )
            batch = day.take(row)
            batch = batch.set_column(
                batch.schema.get_field_index("carrier"), "carrier", all_codes.take(code)
            )
            batch = batch.set_column(
                batch.schema.get_field_index("flight"), "flight", pa.array(number.astype(np.int32))
            )
            batch = batch.set_column(batch.schema.get_field_index("tailnum"), "tailnum", tails)
            yield from batch.combine_chunks().to_batches()

    def planes(self) -> pa.Table:
        """The planes snapshot: every real plane once per tail copy, suffixed as its flights are."""
        planes = full_table("planes")
        copies = [planes]
        for t in range(1, self.plane_copies):
            tails = pc.binary_join_element_wise(planes["tailnum"], self.tail_suffix(t), "")
            copies.append(planes.set_column(0, "tailnum", tails))
        return pa.concat_tables(copies)

    def airlines(self) -> pa.Table:
        """The airlines snapshot: the real carriers, then each synthetic code in use."""
        names = dict(zip(*full_table("airlines").to_pydict().values(), strict=True))
        synthetic = self.synthetic_carriers()
        codes = [*self.real_carriers, *synthetic]
        labels = [names[c] for c in self.real_carriers]
        labels += [f"{names[real]} (scaled copies, {code})" for code, real in synthetic.items()]
        return pa.table({"carrier": codes, "name": labels}, schema=full_table("airlines").schema)
