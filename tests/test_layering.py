"""The package's layout is its data flow: stages as subpackages, each importing only earlier ones."""

import ast
from pathlib import Path

import pytest

from lossatlas.core.fingerprint import PACKAGE_DIR, imported_modules

#: The stages in the order data flows through them; a module may import its own stage and earlier
#: ones. figures and report are one step: both read the analysis, and neither imports the other.
STAGES = ("core", "data", "stats", "design", "training", "aggregation", "analysis", ("figures", "report"))
#: Modules directly under lossatlas/ run the whole pipeline (verify); the package itself
#: (``lossatlas/__init__.py``: the version, the environment) comes first and imports nothing of it.
TOP = len(STAGES)


def modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> source file."""
    found = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = modules()


def stage(name: str) -> int:
    parts = name.split(".")
    if name == "lossatlas":
        return 0
    if len(parts) < 3 and not (len(parts) == 2 and (PACKAGE_DIR / parts[1]).is_dir()):
        return TOP
    package = parts[1]
    for index, entry in enumerate(STAGES):
        if package == entry or (isinstance(entry, tuple) and package in entry):
            return index
    raise AssertionError(f"{name} lies in no stage; add its subpackage to STAGES")


def imports(name: str) -> set[str]:
    return imported_modules(MODULES[name].read_text(encoding="utf-8"), name) - {name}


def test_every_module_lies_in_a_stage():
    assert {stage(name) for name in MODULES} <= set(range(TOP + 1))
    assert len([name for name in MODULES if stage(name) == TOP]) <= 3, "keep the package's top level small"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_a_later_stage(name):
    later = sorted(module for module in imports(name) if stage(module) > stage(name))
    assert not later, f"{name} (stage {stage(name)}) imports later stages: {later}"


def test_figures_and_report_never_import_each_other():
    for name in MODULES:
        package = name.split(".")[1] if "." in name else ""
        other = {"figures": "lossatlas.report", "report": "lossatlas.figures"}.get(package)
        if other:
            assert not [m for m in imports(name) if m == other or m.startswith(other + ".")], name


def test_no_import_cycle():
    graph = {name: imports(name) & set(MODULES) for name in MODULES}
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path[path.index(target):], target]))
            if target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def external_imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            yield node.module or "", node


def test_no_private_name_is_imported_across_modules():
    private = [f"{name}: from {module} import {alias.name}"
               for name, path in MODULES.items()
               for module, node in external_imports(path) if isinstance(node, ast.ImportFrom) and module.startswith("lossatlas")
               for alias in node.names if alias.name.startswith("_")]
    assert not private


def test_only_training_imports_tensorflow_or_keras():
    importers = sorted({name for name, path in MODULES.items() for module, _ in external_imports(path)
                        if module.split(".")[0] in ("tensorflow", "keras")})
    assert importers and all(name.startswith("lossatlas.training.") for name in importers), importers
