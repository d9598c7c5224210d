"""pyproject.toml and environment.yml pin the same versions."""

import re
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
