"""Data intervals: every stage takes a half-open interval [start, end) of days."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class Interval:
    """Half-open interval of calendar days, [start, end)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(
                f"empty data interval [{self.start}, {self.end}): end must be after start "
                "(a bare cron schedule gives zero-length intervals; use CronTriggerTimetable with "
                "interval=timedelta(days=1), or CronDataIntervalTimetable)"
            )

    @classmethod
    def of(cls, start: date | datetime | str, end: date | datetime | str) -> Interval:
        return cls(as_date(start), as_date(end))

    @classmethod
    def day(cls, day: date | str) -> Interval:
        d = as_date(day)
        return cls(d, d + timedelta(days=1))

    def days(self) -> Iterator[date]:
        d = self.start
        while d < self.end:
            yield d
            d += timedelta(days=1)

    def chunks(self, size_days: int) -> list[Interval]:
        """Consecutive intervals of at most ``size_days`` days that cover this one, in order: the
        units a long backfill fans out into (one mapped task per chunk)."""
        if size_days < 1:
            raise ValueError(f"a chunk needs at least one day; got {size_days}")
        firsts = [self.start + timedelta(days=n) for n in range(0, len(self), size_days)]
        return [Interval(f, min(f + timedelta(days=size_days), self.end)) for f in firsts]

    def __len__(self) -> int:
        return (self.end - self.start).days

    def __str__(self) -> str:
        return f"[{self.start}, {self.end})"


def as_date(value: date | datetime | str) -> date:
    """A date from a date, a datetime (its calendar day) or an ISO string."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(value).date()
