"""Fixtures shared by the end-to-end tests: one smoke run of the whole workflow per session."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "report", "profiles", "CITATION.cff", "Makefile", "scripts", "environment.yml")


def copy_workflow(directory: Path) -> Path:
    for name in WORKFLOW_FILES:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, directory / name)
    return directory


def snakemake(directory, *arguments, timeout=900):
    return subprocess.run(
        [SNAKEMAKE, "--cores", "2", "--configfile", "config/smoke.yaml", *arguments],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """``(directory, completed process)`` of `snakemake --cores 2` with config/smoke.yaml."""
    directory = copy_workflow(tmp_path_factory.mktemp("smoke"))
    run = snakemake(directory)
    assert run.returncode == 0, run.stdout + run.stderr
    return directory, run


#: Fixtures that run Snakemake (a whole smoke run, or dry runs in a copy of the workflow): every test
#: that uses one is marked ``slow``, so that ``pytest -m "not slow"`` runs the unit tests alone.
WORKFLOW_FIXTURES = {"smoke_run", "workflow_copy"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if WORKFLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
