"""The package's layers, kept by a test (issue 29).

Lowest first: foundation (td3her_cli/{config,presets,errors,strict_json,quiet}.py and the
package's __init__) < core < envs < run < report < sweep < cli; `python -m td3her_cli`
(__main__) sits on top and may import cli. A module imports only from its own layer or lower
ones, core imports nothing of ours but foundation, and no module imports one that imports it
back, directly or around a loop.

Every import counts: at the top, inside a function (the CLI's lazy imports) and under
`if TYPE_CHECKING:` (a type-only import still ties the two modules together). The check reads
the sources with `ast` and imports nothing, so it takes milliseconds.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "td3her_cli"
FOUNDATION = ("config", "presets", "errors", "strict_json", "quiet")  # + td3her_cli/__init__
LAYERS = ("foundation", "core", "envs", "run", "report", "sweep", "cli", "__main__")


@dataclass(frozen=True)
class Import:
    """One import of a module of ours, as written in the importing module."""

    module: str  # the importing module, e.g. td3her_cli.run.checkpoint
    path: str  # its file, relative to the repository: td3her_cli/run/checkpoint.py
    line: int
    target: str  # the module of ours it imports, e.g. td3her_cli.run.training
    statement: str  # the import on one line, e.g. from td3her_cli.run.training import Trainer

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.statement}"


@dataclass(frozen=True)
class Package:
    """The modules of the package under `root` (the repository) and their imports of ours."""

    root: Path
    modules: dict[str, Path]  # module name -> file
    imports: list[Import]

    @classmethod
    def read(cls, root: Path) -> Package:
        modules = {}
        for path in sorted((root / PACKAGE).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
        imports = [
            found
            for name, path in modules.items()
            for found in imports_of(name, path, modules, root)
        ]
        return cls(root, modules, imports)

    def modules_in_no_layer(self) -> list[str]:
        """A line for every module that belongs to no layer (a new file needs a place)."""
        return [
            f"{path.relative_to(self.root)}: in no layer; move it into one of "
            f"{', '.join(LAYERS[1:-1])}/ or add it to FOUNDATION in tests/test_layers.py"
            for name, path in self.modules.items()
            if layer_of(name) is None
        ]

    def upward_imports(self) -> list[str]:
        """A line for every import of a module of a higher layer than the importer's."""
        problems = []
        for found in self.imports:
            mine, theirs = layer_of(found.module), layer_of(found.target)
            if mine is None or theirs is None:
                continue  # reported by modules_in_no_layer
            if LAYERS.index(theirs) > LAYERS.index(mine):
                problems.append(
                    f"{found}: {found.module} ({mine}) imports {found.target} ({theirs}), a "
                    f"higher layer (order: {' < '.join(LAYERS)})"
                )
        return problems

    def core_imports_beyond_foundation(self) -> list[str]:
        """A line for every import by core of a module of ours outside core and foundation."""
        return [
            f"{found}: core imports nothing of ours but foundation, and {found.module} imports "
            f"{found.target}"
            for found in self.imports
            if layer_of(found.module) == "core"
            and layer_of(found.target) not in ("core", "foundation")
        ]

    def import_cycles(self) -> list[str]:
        """A line for every group of modules that import each other around a loop, showing
        one loop through it, each step with the import that makes it."""
        edges: dict[str, dict[str, Import]] = {}  # importer -> imported -> its first import
        for found in self.imports:
            if found.target != found.module:
                edges.setdefault(found.module, {}).setdefault(found.target, found)
        problems = []
        for group in _strongly_connected(edges):
            if len(group) > 1:
                steps = _loop_through(min(group), group, edges)
                problems.append(
                    f"import cycle among {', '.join(sorted(group))}; one loop: "
                    + " -> ".join(str(step) for step in steps)
                )
        return problems


def imports_of(module: str, path: Path, known: dict[str, Path], root: Path) -> list[Import]:
    """Every import of a module of ours in `path`, wherever it stands in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x, from ..run import training
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            # `from td3her_cli.run import checkpoint` imports the module run.checkpoint.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                found.append(
                    Import(
                        module,
                        str(path.relative_to(root)),
                        node.lineno,
                        _known_module(target, known),
                        ast.unparse(node),
                    )
                )
    return sorted(found, key=lambda each: each.line)


def _statements(tree: ast.Module):
    """Every statement of the module, at any depth (in functions, classes, if/try/with...);
    expressions are not entered (an import is a statement), which keeps the walk fast."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        for _, value in ast.iter_fields(node):
            if isinstance(value, list):
                stack.extend(
                    child
                    for child in value
                    if isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case))
                )


def _known_module(name: str, known: dict[str, Path]) -> str:
    """`name`, or the nearest package above it that exists (an import of a missing module)."""
    while name not in known and "." in name:
        name = name.rpartition(".")[0]
    return name


def layer_of(module: str) -> str | None:
    """The layer of a module of ours, or None if it is in none."""
    parts = module.split(".")
    if parts == [PACKAGE] or (len(parts) == 2 and parts[1] in FOUNDATION):
        return "foundation"
    if len(parts) >= 2 and parts[1] in LAYERS[1:]:
        return parts[1]
    return None


