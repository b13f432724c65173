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
from nst_pipeline import findings, noise, paths
from nst_pipeline.formatting import format_g
from nst_pipeline.metric_table import NOISE_SCALE, words
from nst_pipeline.outcome import RunOutcome

# The study's scale: its figures are snapshots at its code base's defaults, 1000 L-BFGS iterations at
# 400 px - stylize()'s defaults too (nst.api; a test ties the two). Not imported from the engine: the
# report job's code fingerprint would then cover the whole engine.
STUDY_SCALE = (400, 1000)


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


def load_pairs(experiment: str, pair: str) -> dict[float, list[dict]] | None:
    """fraction of the budget -> the measure_pairs rows there (the final budget's at 1.0)."""
    payload = _read_json(paths.pair_metrics(experiment, pair))
    if payload is None:
        return None
    budgets = {float(b["fraction"]): b["pairs"] for b in payload.get("budgets", [])}
    return budgets | {findings.FINAL: payload["pairs"]}


def run_view(outcome: RunOutcome, measured: dict | None) -> findings.RunView:
    """A run as the checks see it: its metrics at the final budget and at each milestone measured."""
    record = outcome.record if outcome.status == "ok" else None
    # a failed or missing run's metrics file is from an earlier attempt: not this run's numbers
    measured = (measured or {}) if outcome.status == "ok" else {}
    budgets = {float(b["fraction"]): b["metrics"] for b in measured.get("budgets", [])}
    iterations = {float(b["fraction"]): b["iteration"] for b in measured.get("budgets", [])}
    if measured.get("metrics") is not None:
        budgets[findings.FINAL] = measured["metrics"]
    if record:
        iterations.setdefault(findings.FINAL, record.get("iterations_done"))
    return findings.RunView(
        run=outcome.run,
        parameters=outcome.parameters,
        status=outcome.status,
        random=outcome.is_random,
        metrics=measured.get("metrics"),
        budgets=budgets,
        iterations=iterations,
        convergence=findings.convergence(record) if record else None,
    )


def evaluate_plan(
    plan: dict,
    outcomes: dict[str, dict[str, list[RunOutcome]]],
    measured: dict,
    noise_plan: dict | None = None,
    margins: dict | None = None,
) -> list:
    """Every finding of every experiment, once per pair: a list of findings.Verdict. `noise_plan`,
    `margins`: the noise repeats' plan and the margins measured from them (nst_pipeline.noise); without
    them every margin is the fixed table's."""
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
                        margins=noise.finding_margins(noise_plan, margins or {}, finding, pair) if noise_plan else None,
                    )
                )
    return verdicts


def judge_heights(measured: dict) -> list[int]:
    return sorted({payload["judge"]["height"] for payload in measured.values()})


def rules() -> dict:
    """The verdict rules, as numbers (findings.json and the report say them)."""
    return {
        "noise_multiple": findings.NOISE_MULTIPLE,
        "noise_scale": dict(NOISE_SCALE),
        "margins": {
            metric: float(f"{findings.margin(metric):.6g}")  # 0.027, not 0.026999999999999996
            for metric in NOISE_SCALE
        },
        "margin_rule": noise.RULE,
        "settled": "the verdict at B/2 equals the verdict at B, both decided by the numbers",
        "loss_fall_information": {"tail_fraction": findings.CONVERGENCE_TAIL, "flag_fall": findings.CONVERGED_FALL},
    }


def judged_scale(outcomes: list[RunOutcome], measured: dict) -> dict:
    """The scale the verdicts were judged at - the runs' heights and iterations, the judge height - and
    whether that is the study's own (its code base's defaults, which are stylize()'s: nst.api)."""
    params = [run.parameters for run in outcomes if run.parameters]
    heights = sorted({p["height"] for p in params if p.get("height")})
    iterations = sorted({p["iterations"] for p in params if p.get("iterations")})
    study = {"height": STUDY_SCALE[0], "iterations": STUDY_SCALE[1]}
    at_study_scale = heights == [study["height"]] and iterations == [study["iterations"]]
    return {
        "heights": heights,
        "iterations": iterations,
        "judge_heights": judge_heights(measured),
        "study": study,
        "is_study_scale": at_study_scale,
    }


