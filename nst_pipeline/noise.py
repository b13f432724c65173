"""Margins from the noise repeats: the chance spread measured at each scale findings are judged at.

The planner's repeats (nst_pipeline.repeats) are runs that differ only by chance: gaussian inits with
other seeds, content inits nudged by 64 float steps. Here, in the report job, their yardstick numbers
(results/metrics/<run>.json, every budget B/8 ... B) become a margin per scale, budget and metric:

  spread    per-run metrics: the sample standard deviation of each kind's repeats, pooled over the
            pairs of that scale (each pair about its own mean: s^2 = sum of squared deviations /
            sum of (n_pair - 1)). Pairwise perceptual: the distances d between two content repeats
            (noise inits end in other layouts: 0.8-1.0 apart, no use as a chance level); a distance is
            a difference, so sqrt(mean d^2 / 2) is the spread of one run (for a scalar the mean
            squared difference of all pairs is exactly 2 s^2).
  bound     s is estimated from a handful of samples (noise_repeats + 1 per kind): a small sample
            often underestimates the spread. The margin uses the one-sided 95% upper confidence bound
            on the true spread: (dof s^2 / sigma^2) follows chi-square(dof), so
            sigma <= s sqrt(dof / chi2.ppf(0.05, dof)) with 95% confidence - 2.92 s with 3 degrees
            of freedom (4 samples, the default), 1.37 s with 19.
  margin    DIFFERENCE_FACTOR x the bound: the difference of two runs has spread sqrt(2) sigma, and
            two of those is a two-sided ~95% band: 2 sqrt(2) = 2.83. The larger of the two kinds' margins
            (noise inits and content inits), as the fixed table took the largest spread.

The fixed table's rule (3 noise scales: 2.83 rounded up "because the spread comes from three samples")
is this rule with the small-sample correction guessed; here it is computed. A finding judged at a scale
without repeats (noise_repeats: 0, random weights), or at a budget its repeats were not measured at,
uses the fixed table and says so; a metric with neither has no margin and is not judged.
Pure functions over the measure jobs' JSON (scipy for the chi-square quantile).
"""

from __future__ import annotations

import math

from scipy.stats import chi2

from nst_pipeline.findings import FINAL, budget_label
from nst_pipeline.findings.checks import fixed_margin
from nst_pipeline.findings.verdict import check_metrics
from nst_pipeline.metric_table import NOISE_SCALE, PAIR_METRICS, REPEAT_METRICS
from nst_pipeline.repeats import KINDS

CONFIDENCE = 0.95
DIFFERENCE_FACTOR = 2.0 * math.sqrt(2.0)
MEASURED = "measured"
KIND_WORDS = {"gaussian": "gaussian seeds", "content": "content nudges"}
RULE = (
    "margin = 2√2 × the one-sided 95% upper confidence bound on the chance spread (chi-square, from the "
    "repeats' sample SD), the larger of gaussian-seed and content-nudge repeats; pairwise perceptual: from "
    "the distances between content repeats (spread sqrt(mean d² / 2))"
)


def upper_bound(spread: float, dof: int) -> float:
    """The one-sided CONFIDENCE upper confidence bound on a standard deviation estimated as `spread`
    with `dof` degrees of freedom."""
    return spread * math.sqrt(dof / chi2.ppf(1.0 - CONFIDENCE, dof))


def _budgets(payload: dict) -> dict[float, dict]:
    """fraction -> a run's metrics row there (a measure JSON's budgets; the final one at FINAL)."""
    found = {float(b["fraction"]): b["metrics"] for b in payload.get("budgets", [])}
    if payload.get("metrics") is not None:
        found[FINAL] = payload["metrics"]
    return found


def _finite(value) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _pooled(groups: list[list[float]]) -> tuple[float, int, int] | None:
    """(pooled SD, degrees of freedom, samples) of groups each about its own mean; None below 1 dof."""
    groups = [g for g in groups if len(g) >= 2]
    dof = sum(len(g) - 1 for g in groups)
    if dof < 1:
        return None
    squares = sum(sum((x - sum(g) / len(g)) ** 2 for x in g) for g in groups)
    return math.sqrt(squares / dof), dof, sum(len(g) for g in groups)


