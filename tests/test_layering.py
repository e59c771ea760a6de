"""The layout is the architecture: these tests keep the layers from leaking into each other.

Every import counts, at module level or inside a function (a lazy import is still a dependency).

- The stage packages (``ingest``, ``features``, ``training``, ``serving``, ``monitoring``) never
  import one another: what two stages share lives below them (foundation modules, ``storage``).
- Inside ``pipelines``, only ``tasks`` and ``ops`` import stages, and only they import Airflow.
- The longest chain of imports among the project's own modules stays short (at most 6 modules).
- No module is longer than 350 lines.
- The application package ``api`` reaches the library through its public modules only: never
  Airflow, never ``pipelines.tasks``/``ops`` (the CLI calls ``api``, not the reverse), never a
  private name (``_x``) of a module.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "features", "training", "serving", "monitoring")
ADAPTERS = ("tasks", "ops")
MAX_CHAIN = 6
MAX_LINES = 350
# Folders whose Python files are the project's own modules (DAG files import `common` by name,
# because the DAGs folder is on Airflow's sys.path).
SOURCE_FOLDERS = ("pipelines", "models", "dags", "benchmarks", "tests", "plugins", "api")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[0] == "dags" and len(parts) > 1:
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@cache
def project_modules() -> dict[str, Path]:
    found = {}
    for folder in SOURCE_FOLDERS:
        for path in sorted((REPO / folder).rglob("*.py")):
            found[module_name(path)] = path
    return found


def imported_names(source: str) -> set[str]:
    """One name per imported thing: ``import a.b`` gives ``a.b``, ``from a import b`` ``a.b``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def project_imports(source: str, modules: dict[str, Path]) -> set[str]:
    """The project modules ``source`` imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in modules:
                    found.add(full)
                elif node.module in modules:
                    found.add(node.module)
    return found


def layer_of(module: str) -> str | None:
    """``stage:<name>``, ``adapter`` or ``base`` for a ``pipelines`` module; None outside it."""
    parts = module.split(".")
    if parts[0] != "pipelines":
        return None
    if len(parts) > 1 and parts[1] in STAGES:
        return f"stage:{parts[1]}"
    if len(parts) > 1 and parts[1] in ADAPTERS:
        return "adapter"
    return "base"


def layering_violations(module: str, source: str) -> list[str]:
    """What ``module`` (with this ``source``) imports that its layer must not."""
    layer = layer_of(module)
    if layer is None or layer == "adapter":
        return []
    found = []
    for name in sorted(imported_names(source)):
        target = layer_of(name)
        if name.split(".")[0] == "airflow":
            found.append(f"{module} imports Airflow ({name}); only pipelines.tasks/ops may")
        elif target == "adapter":
            found.append(f"{module} imports {name}: nothing below tasks/ops may import them")
        elif target and target.startswith("stage:") and target != layer:
            what = "another stage" if layer.startswith("stage:") else "a stage"
            found.append(f"{module} imports {what} ({name}); only pipelines.tasks/ops may")
    return found


def test_stages_import_neither_each_other_nor_airflow_and_only_adapters_import_stages() -> None:
    problems = [
        problem
        for module, path in project_modules().items()
        for problem in layering_violations(module, path.read_text(encoding="utf-8"))
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("pipelines.serving.scoring", "from pipelines.training.train import x", "another stage"),
        (
            "pipelines.training.train",
            "def f():\n    import pipelines.monitoring.monitor",
            "another",
        ),
        ("pipelines.storage.lake", "from pipelines.features import build", "a stage"),
        ("pipelines.drift", "from airflow.sdk import dag", "imports Airflow"),
        ("pipelines.storage.warehouse", "from pipelines.tasks import common", "tasks/ops"),
    ],
)
def test_the_layering_check_catches_each_kind_of_leak(
    module: str, source: str, expected: str
) -> None:
    problems = layering_violations(module, source)
    assert len(problems) == 1 and expected in problems[0], problems


def test_adapters_and_imports_within_a_stage_are_allowed() -> None:
    assert (
        layering_violations("pipelines.tasks.scoring", "from pipelines.serving import scoring")
        == []
    )
    assert (
        layering_violations("pipelines.serving.publish", "from pipelines.serving import schema")
        == []
    )
    assert layering_violations("pipelines.monitoring.monitor", "from pipelines import drift") == []


def application_violations(module: str, source: str) -> list[str]:
    """What a module of the ``api`` package imports that an application must not."""
    if module.split(".")[0] != "api":
        return []
    found = []
    for name in sorted(imported_names(source)):
        parts = name.split(".")
        if parts[0] == "airflow":
            found.append(f"{module} imports Airflow ({name}); the API never needs it")
        elif parts[0] == "pipelines" and layer_of(name) == "adapter":
            found.append(f"{module} imports {name}: tasks/ops adapt Airflow and the CLI, not apps")
        elif parts[0] in ("pipelines", "models") and any(p.startswith("_") for p in parts[1:]):
            found.append(f"{module} imports a private name ({name}): use the public interface")
    return found


def test_the_api_calls_the_library_only_through_its_public_modules() -> None:
    problems = [
        problem
        for module, path in project_modules().items()
        for problem in application_violations(module, path.read_text(encoding="utf-8"))
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from airflow.sdk import dag", "Airflow"),
        ("from pipelines.ops import cli", "tasks/ops"),
        ("from pipelines.serving.scoring import _as_of_evening_before", "private"),
    ],
)
def test_the_application_check_catches_each_kind_of_leak(source: str, expected: str) -> None:
    problems = application_violations("api.app", source)
    assert len(problems) == 1 and expected in problems[0], problems
    assert application_violations("api.app", "from pipelines.serving import scoring") == []


def longest_chain(graph: dict[str, set[str]]) -> list[str]:
    """The longest path of imports without repeating a module (imports may form cycles)."""

    @cache
    def from_module(module: str, seen: frozenset[str]) -> tuple[str, ...]:
        best: tuple[str, ...] = (module,)
        for target in sorted(graph.get(module, ())):
            if target in seen:
                continue
            chain = (module, *from_module(target, seen | {target}))
            if len(chain) > len(best):
                best = chain
        return best

    return list(max((from_module(m, frozenset({m})) for m in graph), key=len, default=()))


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {
        module: project_imports(path.read_text(encoding="utf-8"), modules) - {module}
        for module, path in modules.items()
    }


def test_the_longest_chain_of_imports_is_short() -> None:
    chain = longest_chain(import_graph())
    assert len(chain) <= MAX_CHAIN, " -> ".join(chain)


def test_the_chain_measure_follows_lazy_imports() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert longest_chain(graph) == ["a", "b", "c"]
    modules = {"pkg.mod": Path("x"), "pkg": Path("y")}
    assert project_imports("def f():\n    from pkg import mod", modules) == {"pkg.mod"}


def test_no_module_is_longer_than_a_few_screens() -> None:
    long = {
        module: lines
        for module, path in project_modules().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these by reason to change: {long}"