def scale_text(scale: dict) -> str:
    """One sentence: the scale judged, and whether it is the study's."""
    size = " / ".join(f"{h} px" for h in scale["heights"]) or "—"
    steps = " / ".join(f"{n:,}" for n in scale["iterations"]) or "—"
    judge = " / ".join(f"{h} px" for h in scale["judge_heights"]) or "—"
    study = scale["study"]
    where = (
        "the study's own scale"
        if scale["is_study_scale"]
        else f"a PREVIEW, not the study's scale ({study['height']} px × {study['iterations']:,} iterations)"
    )
    return f"Judged at {size} × {steps} iterations (judge height {judge}): {where}."


def _finite(value):
    """JSON has no NaN: None instead (findings.json must load in any JSON reader)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def noise_section(noise_plan: dict | None, margins: dict | None) -> dict:
    """findings.json's "noise": the repeats per scale, the margins measured from them at each budget
    beside the fixed table's, the rule, and which scale each finding was judged at."""
    noise_plan = noise_plan or {}
    return {
        "repeats": noise_plan.get("repeats", 0),
        "rule": noise.RULE,
        "confidence": noise.CONFIDENCE,
        "difference_factor": float(f"{noise.DIFFERENCE_FACTOR:.6g}"),
        "fixed_table": noise.fixed_table(),
        "scales": noise.noise_table(noise_plan, margins or {}),
        "runs": {scale: entry["pairs"] for scale, entry in (noise_plan.get("scales") or {}).items()},
        "findings": noise_plan.get("findings") or {},
    }


def write_findings(
    verdicts: list, measured: dict, out: Path, scale: dict | None = None, noise_margins: dict | None = None
) -> None:
    """results/findings.json; `noise_margins`: its "noise" section (noise_section), where there is one."""
    payload = {
        "judge_heights": judge_heights(measured),
        "scale": scale,
        "rules": rules(),
        "noise": noise_margins or noise_section(None, None),
        "counts": {state: sum(v.verdict == state for v in verdicts) for state in findings.VERDICTS},
        "settled": {
            "settled": sum(v.settled is True for v in verdicts),
            "unsettled": sum(v.settled is False for v in verdicts),
            "unknown": sum(v.settled is None for v in verdicts),
        },
        "findings": [asdict(verdict) for verdict in verdicts],
    }
    text = json.dumps(_finite(payload), indent=1, allow_nan=False) + "\n"
    atomic_write_bytes(Path(out), text.encode("utf-8"))


# ---------------------------------------------------------------- the scorecard's "our numbers"


def numbers_text(verdict) -> str:
    """One line with the numbers behind a verdict: the metric per value, the gate, the noise margin."""
    numbers = verdict.numbers
    if not numbers:
        return "no numbers (runs missing)"
    parts = [f"{words(numbers['metric'])}: "]
    parts.append(" · ".join(f"{label} {format_g(value)}" for label, value in numbers["values"].items()))
    gate = numbers.get("gate")
    if gate:
        bounds = " ".join(f"{word} {gate[key]:g}" for word, key in (("≥", "min"), ("≤", "max")) if key in gate)
        values = " · ".join(f"{label} {format_g(v)}" for label, v in gate["values"].items())
        parts.append(f"; gate {gate['metric']} {bounds}: {values}")
    if "difference" in numbers:
        parts.append(f"; difference {format_g(numbers['difference'])}")
    parts.append(margin_text(verdict))
    return "".join(parts)


def margin_text(verdict) -> str:
    """ "; margin 0.03 (margin measured here)", or the check's own tolerance where it has one."""
    numbers = verdict.numbers
    if "tolerance" in verdict.check:
        return f"; tolerance {format_g(numbers['margin'])} (the check's own)"
    source = getattr(verdict, "margin_source", "")
    return f"; margin {format_g(numbers['margin'])}" + (f" ({source})" if source else "")


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
