"""A coarse flights_daily run fans out by chunk; each mapped task stays inside the run."""

from __future__ import annotations

import pytest

from pipelines.errors import InvalidRunParams
from pipelines.tasks import flights_daily as tasks

YEAR = {"run_id": "r", "params": {"start": "2013-01-01", "end": "2014-01-01"}}


def test_a_year_is_planned_as_twelve_chunks_and_a_night_as_one() -> None:
    chunks = tasks.plan_chunks(YEAR)
    assert len(chunks) == 12
    assert chunks[0] == {"start": "2013-01-01", "end": "2013-02-01"}
    assert chunks[-1]["end"] == "2014-01-01"
    night = {"run_id": "r", "params": {"start": "2013-03-04", "end": "2013-03-05"}}
    assert tasks.plan_chunks(night) == [{"start": "2013-03-04", "end": "2013-03-05"}]
    assert tasks.chunk_label(chunks[0]) == "2013-01-01..2013-01-31"
    assert tasks.chunk_label({"start": "2013-03-04", "end": "2013-03-05"}) == "2013-03-04"


def test_a_chunk_outside_the_run_is_refused() -> None:
    with pytest.raises(InvalidRunParams, match="not inside"):
        tasks._chunk_run(YEAR, {"start": "2012-12-01", "end": "2013-01-05"})
    with pytest.raises(InvalidRunParams, match="must be a date"):
        tasks._chunk_run(YEAR, {"start": "2013-01-01; drop table", "end": "2013-01-05"})