def _pooled_distances(groups: list[tuple[int, list[float]]]) -> tuple[float, int, int] | None:
    """As _pooled, from each pair's n runs and their n(n-1)/2 distances: s^2 = sum d^2 / (n (n - 1))."""
    groups = [(n, d) for n, d in groups if n >= 2 and len(d) == n * (n - 1) // 2]
    dof = sum(n - 1 for n, _ in groups)
    if dof < 1:
        return None
    weighted = sum((n - 1) * sum(x * x for x in d) / (n * (n - 1)) for n, d in groups)
    return math.sqrt(weighted / dof), dof, sum(n for n, _ in groups)


def _record(metric: str, scale: str, kind: str, found: tuple[float, int, int], runs: list[str]) -> dict:
    spread, dof, samples = found
    upper = upper_bound(spread, dof)
    value = DIFFERENCE_FACTOR * upper
    fixed = fixed_margin(metric)["value"]
    text = (
        f"margin measured here: {KIND_WORDS[kind]} at {scale}, {samples} runs, spread {spread:.3g} "
        f"(95% bound {upper:.3g}) × 2√2 = {value:.3g}"
    )
    return {
        "metric": metric,
        "value": float(f"{value:.6g}"),
        "source": MEASURED,
        "scale": scale,
        "kind": kind,
        "spread": float(f"{spread:.6g}"),
        "upper": float(f"{upper:.6g}"),
        "samples": samples,
        "dof": dof,
        "runs": runs,
        "fixed": fixed,
        "text": text,
    }


def scale_margins(
    scale: str, pairs: dict[str, dict[str, list[str]]], measured: dict, pairwise: dict[str, dict[float, list[dict]]]
) -> dict[float, dict[str, dict]]:
    """fraction -> metric -> the measured margin record at one scale. `pairs`: pair -> kind -> the
    repeats' run names (repeats.NoisePlan.scales[scale]["pairs"]); `measured`: run -> its measure JSON,
    for the runs that finished (others' files are stale); `pairwise`: pair -> fraction -> the noise
    experiment's measure_pairs rows. A metric with under 2 samples of every kind has no record."""
    rows = {
        run: _budgets(measured[run])
        for kinds in pairs.values()
        for runs in kinds.values()
        for run in runs
        if run in measured
    }
    fractions = sorted({fraction for budgets in rows.values() for fraction in budgets})
    result: dict[float, dict[str, dict]] = {}
    for fraction in fractions:
        here: dict[str, dict] = {}
        for metric in REPEAT_METRICS:
            candidates = []
            for kind in KINDS:
                groups, used = [], []
                for kinds in pairs.values():
                    values = [
                        (run, _finite((rows.get(run, {}).get(fraction) or {}).get(metric))) for run in kinds[kind]
                    ]
                    groups.append([v for _, v in values if v is not None])
                    used += [run for run, v in values if v is not None]
                found = _pooled(groups)
                if found:
                    candidates.append(_record(metric, scale, kind, found, used))
            if candidates:
                here[metric] = max(candidates, key=lambda record: record["value"])
        for metric in PAIR_METRICS:
            record = _pairwise_record(metric, scale, pairs, pairwise, fraction, set(rows))
            if record:
                here[metric] = record
        result[fraction] = here
    return result


def _pairwise_record(
    metric: str, scale: str, pairs: dict, pairwise: dict, fraction: float, finished: set
) -> dict | None:
    """The content repeats' pairwise distances at `fraction`, as a margin record (None: too few)."""
    groups, used = [], []
    for pair, kinds in pairs.items():
        runs = [run for run in kinds["content"] if run in finished]
        wanted = {frozenset((a, b)) for i, a in enumerate(runs) for b in runs[i + 1 :]}
        distances = [
            value
            for row in (pairwise.get(pair) or {}).get(fraction, [])
            if frozenset((row["a"], row["b"])) in wanted and (value := _finite(row.get(metric))) is not None
        ]
        groups.append((len(runs), distances))
        used += runs
    found = _pooled_distances(groups)
    return _record(metric, scale, "content", found, used) if found else None


def all_margins(noise: dict, measured: dict, pairwise: dict[str, dict[float, list[dict]]]) -> dict[str, dict]:
    """scale -> fraction -> metric -> measured margin record, for every scale of the noise plan."""
    return {
        scale: scale_margins(scale, entry["pairs"], measured, pairwise)
        for scale, entry in (noise.get("scales") or {}).items()
    }


def finding_margins(noise: dict, margins: dict[str, dict], finding: dict, pair: str):
    """The margins of one finding and pair, per budget: fraction -> metric -> record (for
    findings.evaluate). Measured at the finding's scale where its repeats have the metric at that
    budget; else the fixed table's, saying why."""
    judged = ((noise.get("findings") or {}).get(finding["id"]) or {}).get(pair) or {}
    scale = judged.get("scale")
    metrics = check_metrics(finding["check"])

    def at(fraction: float) -> dict[str, dict]:
        found = {}
        for metric in metrics:
            record = ((margins.get(scale) or {}).get(fraction) or {}).get(metric) if scale else None
            if record is None:
                record = fixed_margin(metric) | {"scale": scale}
                if scale is None:
                    why = judged.get("reason") or "no noise repeats planned"
                else:
                    why = f"its repeats at {scale} have no {metric} at {budget_label(fraction)}"
                record["text"] += f" ({why})"
            found[metric] = record
        return found

    return at


def noise_table(noise: dict, margins: dict[str, dict]) -> list[dict]:
    """Per scale, the margins at each budget as the scorecard shows them: [{"scale", "pairs", "repeats",
    "budgets": [{"fraction", "budget", "rows": [{metric, kind, spread, samples, dof, margin, fixed}]}]}]."""
    tables = []
    for scale, entry in (noise.get("scales") or {}).items():
        budgets = []
        for fraction, by_metric in sorted((margins.get(scale) or {}).items()):
            rows = [
                {
                    "metric": metric,
                    "kind": record["kind"],
                    "kind_words": KIND_WORDS[record["kind"]],
                    "spread": record["spread"],
                    "samples": record["samples"],
                    "dof": record["dof"],
                    "margin": record["value"],
                    "fixed": record["fixed"],
                }
                for metric, record in by_metric.items()
            ]
            budgets.append({"fraction": fraction, "budget": budget_label(fraction), "rows": rows})
        tables.append(
            {"scale": scale, "pairs": sorted(entry["pairs"]), "repeats": noise.get("repeats"), "budgets": budgets}
        )
    return tables


def fixed_table() -> dict[str, float]:
    """The fixed table's margins, metric -> value (for the scorecard's 'fixed' column)."""
    return {metric: fixed_margin(metric)["value"] for metric in NOISE_SCALE}
