"""nst_pipeline.fingerprints: each rule's code fingerprint changes exactly when the code that makes its
output changes. Edits go to a copy of the packages, templates and scripts (the fingerprints are
pointed at it), so the repository is never touched."""

from __future__ import annotations

import shutil

import pytest

from nst import provenance
from nst_pipeline import fingerprints

RULES = ("stylize", "grid", "report", "measure")


def fingerprint_of_each_rule() -> dict[str, str]:
    return {rule: getattr(fingerprints, rule)() for rule in RULES}


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A copy of nst/, nst_pipeline/ (templates included) and workflow/rules/ that the fingerprints read."""
    root = tmp_path_factory.mktemp("copy")
    real = fingerprint_of_each_rule()
    packages = {name: provenance._package_dir(name) for name in provenance.PROJECT_PACKAGES}
    for name, folder in packages.items():
        shutil.copytree(folder, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(fingerprints.RULES, root / "rules")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(provenance, "_package_dir", lambda package: root / package if package in packages else None)
        patch.setattr(fingerprints, "TEMPLATES", root / "nst_pipeline/templates")
        patch.setattr(fingerprints, "RULES", root / "rules")
        provenance.module_closure.cache_clear()  # the closures' files, now in the copy
        assert fingerprint_of_each_rule() == real  # the copy is faithful: same names, same bytes
        yield root
    provenance.module_closure.cache_clear()


# (file edited in the copy, rules whose fingerprint must change, rules whose fingerprint must not)
EDITS = [
    ("nst/losses.py", {"stylize"}, set()),  # engine code: every run
    ("nst/cli.py", set(), {"stylize"}),  # not part of a run
    ("nst_pipeline/findings/checks.py", {"report"}, {"stylize", "grid", "measure"}),  # the checks run in the report job
    ("nst_pipeline/findings/verdict.py", {"report"}, {"stylize", "grid", "measure"}),
    ("nst_pipeline/metric_table.py", {"report"}, {"stylize", "measure"}),
    ("nst_pipeline/report.py", {"report"}, {"stylize", "grid", "measure"}),
    ("nst_pipeline/templates/report.css", {"report"}, {"stylize", "grid", "measure"}),
    ("nst_pipeline/templates/report.html.j2", {"report"}, {"stylize", "grid", "measure"}),
    ("nst_pipeline/grid.py", {"grid", "report"}, {"stylize", "measure"}),  # the report draws grids too
    ("nst_pipeline/metrics.py", {"measure"}, {"stylize", "grid"}),
    ("nst_pipeline/measure.py", {"measure"}, {"stylize", "grid"}),
    # the `run:` rules' files hold the code that calls their package functions
    ("rules/grids.smk", {"grid"}, {"stylize", "report", "measure"}),
    ("rules/report.smk", {"report"}, {"stylize", "grid", "measure"}),
    ("rules/measure.smk", {"measure"}, {"stylize", "grid", "report"}),
    # the stylize script only unpacks snakemake (the run id holds the parameters): no fingerprint has it
    ("rules/stylize.smk", set(), {"stylize", "grid", "report", "measure"}),
    # fetch_weights has no code param: its output is the published file, checked by its sha256
    ("rules/weights.smk", set(), {"stylize", "grid", "report", "measure"}),
    ("nst_pipeline/fetch_weights.py", set(), {"stylize", "grid", "report", "measure"}),
]


@pytest.mark.parametrize(("edited", "changes", "stays"), EDITS, ids=[edit[0] for edit in EDITS])
def test_an_edit_changes_the_fingerprints_of_the_rules_it_feeds(copy, edited, changes, stays):
    before = fingerprint_of_each_rule()
    path = copy / edited
    original = path.read_text()
    path.write_text(original + "\n# an edit\n")  # imports unchanged: the closures stay as computed
    try:
        after = fingerprint_of_each_rule()
    finally:
        path.write_text(original)
    changed = {rule for rule in RULES if after[rule] != before[rule]}
    assert changes <= changed and not stays & changed, changed


@pytest.mark.parametrize(
    ("package", "changes"),
    [("torch", {"stylize", "measure"}), ("torchvision", {"stylize", "measure"}), ("scikit-image", {"measure"})],
)
def test_a_new_package_version_changes_the_rules_it_computes(monkeypatch, package, changes):
    before = fingerprint_of_each_rule()
    version = provenance._version
    monkeypatch.setattr(provenance, "_version", lambda name: "0.0-other" if name == package else version(name))
    after = fingerprint_of_each_rule()
    assert {rule for rule in RULES if after[rule] != before[rule]} == changes


def test_stylize_is_the_engine_fingerprint_the_sidecars_record():
    assert fingerprints.stylize() == provenance.engine_fingerprint()
    assert len(set(fingerprint_of_each_rule().values())) == len(RULES)
