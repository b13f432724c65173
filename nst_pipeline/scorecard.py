"""The reproduction scorecard: every configured finding's verdict, from the files on disk.

Reads each run's outcome (nst_pipeline.outcome), its yardstick numbers (results/metrics/<run>.json,
rule measure) and the pairwise distances (rule measure_pairs), evaluates the findings of the plan
(nst_pipeline.findings) and writes results/findings.json. Runs in the report job: editing the checks,
or adding a finding to the config, reruns the report only.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

from nst.images import atomic_write_bytes
from nst_pipeline import findings, paths
from nst_pipeline.formatting import format_g
from nst_pipeline.outcome import RunOutcome


def _read_json(path: str) -> dict | None:
    file = Path(path)
    if not file.is_file():
        return None
    return json.loads(file.read_text(encoding="utf-8"))


def load_metrics(runs) -> dict[str, dict]:
    """run -> its measure JSON ({"run", "judge", "style_reference", "metrics"}), for runs measured."""
    found = {}
    for run in dict.fromkeys(runs):
        payload = _read_json(paths.run_metrics(run))
        if payload is not None:
            found[run] = payload
    return found


def load_pairs(experiment: str, pair: str) -> list[dict] | None:
    payload = _read_json(paths.pair_metrics(experiment, pair))
    return None if payload is None else payload["pairs"]


def run_view(outcome: RunOutcome, measured: dict | None) -> findings.RunView:
    record = outcome.record if outcome.status == "ok" else None
    return findings.RunView(
        run=outcome.run,
        parameters=outcome.parameters,
        status=outcome.status,
        random=outcome.is_random,
        metrics=(measured or {}).get("metrics"),
        convergence=findings.convergence(record) if record else None,
    )


def evaluate_plan(plan: dict, outcomes: dict[str, dict[str, list[RunOutcome]]], measured: dict) -> list:
    """Every finding of every experiment, once per pair: a list of findings.Verdict."""
    views = {
        name: {pair: [run_view(o, measured.get(o.run)) for o in runs] for pair, runs in pairs.items()}
        for name, pairs in outcomes.items()
    }
    verdicts = []
    for name, experiment in plan.items():
        for finding in experiment.get("findings") or []:
            for pair in experiment["pairs"]:
                verdicts.append(
                    findings.evaluate(
                        finding,
                        name,
                        pair,
                        views[name][pair],
                        others=lambda other, pair=pair: views.get(other, {}).get(pair),
                        pairwise=load_pairs(name, pair),
                    )
                )
    return verdicts


def judge_heights(measured: dict) -> list[int]:
    return sorted({payload["judge"]["height"] for payload in measured.values()})


def rules() -> dict:
    """The verdict rules, as numbers (findings.json and the report say them)."""
    from nst_pipeline.metrics import NOISE_SCALE

    return {
        "noise_multiple": findings.NOISE_MULTIPLE,
        "noise_scale": dict(NOISE_SCALE),
        "margins": {
            metric: float(f"{findings.margin(metric):.6g}")  # 0.027, not 0.026999999999999996
            for metric in (*findings.RUN_METRICS, *findings.PAIR_METRICS)
        },
        "convergence": {"tail_fraction": findings.CONVERGENCE_TAIL, "max_fall": findings.CONVERGED_FALL},
    }


def _finite(value):
    """JSON has no NaN: None instead (findings.json must load in any JSON reader)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_findings(verdicts: list, measured: dict, out: Path) -> None:
    payload = {
        "judge_heights": judge_heights(measured),
        "rules": rules(),
        "counts": {state: sum(v.verdict == state for v in verdicts) for state in findings.VERDICTS},
        "findings": [asdict(verdict) for verdict in verdicts],
    }
    text = json.dumps(_finite(payload), indent=1, allow_nan=False) + "\n"
    atomic_write_bytes(Path(out), text.encode("utf-8"))


# ---------------------------------------------------------------- the scorecard's "our numbers"

METRIC_WORDS = {
    "content_ssim": "content SSIM (1 = the photo)",
    "content_distance": "content distance (0 = the photo)",
    "style_distance": "style distance (0 = the painting)",
    "style_distance_effnet": "style distance, EfficientNet judge (0 = the painting)",
    "palette_distance": "palette distance, ΔE (0 = the painting's colours)",
    "init_change": "change from the start image (0 = stayed)",
    "perceptual": "pairwise perceptual distance",
}


def numbers_text(verdict) -> str:
    """One line with the numbers behind a verdict: the metric per value, the gate, the noise margin."""
    numbers = verdict.numbers
    if not numbers:
        return "no numbers (runs missing)"
    parts = [f"{METRIC_WORDS.get(numbers['metric'], numbers['metric'])}: "]
    parts.append(" · ".join(f"{label} {format_g(value)}" for label, value in numbers["values"].items()))
    gate = numbers.get("gate")
    if gate:
        bounds = " ".join(f"{word} {gate[key]:g}" for word, key in (("≥", "min"), ("≤", "max")) if key in gate)
        values = " · ".join(f"{label} {format_g(v)}" for label, v in gate["values"].items())
        parts.append(f"; gate {gate['metric']} {bounds}: {values}")
    if "difference" in numbers:
        parts.append(f"; difference {format_g(numbers['difference'])}")
    parts.append(f"; margin {format_g(numbers['margin'])}")
    return "".join(parts)


def shares_text(verdict, measured: dict) -> str | None:
    """The weighted loss terms' shares at the end of the runs a verdict read: at the classic weights
    the style term dwarfs the content term, which is why the content layer barely matters (F4)."""
    rows = [measured[run]["metrics"] for run in verdict.runs if run in measured]
    content = [row.get("share_end_content") for row in rows if isinstance(row.get("share_end_content"), float)]
    style = [row.get("share_end_style") for row in rows if isinstance(row.get("share_end_style"), float)]
    if not content or not style:
        return None

    def span(values):
        low, high = min(values) * 100, max(values) * 100
        return f"{low:.3g}%" if f"{low:.3g}" == f"{high:.3g}" else f"{low:.3g}–{high:.3g}%"

    return f"weighted loss at the end: content {span(content)}, style {span(style)}"
