"""The one metric table (nst_pipeline.metric_table) is what the schema, the checks, the report and
runs.tsv read: a metric added there, or renamed, cannot be missing from one of them."""

from __future__ import annotations

from pathlib import Path

import yaml

from nst_pipeline import metric_table, report, runs_table
from nst_pipeline.figures import PLOTTED_METRICS
from nst_pipeline.findings import margin

SCHEMA = Path(__file__).resolve().parents[2] / "workflow/schemas/config.schema.yaml"


def _check_schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())["$defs"]["check"]["properties"]


def test_the_schemas_check_metrics_are_the_tables():
    assert _check_schema()["metric"]["enum"] == list(metric_table.CHECK_METRICS)


def test_the_schemas_gate_metrics_are_the_tables_per_run_metrics():
    assert _check_schema()["gate"]["properties"]["metric"]["enum"] == list(metric_table.RUN_METRICS)


def test_every_metric_a_check_reads_has_a_margin_and_words():
    """A fixed-table margin, or (the loss shares) one the noise repeats measure: every per-run metric."""
    assert set(metric_table.CHECK_METRICS) == set(metric_table.NOISE_SCALE) | set(metric_table.REPEAT_METRICS)
    for key in metric_table.CHECK_METRICS:
        if key in metric_table.NOISE_SCALE:
            assert margin(key) == 3 * metric_table.BY_KEY[key].noise_scale
        else:
            assert key in metric_table.REPEAT_METRICS and not metric_table.BY_KEY[key].pairwise
        assert metric_table.words(key) != key


def test_the_reports_tables_and_plots_and_runs_tsv_read_the_table():
    keys = [m.key for m in metric_table.METRICS]
    assert [key for key, _ in report.METRIC_TABLE_COLUMNS] == [m.key for m in metric_table.METRICS if m.in_html_table]
    assert [key for key, _, _ in report.EXPERIMENT_METRIC_COLUMNS] == [k for k in keys if k not in ("perceptual",)]
    assert [key for key, _ in PLOTTED_METRICS] == [m.key for m in metric_table.METRICS if m.plotted]
    assert set(metric_table.RUN_METRICS) <= set(runs_table.METRIC_COLUMNS)


def test_one_label_per_metric():
    headers = [m.header for m in metric_table.METRICS]
    assert len(set(headers)) == len(headers)
    assert len({m.key for m in metric_table.METRICS}) == len(metric_table.METRICS)
