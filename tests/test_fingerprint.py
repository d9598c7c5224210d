"""Rebuild fingerprints: a rule's ``code`` param covers the whole import closure of its script."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, SNAKEMAKE
from lossatlas.core.fingerprint import fingerprint, import_closure, imported_modules

SCRIPTS = REPO / "workflow" / "scripts"
PACKAGE = REPO / "src" / "lossatlas"

#: For each rule, its script and a module deep in that script's closure (not imported by the script
#: itself): editing it must re-plan the rule.
DEEP = {
    "dataset": ("make_dataset.py", "core/seeds.py"),
    "train": ("train.py", "stats/survival.py"),  # train -> convergence -> survival (when training stops)
    "article": ("article.py", "core/source.py"),
    "aggregate": ("aggregate.py", "data/datasets.py"),
    "analysis": ("analysis.py", "design/selection.py"),
    "tuned_rates": ("tuned_rates.py", "core/tuning.py"),
    "figures": ("figures.py", "figures/svg.py"),
    "study_figures_analysis": ("figures.py", "figures/svg.py"),
    "supplement": ("report.py", "core/textfmt.py"),
    "report": ("report.py", "core/textfmt.py"),
}


def module_name(relative: str) -> str:
    return "lossatlas." + relative.removesuffix(".py").replace("/", ".")


def test_imports_are_read_at_any_depth_and_relative_ones_resolved():
    source = "import lossatlas.core.seeds\ndef f():\n    from lossatlas.design import plan\n    from . import embed\n    from .render import build_tables\n"
    assert imported_modules(source, "lossatlas.report.captions") == {
        "lossatlas.core.seeds", "lossatlas.design.plan", "lossatlas.report.embed", "lossatlas.report.render"}
    # a name that is not a module counts as its module
    assert imported_modules("from lossatlas.core.seeds import derive_seed") == {"lossatlas.core.seeds"}


def test_closure_holds_the_modules_the_hand_made_lists_left_out():
    """The lists kept by hand missed these (issue 17): train's stall rule and input standardization,
    aggregate's convergence and datasets."""
    train = import_closure(SCRIPTS / "train.py")
    assert {"lossatlas.stats.survival", "lossatlas.stats.convergence", "lossatlas.data.datasets", "lossatlas.design.study",
            "lossatlas.core.extensions", "lossatlas", "lossatlas.stats"} <= set(train)
    assert {"lossatlas.stats.convergence", "lossatlas.data.datasets"} <= set(import_closure(SCRIPTS / "aggregate.py"))
    assert not any(module.startswith(("lossatlas.report", "lossatlas.figures")) for module in train)


@pytest.mark.parametrize("rule", sorted(DEEP))
def test_the_chosen_module_is_deep_in_the_closure(rule):
    script, relative = DEEP[rule]
    direct = imported_modules((SCRIPTS / script).read_text())
    assert module_name(relative) in import_closure(SCRIPTS / script)
    assert module_name(relative) not in direct


def test_fingerprint_changes_with_any_module_of_the_closure_only(tmp_path):
    package = tmp_path / "lossatlas"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    script = SCRIPTS / "train.py"
    before = fingerprint(script, package)
    assert before == fingerprint(script, PACKAGE)  # the same code anywhere gives the same fingerprint
    (package / "report" / "citation.py").write_text("# outside the closure\n", encoding="utf-8")
    assert fingerprint(script, package) == before
    with open(package / "stats" / "survival.py", "a", encoding="utf-8") as file:
        file.write("\n# edited\n")
    assert fingerprint(script, package) != before


def dry_run(directory: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(directory / "src")}
    return subprocess.run([SNAKEMAKE, "-n", "--cores", "2", "--configfile", "config/smoke.yaml"], cwd=directory,
                          capture_output=True, text=True, timeout=300, env=environment)


@pytest.mark.slow
def test_dry_run_replans_a_rule_when_a_module_deep_in_its_closure_changes(smoke_run, tmp_path):
    """A scratch copy of the smoke run with its own copy of the package first on the path: nothing
    to do; then, for each rule, a module deep in its script's closure edited -> `snakemake -n`
    lists the rule again."""
    directory = tmp_path / "run"
    shutil.copytree(smoke_run[0], directory, symlinks=True)
    shutil.copytree(PACKAGE, directory / "src" / "lossatlas", ignore=shutil.ignore_patterns("__pycache__"))
    clean = dry_run(directory)
    assert clean.returncode == 0 and "Nothing to be done" in clean.stdout + clean.stderr, clean.stdout + clean.stderr
    for relative in sorted({relative for _, relative in DEEP.values()}):
        path = directory / "src" / "lossatlas" / relative
        original = path.read_text(encoding="utf-8")
        path.write_text(original + "\n# edited\n", encoding="utf-8")
        run = dry_run(directory)
        path.write_text(original, encoding="utf-8")
        planned = run.stdout + run.stderr
        assert run.returncode == 0, planned
        for rule, (_, module) in DEEP.items():
            if module == relative:
                assert f"rule {rule}:" in planned, f"editing {relative} does not re-plan rule {rule}:\n{planned}"
