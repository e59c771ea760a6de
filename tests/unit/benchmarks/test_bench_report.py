"""The bench's data-path lines: rows a second, and net of the 1x run's fixed cost."""

from __future__ import annotations

from benchmarks import bench_report


def _row(scale: int, flights: int, stage: str, seconds: float, status: str = "ok") -> dict:
    return {
        "scale": scale,
        "flights": flights,
        "stage": stage,
        "seconds": seconds,
        "status": status,
    }


def test_the_data_path_adds_its_stages_and_nets_out_the_1x_run() -> None:
    rows = [
        *(_row(1, 1_000, s, 0.5) for s in bench_report.DATA_PATH),  # 2 s of fixed cost
        *(_row(100, 100_000, s, 1.0) for s in bench_report.DATA_PATH),  # 4 s
        _row(100, 100_000, "publish", 50.0),  # not on the data path
        *(_row(1_000, 1_000_000, s, 1.0) for s in ("extract", "validate", "features")),
        _row(1_000, 1_000_000, "score", 3.0, status="failed"),
    ]
    table = "\n".join(bench_report.data_path_lines(rows))
    assert "| 100x | 100,000 | 4.0 | 25,000 | 49,500 |" in table  # 99,000 rows in 2 s
    assert "| 1x | 1,000 | 2.0 | 500 | - |" in table
    assert "1,000x" not in table  # a failed stage: no figure for the scale
