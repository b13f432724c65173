"""One code fingerprint per rule, passed as a rule parameter: Snakemake's "params" rerun trigger then
reruns a job exactly when the code that makes its output changes (Snakemake does not look inside
imported packages by itself).

They replace Snakemake's `code` trigger, which profiles/default turns off (for a `script:` rule it
only compares the script file's mtime with the output's).

- stylize: the engine modules a run executes + torch/torchvision versions (nst.provenance). Not its
  script, which only unpacks `snakemake`: every result-determining parameter is in the run id and
  checked against the sidecar (tests/pipeline/test_caching.py).
- make_grid / make_report / compare: their own modules, rule files (`run:` rules) and templates. An
  edit to the report's code or CSS reruns the report job only, never a stylize job (every GPU hour of a
  sweep).
- measure / measure_pairs: the yardstick (nst_pipeline.measure and what it imports: metrics and
  the engine modules that load the judges and rebuild a run's start image), their rule file (its
  `run:` blocks call the yardstick), and the versions of the packages that compute the numbers. An
  edit there reruns the measure jobs and the report, never a stylize job. The findings' checks
  (nst_pipeline.findings) run in the report job, so editing them - or adding a finding to the
  config - reruns the report only.
"""

from __future__ import annotations

from pathlib import Path

from nst.provenance import code_fingerprint, engine_fingerprint

TEMPLATES = Path(__file__).resolve().parent / "templates"
RULES = Path(__file__).resolve().parents[1] / "workflow/rules"


def stylize() -> str:
    return engine_fingerprint()


def grid() -> str:
    return code_fingerprint("nst_pipeline.grid", extra_files=(RULES / "grids.smk",))


def report() -> str:
    """The report draws the grids of incomplete pairs itself, so grid code is part of it too."""
    templates = tuple(sorted(path for path in TEMPLATES.glob("*") if path.is_file()))
    return code_fingerprint("nst_pipeline.report_job", extra_files=(*templates, RULES / "report.smk"))


def compare() -> str:
    """Rule compare (config compare_with): the comparison's code and its rule file."""
    return code_fingerprint("nst_pipeline.compare", extra_files=(RULES / "compare.smk",))


# torch/torchvision run the judges; scikit-image computes SSIM and CIELAB
MEASURE_PACKAGES = ("torch", "torchvision", "scikit-image")


def measure() -> str:
    """One for both measure rules (`run:` rules: their file holds the code that calls the yardstick)."""
    return code_fingerprint("nst_pipeline.measure", extra_files=(RULES / "measure.smk",), packages=MEASURE_PACKAGES)
