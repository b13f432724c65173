"""One code fingerprint per rule, passed as a rule parameter: Snakemake's "params" rerun trigger then
reruns a job exactly when the code that makes its output changes (Snakemake does not look inside
imported packages by itself).

- stylize: the engine modules a run executes + torch/torchvision versions (nst.provenance).
- make_grid / make_report: their own modules and templates. An edit to the report's code or CSS
  reruns the report job only, never a stylize job (every GPU hour of a sweep).
- measure / measure_pairs: the yardstick (nst_pipeline.measure and what it imports: metrics and
  the engine modules that load the judges and rebuild a run's start image) + the versions of the
  packages that compute the numbers. An edit there reruns the measure jobs and the report, never a
  stylize job. The findings' checks (nst_pipeline.findings) run in the report job, so editing
  them - or adding a finding to the config - reruns the report only.
"""

from __future__ import annotations

from pathlib import Path

from nst.provenance import code_fingerprint, engine_fingerprint

TEMPLATES = Path(__file__).resolve().parent / "templates"


def stylize() -> str:
    return engine_fingerprint()


def grid() -> str:
    return code_fingerprint("nst_pipeline.grid")


def report() -> str:
    """The report draws the grids of incomplete pairs itself, so grid code is part of it too."""
    templates = tuple(sorted(path for path in TEMPLATES.glob("*") if path.is_file()))
    return code_fingerprint("nst_pipeline.report", extra_files=templates)


# torch/torchvision run the judges; scikit-image computes SSIM and CIELAB
MEASURE_PACKAGES = ("torch", "torchvision", "scikit-image")


def measure() -> str:
    return code_fingerprint("nst_pipeline.measure", packages=MEASURE_PACKAGES)
