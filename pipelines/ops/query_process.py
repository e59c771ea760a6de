"""Run analyst SQL in a child process whose environment holds no secret.

DuckDB's sandbox already refuses ``/proc/self/environ``; this is the second wall. The operator's
shell often holds DSNs, passwords and keys (``NIGHTSHIFT_PUBLISH_DSN``, ``AIRFLOW__*FERNET*``,
``*_PASSWORD``): the child starts with only a short list of harmless variables (no NIGHTSHIFT_
setting either: it is given its paths explicitly), so even a hole in the sandbox would find
nothing to print.

Protocol: the request goes in as JSON on stdin; the result comes back as an Arrow IPC stream on
stdout (exit 0), or a refusal or failure as one JSON line on stderr (exit 1).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa

from pipelines.ops.sandbox import (
    NotAQuery,
    QueryError,
    QueryFailed,
    QueryResult,
    QueryTimeout,
    run_query,
)
from pipelines.settings import QueryLimits

# What a Python process running DuckDB needs: where programs and libraries are, locale, time zone.
SAFE_VARIABLES = frozenset(
    {"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "LD_LIBRARY_PATH", "SYSTEMROOT"}
)
# Even an allowed name is dropped if it looks like it carries a credential.
SECRET_NAME = re.compile(
    r"DSN|PASS|SECRET|TOKEN|KEY|CRED|FERNET|AUTH|CONN|COOKIE|PRIVATE|SESSION", re.IGNORECASE
)
_ERRORS: dict[str, type[QueryError]] = {
    "refused": NotAQuery,
    "timeout": QueryTimeout,
    "failed": QueryFailed,
}
_TRUNCATED = b"nightshift.truncated"
# The child's own timer stops the query; this is the margin for its start-up and hand-over.
_GRACE_SECONDS = 30.0


def scrubbed_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``environ`` the child may see: the safe list and ``LC_*``, no secrets."""
    return {
        name: value
        for name, value in environ.items()
        if (name in SAFE_VARIABLES or name.startswith("LC_")) and not SECRET_NAME.search(name)
    }


def run_in_child(
    warehouse_path: Path, readable: Sequence[str], sql: str, limits: QueryLimits
) -> QueryResult:
    """``sandbox.run_query`` in a fresh interpreter with a scrubbed environment."""
    request = {
        "warehouse": str(warehouse_path),
        "readable": list(readable),
        "sql": sql,
        "timeout_seconds": limits.timeout_seconds,
        "max_rows": limits.max_rows,
    }
    try:
        # -I: isolated mode, so no PYTHON* variable or working directory shapes the child either.
        proc = subprocess.run(
            [sys.executable, "-I", "-m", "pipelines.ops.query_process"],
            input=json.dumps(request).encode(),
            capture_output=True,
            env=scrubbed_environment(os.environ),
            timeout=limits.timeout_seconds + _GRACE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # the child did not stop itself: it was killed
        raise QueryTimeout(f"the query process was killed after {exc.timeout:g} s") from exc
    if proc.returncode != 0:
        raise _child_error(proc.returncode, proc.stderr.decode(errors="replace"))
    table = pa.ipc.open_stream(proc.stdout).read_all()
    truncated = (table.schema.metadata or {}).get(_TRUNCATED) == b"true"
    return QueryResult(table.replace_schema_metadata(None), truncated)


def _child_error(code: int, stderr: str) -> QueryError:
    lines = stderr.strip().splitlines()
    last = lines[-1] if lines else ""
    try:
        report = json.loads(last)
        return _ERRORS[report["kind"]](report["message"])
    except (ValueError, KeyError, TypeError):
        return QueryFailed(f"the query process exited with code {code}: {last or 'no output'}")


def _serve() -> int:
    request = json.loads(sys.stdin.read())
    limits = QueryLimits(float(request["timeout_seconds"]), int(request["max_rows"]))
    try:
        result = run_query(Path(request["warehouse"]), request["readable"], request["sql"], limits)
    except QueryError as exc:
        kind = next(k for k, cls in _ERRORS.items() if isinstance(exc, cls))
        print(json.dumps({"kind": kind, "message": str(exc)}), file=sys.stderr)
        return 1
    table = result.table.replace_schema_metadata(
        {_TRUNCATED: b"true" if result.truncated else b"false"}
    )
    with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as writer:
        writer.write_table(table)
    return 0


if __name__ == "__main__":
    sys.exit(_serve())
