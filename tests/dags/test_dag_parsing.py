"""Parse-time hygiene: a DAG file is cheap and inert to parse, and holds no logic.

The checks run in a fresh interpreter, so modules this test process has already imported cannot
hide what a DAG file pulls in."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.fixtures.dags import (
    ALLOWED_MODULE_LEVEL_PIPELINES_IMPORTS,
    DAGBAG_IMPORT_TIMEOUT_SECONDS,
    DAGS_DIR,
    HEAVY_MODULES,
    REPO_ROOT,
    dag_files,
)

# --- Parse-time hygiene --------------------------------------------------------------------------

_PARSE_PROBE = textwrap.dedent(
    """
    import importlib.util
    import json
    import socket
    import sys
    import time

    dags_dir, dag_file, heavy = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args)[:200])
        raise OSError(f"network connection at DAG parse time: {args!r}")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    sys.path.insert(0, dags_dir)

    spec = importlib.util.spec_from_file_location("dag_under_test", dag_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    started = time.perf_counter()
    spec.loader.exec_module(module)
    seconds = time.perf_counter() - started

    offenders = sorted({m.split(".")[0] for m in sys.modules} & set(heavy))
    print(json.dumps({"seconds": seconds, "offenders": offenders, "network": attempts}))
    """
)


@pytest.fixture(scope="module", params=[p.relative_to(DAGS_DIR).as_posix() for p in dag_files()])
def parse_probe(request: pytest.FixtureRequest) -> dict:
    """Import one DAG file in a fresh interpreter (same environment) and report what it did."""
    dag_file = DAGS_DIR / request.param
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH", "")])]
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _PARSE_PROBE,
            str(DAGS_DIR),
            str(dag_file),
            json.dumps(HEAVY_MODULES),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, (
        f"importing {request.param} failed in a fresh interpreter:\n{proc.stderr[-4000:]}"
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    report["file"] = request.param
    return report


def test_parse_imports_no_heavy_modules(parse_probe: dict) -> None:
    print(f"{parse_probe['file']}: heavy modules after import: {parse_probe['offenders']}")
    assert parse_probe["offenders"] == [], (
        f"{parse_probe['file']} imports heavy modules at parse time: {parse_probe['offenders']}"
    )


def test_parse_opens_no_network_connection(parse_probe: dict) -> None:
    assert parse_probe["network"] == [], parse_probe["network"]


def test_parse_is_within_the_dagbag_import_timeout(parse_probe: dict) -> None:
    # A hard limit the DAG processor enforces (the file counts as an import error past it),
    # measured in a cold interpreter, which includes importing airflow.sdk itself.
    seconds = parse_probe["seconds"]
    print(f"{parse_probe['file']}: import took {seconds:.2f} s in a fresh interpreter")
    assert seconds < DAGBAG_IMPORT_TIMEOUT_SECONDS, f"{parse_probe['file']} took {seconds:.1f} s"


# --- No logic at parse time --------------------------------------------------------------------


def _module_level_pipelines_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``pipelines`` import not inside a function body."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, True)
                continue
            if not in_function:
                if isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                    if child.module == "pipelines":  # `from pipelines import tables`
                        found.extend((child.lineno, f"pipelines.{a.name}") for a in child.names)
                    elif child.module.split(".")[0] == "pipelines":
                        found.append((child.lineno, child.module))
                elif isinstance(child, ast.Import):
                    found.extend(
                        (child.lineno, alias.name)
                        for alias in child.names
                        if alias.name.split(".")[0] == "pipelines"
                    )
            visit(child, in_function)

    visit(tree, False)
    return found


def test_pipelines_is_used_only_inside_task_bodies() -> None:
    files = sorted(p for p in DAGS_DIR.rglob("*.py") if "__pycache__" not in p.parts)
    assert files
    violations = []
    for path in files:
        rel = path.relative_to(DAGS_DIR).as_posix()
        allowed = ALLOWED_MODULE_LEVEL_PIPELINES_IMPORTS.get(rel, set())
        tree = ast.parse(path.read_text(), filename=str(path))
        violations.extend(
            f"dags/{rel}:{line}: module-level import of {module}"
            for line, module in _module_level_pipelines_imports(tree)
            if module not in allowed
        )
    assert not violations, "\n".join(violations)


def test_the_check_catches_a_module_level_import() -> None:
    source = textwrap.dedent(
        """
        from pipelines import tasks
        import pipelines.lake

        def ok():
            from pipelines import ingest
        """
    )
    found = _module_level_pipelines_imports(ast.parse(source))
    assert [m for _, m in found] == ["pipelines.tasks", "pipelines.lake"]
