"""The yardstick's metrics, one row each: the single table that every module reads for a metric's key,
its labels, its unit and its noise scale, and whether a finding's check may read it.

Torch-free on purpose: the planner reads it at Snakemake's parse time, the report and the scorecard
read it without loading the judges. nst_pipeline.metrics computes the values; this says what they
mean. Adding a metric: one row here, its computation in metrics.measure(), and its tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    key: str  # the key in metrics.measure()'s row (or a pairwise row) and in runs.tsv
    header: str  # a table column's header
    words: str  # what it means, which end is which: scorecard lines and plot titles
    percent: bool = False  # a share: shown as a percentage
    # How far two runs differ by chance (one standard deviation) in the fixed table, where measured
    # (the margin, NOISE_MULTIPLE of it, where the noise repeats measure none: nst_pipeline.findings).
    noise_scale: float | None = None
    pairwise: bool = False  # a distance between two runs (rule measure_pairs), not a per-run value
    plotted: bool = False  # one panel of the report's yardstick plot
    in_html_table: bool = False  # a column of the report's all-runs table (runs.tsv has every per-run metric)


# The fixed table's noise scales: bench/validate_yardstick.py at 128 px, 100 L-BFGS iterations - the
# largest standard deviation over 3 gaussian-init seeds at style layers 6 and at 3, and over content
# init at 1 vs 2 threads (float summation order is content init's only chance; its seed changes
# nothing). Three samples each: a scale to compare effects against, not a precise figure. Findings
# judged where the pipeline's own noise repeats ran use the margin measured there instead
# (nst_pipeline.repeats, nst_pipeline.noise); these are the fallback (noise_repeats: 0).
METRICS = (
    Metric(
        "content_ssim",
        "content SSIM",
        "content SSIM (1 = the photo)",
        noise_scale=0.0062,
        plotted=True,
        in_html_table=True,
    ),
    # The findings' "photo recognisable" gate (>= 0.16, config.yaml). Noise scale: the largest SD over
    # 3 gaussian seeds and content init at 1 vs 2 threads, 128 px x 100 (bench/labels/validate_gate.py).
    Metric(
        "coarse_ssim",
        "coarse SSIM",
        "coarse SSIM, at 64 px (1 = the photo; recognisable from 0.16)",
        noise_scale=0.0206,
        plotted=True,
        in_html_table=True,
    ),
    Metric("content_distance", "content dist.", "content distance (0 = the photo)", noise_scale=0.0090),
    Metric(
        "style_distance",
        "style dist.",
        "style distance (0 = the painting)",
        noise_scale=0.0066,
        plotted=True,
        in_html_table=True,
    ),
    Metric(
        "style_distance_effnet",
        "style dist. (EffNet)",
        "style distance, EfficientNet judge (0 = the painting)",
        noise_scale=0.0037,
        plotted=True,
        in_html_table=True,
    ),
    Metric(
        "palette_distance",
        "palette ΔE",
        "palette distance, ΔE (0 = the painting's colours)",
        noise_scale=0.096,
        plotted=True,
        in_html_table=True,
    ),
    Metric(
        "init_change",
        "init change",
        "change from the start image (0 = stayed)",
        noise_scale=0.0084,
        plotted=True,
        in_html_table=True,
    ),
    Metric(
        "share_start_content",
        "content share, start",
        "content term's share of the weighted loss at the start",
        percent=True,
    ),
    Metric(
        "share_end_content",
        "content share, end",
        "content term's share of the weighted loss at the end",
        percent=True,
        in_html_table=True,
    ),
    Metric(
        "share_end_style",
        "style share, end",
        "style term's share of the weighted loss at the end",
        percent=True,
        in_html_table=True,
    ),
    # Between two content-init runs that differ only in float summation order: 0.14. Noise inits are
    # 0.8-1.0 apart (as far as style layers 3 vs 6: 0.80): their layouts differ, so pairwise distances
    # cannot tell noise-init outputs apart - compare their per-run metrics instead.
    Metric("perceptual", "perceptual dist.", "pairwise perceptual distance", noise_scale=0.14, pairwise=True),
)

BY_KEY = {metric.key: metric for metric in METRICS}
# per-run metrics with a fixed-table noise scale, in the table's order (runs.tsv's metric columns too;
# a gate may read these)
RUN_METRICS = tuple(m.key for m in METRICS if m.noise_scale is not None and not m.pairwise)
PAIR_METRICS = tuple(m.key for m in METRICS if m.pairwise)
# every per-run metric: the noise repeats measure the chance spread of each (nst_pipeline.noise)
REPEAT_METRICS = tuple(m.key for m in METRICS if not m.pairwise)
# what a check may read: a metric with a margin, from the fixed table or from the noise repeats (a
# metric without a fixed-table scale, e.g. a loss share, only where repeats measure it: the planner
# refuses a finding that would have neither, nst_pipeline.repeats)
CHECK_METRICS = REPEAT_METRICS + PAIR_METRICS
NOISE_SCALE = {m.key: m.noise_scale for m in METRICS if m.noise_scale is not None}


def words(key: str) -> str:
    metric = BY_KEY.get(key)
    return metric.words if metric else key
