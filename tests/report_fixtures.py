"""Fixtures shared by several of the report's test files (tests/test_report_*.py): import them by name."""

from __future__ import annotations

import pytest
from helpers import smoke_config

from lossatlas.design.config import load_study


@pytest.fixture(scope="module", name="study")
def study_fixture():
    """The smoke config's study (a fixture by the name ``study``; its own name keeps linters from taking the
    test functions' ``study`` argument for a redefinition of the import)."""
    return load_study(smoke_config())
