"""Code fingerprints: a hash of every package module a workflow script runs, found from the code.

A rule's ``code`` param is the fingerprint of its script (:func:`fingerprint`): the SHA-256 of the
source of each ``lossatlas`` module in the script's *import closure*, i.e. the modules it imports,
the modules those import, and so on, each with the ``__init__.py`` of the packages above it. Imports
are read from the source (``ast``), at any depth of the code (an import inside a function counts), so
that editing any module a rule's results depend on re-runs the rule, with no list kept by hand.
Standard library only: this runs when the workflow is parsed.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = "lossatlas"
#: The package's directory (``src/lossatlas``).
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def module_file(name: str, package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The source file of module ``name`` (``"lossatlas.core.seeds"``; a package's ``__init__.py``),
    or None when ``name`` is not a module of the package (a function or class imported by name)."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = package_dir.joinpath(*parts[1:])
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def imported_modules(source: str, name: str | None = None, package_dir: Path = PACKAGE_DIR) -> set[str]:
    """The ``lossatlas`` modules that ``source`` (the text of module ``name``, None for a script)
    imports anywhere in its code: ``import lossatlas.x`` gives ``lossatlas.x``; ``from lossatlas.x
    import y`` gives ``lossatlas.x.y`` where ``y`` is a module, else ``lossatlas.x``; relative
    imports are resolved against ``name``. (The packages above a module, whose ``__init__.py`` an
    import also runs, are added by :func:`import_closure`.)"""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                if name is None:
                    raise ValueError("a script cannot import relatively")
                package = name if module_file(name, package_dir).name == "__init__.py" else name.rpartition(".")[0]
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if module_file(submodule, package_dir) is not None else base)
    return {module for module in found if module_file(module, package_dir) is not None}


def import_closure(script: str | Path, package_dir: Path = PACKAGE_DIR) -> list[str]:
    """Every ``lossatlas`` module that running ``script`` imports, directly or not, with the
    packages above each (importing ``lossatlas.core.seeds`` runs ``lossatlas/__init__.py`` and
    ``lossatlas/core/__init__.py``), sorted."""
    pending = imported_modules(Path(script).read_text(), package_dir=package_dir)
    seen: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        parents = {".".join(parts[:depth]) for depth in range(1, len(parts))}
        pending |= (parents | imported_modules(module_file(module, package_dir).read_text(), module, package_dir)) - seen
    return sorted(seen)


def fingerprint(script: str | Path, package_dir: Path = PACKAGE_DIR) -> str:
    """SHA-256 (first 12 hex digits) of the source of every module of :func:`import_closure`, each
    under its path relative to the package: the same code gives the same fingerprint on any machine."""
    digest = hashlib.sha256()
    for module in import_closure(script, package_dir):
        path = module_file(module, package_dir)
        digest.update(path.relative_to(package_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
