"""The public surface: `negotiation_rules.__all__` is exactly what docs/api.md documents; the rest is private."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import negotiation_rules
import negotiation_rules.testing

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "negotiation_rules"
API = ROOT / "docs" / "api.md"
LAZY = {"advise_frame", "frame_states", "advise_dask", "score"}  # imported on first use, with their extra


def _documented(prefix: str) -> set[str]:
    names = re.findall(r"^::: (\S+)$", API.read_text(encoding="utf-8"), flags=re.M)
    return {n.removeprefix(prefix) for n in names if n.startswith(prefix) and "." not in n.removeprefix(prefix)}


def test_all_is_exactly_the_documented_surface() -> None:
    assert set(negotiation_rules.__all__) - {"__version__"} == _documented("negotiation_rules.") - LAZY
    assert len(negotiation_rules.__all__) == len(set(negotiation_rules.__all__))


def test_the_testing_kit_exports_exactly_what_is_documented() -> None:
    assert set(negotiation_rules.testing.__all__) == _documented("negotiation_rules.testing.")


def test_every_public_name_imports_and_dir_lists_the_lazy_ones_too() -> None:
    for name in negotiation_rules.__all__:
        assert getattr(negotiation_rules, name) is not None, name
    assert set(dir(negotiation_rules)) >= set(negotiation_rules.__all__) | LAZY


def test_the_version_comes_from_the_package_metadata_and_is_written_once() -> None:
    from importlib import metadata

    assert negotiation_rules.__version__ == metadata.version("negotiation-rules")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    release = re.compile(r"__version__\s*=\s*['\"]\d+\.\d+\.\d+['\"]")
    assert [p for p in PACKAGE.rglob("*.py") if release.search(p.read_text("utf-8"))] == []
    assert len(re.findall(r"^version = ", pyproject, flags=re.M)) == 1


def test_every_implementation_module_is_private() -> None:
    public = {"__init__.py", "__main__.py", "strategies.py"}  # strategies: negotiation_rules.testing.strategies
    named = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]
    assert [n for n in named if not n.split("/")[-1].startswith("_") and n.split("/")[-1] not in public] == []


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every `from X import name` in a file, in-function imports included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            found += [(("." * node.level) + (node.module or ""), a.name) for a in node.names]
    return found


def test_no_module_imports_a_private_name_of_another() -> None:
    offenders = []
    for path in [*PACKAGE.rglob("*.py"), ROOT / "_negotiation_rules_pytestplugin.py"]:
        for module, name in _imports(path):
            if name.startswith("_") and not name.startswith("__") and module.lstrip(".").split(".")[0] != "":
                offenders.append(f"{path.relative_to(ROOT)}: from {module} import {name}")
    assert offenders == []


def test_no_import_cycle_at_module_level() -> None:
    """Import each private module alone in a fresh interpreter: a cycle shows up as an ImportError."""
    modules = sorted(
        "negotiation_rules." + p.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".")
        for p in PACKAGE.rglob("_*.py")
        if p.name != "__init__.py" and p.stem not in {"__main__", "_frames", "_dask", "_score"}
    )
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    for module in modules:
        run = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True)
        assert run.returncode == 0, f"{module}: {run.stderr[-400:]}"


def _graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, at module level or inside functions (not for type checking)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        package = parts[:-1]
        name = ".".join(parts if path.name != "__init__.py" else parts[:-1])
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        deps: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level and id(node) not in typing_only:
                base = package[: len(package) - (node.level - 1)]
                if node.module:
                    deps.add(".".join([*base, node.module]))
                else:
                    deps |= {".".join([*base, a.name]) for a in node.names}
        graph[name] = deps - {name}
    return graph


def test_no_import_cycle_even_through_imports_inside_functions() -> None:
    """The layers only import downwards: a lazy import inside a function must not hide a cycle either."""
    graph = _graph()
    modules = {m for m in graph if m != "negotiation_rules"}  # the facade re-exports; nothing imports it back

    def reaches(start: str) -> list[str] | None:
        todo = [(start, [start])]
        seen = {start}
        while todo:
            node, trail = todo.pop()
            for nxt in sorted(graph.get(node, set()) & modules):
                if nxt == start:
                    return trail
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append((nxt, [*trail, nxt]))
        return None

    assert {m: trail for m in sorted(modules) if (trail := reaches(m))} == {}