def _strongly_connected(edges: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's strongly connected components of the import graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for child in edges.get(node, {}):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            groups.append(group)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def _loop_through(start: str, group: set[str], edges: dict[str, dict[str, Import]]) -> list:
    """The imports of one shortest loop from `start` back to it within `group` (breadth first)."""
    paths = {start: []}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child, found in sorted(edges.get(node, {}).items()):
            if child == start:
                return [*paths[node], found]
            if child in group and child not in paths:
                paths[child] = [*paths[node], found]
                queue.append(child)
    raise AssertionError(f"no loop through {start}")  # a strongly connected group has one


# ------------------------------------------------------------------------------ the package
@pytest.fixture(scope="module")
def package() -> Package:
    return Package.read(ROOT)


def test_every_module_is_in_a_layer(package):
    problems = package.modules_in_no_layer()
    assert not problems, "\n".join(problems)


def test_no_module_imports_a_higher_layer(package):
    problems = package.upward_imports()
    assert not problems, "\n".join(problems)


def test_core_imports_nothing_of_ours_but_foundation(package):
    problems = package.core_imports_beyond_foundation()
    assert not problems, "\n".join(problems)


def test_no_import_cycle(package):
    problems = package.import_cycles()
    assert not problems, "\n".join(problems)


def test_the_check_reads_the_whole_package(package):
    """Guards the check itself: it finds the modules and the imports it is meant to judge."""
    assert {"td3her_cli", "td3her_cli.core.agent", "td3her_cli.cli", "td3her_cli.__main__"} <= set(
        package.modules
    )
    targets = {(found.module, found.target) for found in package.imports}
    assert any(
        module == "td3her_cli.__main__" and layer_of(target) == "cli" for module, target in targets
    )
    assert ("td3her_cli.run.training", "td3her_cli.run.checkpoint") in targets
    # lazy imports inside functions count too
    assert ("td3her_cli.sweep.trials", "td3her_cli.run.training") in targets


# ------------------------------------------------------------------------------ the checker
def _tree(root: Path, files: dict[str, str]) -> Path:
    """A fake package under `root`: {relative path: source}; every folder gets an __init__."""
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        for folder in path.relative_to(root).parents[:-1]:  # all but the root itself
            (root / folder / "__init__.py").touch()
    return root


def test_checker_names_module_line_and_import_of_an_upward_import_anywhere(tmp_path):
    root = _tree(
        tmp_path,
        {
            f"{PACKAGE}/config.py": "",
            f"{PACKAGE}/core/agent.py": """\
                from typing import TYPE_CHECKING

                from td3her_cli.config import TrainConfig

                if TYPE_CHECKING:
                    from td3her_cli.run.training import Trainer


                def act():
                    from td3her_cli.cli import app
                    import td3her_cli.envs.goal_env
                """,
            f"{PACKAGE}/run/training.py": "",
            f"{PACKAGE}/envs/goal_env.py": "from ..run import training\n",
            f"{PACKAGE}/cli/app.py": "from td3her_cli.run import training\n",
        },
    )
    package = Package.read(root)
    problems = package.upward_imports()
    assert problems == [
        "td3her_cli/core/agent.py:6: from td3her_cli.run.training import Trainer: "
        "td3her_cli.core.agent (core) imports td3her_cli.run.training (run), a higher layer "
        "(order: foundation < core < envs < run < report < sweep < cli < __main__)",
        "td3her_cli/core/agent.py:10: from td3her_cli.cli import app: td3her_cli.core.agent "
        "(core) imports td3her_cli.cli.app (cli), a higher layer "
        "(order: foundation < core < envs < run < report < sweep < cli < __main__)",
        "td3her_cli/core/agent.py:11: import td3her_cli.envs.goal_env: td3her_cli.core.agent "
        "(core) imports td3her_cli.envs.goal_env (envs), a higher layer "
        "(order: foundation < core < envs < run < report < sweep < cli < __main__)",
        "td3her_cli/envs/goal_env.py:1: from ..run import training: td3her_cli.envs.goal_env "
        "(envs) imports td3her_cli.run.training (run), a higher layer "
        "(order: foundation < core < envs < run < report < sweep < cli < __main__)",
    ]
    core = package.core_imports_beyond_foundation()
    assert [line.split(": ")[0] for line in core] == [
        "td3her_cli/core/agent.py:6",
        "td3her_cli/core/agent.py:10",
        "td3her_cli/core/agent.py:11",
    ]


def test_checker_finds_a_cycle_through_a_type_checking_import(tmp_path):
    root = _tree(
        tmp_path,
        {
            f"{PACKAGE}/run/checkpoint.py": """\
                from typing import TYPE_CHECKING

                if TYPE_CHECKING:
                    from td3her_cli.run.training import Trainer
                """,
            f"{PACKAGE}/run/training.py": """\
                from td3her_cli.run.best import best_record
                """,
            f"{PACKAGE}/run/best.py": """\
                def best_record():
                    from td3her_cli.run import checkpoint
                """,
            f"{PACKAGE}/run/metrics.py": "from td3her_cli.run import best\n",
        },
    )
    assert Package.read(root).import_cycles() == [
        "import cycle among td3her_cli.run.best, td3her_cli.run.checkpoint, "
        "td3her_cli.run.training; one loop: "
        "td3her_cli/run/best.py:2: from td3her_cli.run import checkpoint -> "
        "td3her_cli/run/checkpoint.py:4: from td3her_cli.run.training import Trainer -> "
        "td3her_cli/run/training.py:1: from td3her_cli.run.best import best_record"
    ]
    (root / PACKAGE / "run" / "checkpoint.py").write_text("")
    assert Package.read(root).import_cycles() == []


def test_checker_names_a_module_in_no_layer(tmp_path):
    root = _tree(tmp_path, {f"{PACKAGE}/config.py": "", f"{PACKAGE}/helpers.py": ""})
    assert Package.read(root).modules_in_no_layer() == [
        "td3her_cli/helpers.py: in no layer; move it into one of core, envs, run, report, "
        "sweep, cli/ or add it to FOUNDATION in tests/test_layers.py"
    ]
