"""pyproject.toml and environment.yml pin the same versions; importing the package sets what its
processes run with."""

import os
import re
import subprocess
import sys
import tomllib

import yaml
from helpers import REPO


def pins_from_pyproject() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for group in project["optional-dependencies"].values() for r in group]
    pins = {}
    for requirement in requirements:
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;]+)", requirement).groups()
        pins[name.lower()] = version
    return pins


def pins_from_environment() -> dict[str, str]:
    environment = yaml.safe_load((REPO / "environment.yml").read_text())
    pins = {}
    for entry in environment["dependencies"]:
        for line in entry["pip"] if isinstance(entry, dict) else [entry]:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)==?([^\s=]+)", line)
            if match and match.group(1) != "python":
                pins[match.group(1).lower()] = match.group(2)
    return pins


def test_every_direct_dependency_is_pinned_identically():
    assert pins_from_pyproject() == pins_from_environment()


def test_importing_the_package_first_turns_numpys_huge_page_advice_off():
    """NumPy reads NUMPY_MADVISE_HUGEPAGE at its first import: a process that imports lossatlas first
    (every job and entry point does) allocates its large arrays without asking for huge pages."""
    code = "import lossatlas, numpy; print(numpy._core.multiarray._get_madvise_hugepage())"
    environment = {key: value for key, value in os.environ.items() if key != "NUMPY_MADVISE_HUGEPAGE"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO, env=environment)
    assert run.stdout.strip() == "False"
