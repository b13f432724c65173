"""Checking the config's findings at planning time (Snakemake's parse, before any job): a finding
whose check cannot be evaluated on its experiment's runs is refused with FindingError, the message
starting with the key that is wrong."""

from __future__ import annotations

from nst_pipeline.findings.runs import label_in, matches
from nst_pipeline.findings.verdict import reference_keys
from nst_pipeline.metric_table import PAIR_METRICS
from nst_pipeline.outcome import value_text


class FindingError(ValueError):
    """A finding in the config is unusable; the message starts with the key that is wrong."""


def _values_text_list(values: list) -> str:
    return ", ".join(value_text(v) for v in values)


def _check_metric(check: dict) -> None:
    if check["metric"] in PAIR_METRICS and check["kind"] != "alike":
        raise FindingError(f"check.metric: {check['metric']!r} is a pairwise distance; only kind 'alike' reads it")
    if check.get("gate") and check["kind"] != "best":
        raise FindingError("check.gate: only kind 'best' takes a gate")
    if "tolerance" in check and check["kind"] not in ("alike", "close"):
        raise FindingError("check.tolerance: only kinds 'alike' and 'close' take a tolerance")
    if "direction" in check and check["kind"] not in ("monotonic", "biggest_step"):
        raise FindingError("check.direction: only kinds 'monotonic' and 'biggest_step' take a direction")
    if "at" in check and check["kind"] == "close":
        raise FindingError("check.at: kind 'close' compares the two runs it selects (a, b); no 'at'")


def _over(check: dict, varied: list[str]) -> str:
    over = check.get("over")
    if over is None:
        if len(varied) != 1:
            raise FindingError(f"check.over: this experiment varies {', '.join(varied)}; say which the check reads")
        return varied[0]
    if over not in varied:
        raise FindingError(f"check.over: {over!r} is not varied by this experiment (it varies {', '.join(varied)})")
    return over


def _values_per_pair(check: dict, runs: dict[str, list[dict]]) -> dict[str, list]:
    """pair -> the values of `over` among the runs `where` selects, each once; refuses a value that
    two different runs share (the check could not tell which one it means)."""
    found = {}
    for pair, params_list in runs.items():
        selected = {}
        for params in params_list:
            if not matches(params, check.get("where")):
                continue
            label = value_text(params.get(check["over"]))
            if label in selected and selected[label] != params:
                differ = sorted(k for k in params if params[k] != selected[label].get(k))
                raise FindingError(
                    f"check.over: {check['over']} = {label} is in two runs of pair {pair} (they differ in "
                    f"{', '.join(differ)}); narrow them with check.where"
                )
            selected[label] = params
        found[pair] = [params[check["over"]] for params in selected.values()]
    return found


def _check_values(check: dict, values: list, pair: str) -> None:
    """The values a check names must be values the experiment runs (after `where`)."""
    kind = check["kind"]
    if not values:  # too few (but some) is the verdict's business: an experiment cut down to one value
        raise FindingError(f"check.where: selects no run for pair {pair}")
    named = {"best": [check.get("expect")], "biggest_step": check.get("expect") or []}.get(kind, [])
    for key, listed in (("expect", named), ("at", check.get("at") or [])):
        for value in listed:
            if not label_in(value, values):
                raise FindingError(
                    f"check.{key}: {check['over']} = {value_text(value)} is not a value this experiment runs "
                    f"(pair {pair}, after check.where: {_values_text_list(values) or 'none'})"
                )
    if kind in ("monotonic", "biggest_step"):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise FindingError(f"check.over: kind {kind} needs numeric values; {check['over']} has {values}")
    if kind == "biggest_step":
        order = [value_text(v) for v in sorted(values)]
        a, b = sorted(value_text(v) for v in check["expect"])
        positions = sorted(order.index(value_text(v)) for v in check["expect"])
        if positions[1] - positions[0] != 1:
            raise FindingError(f"check.expect: {a} and {b} are not neighbouring values of {check['over']} ({order})")


def _check_selectors(check: dict, keys: list[str], runs: dict, planned: dict, configured: set) -> None:
    """Each selector (close's a and b, a bound's run reference) must name a known experiment and, where
    that experiment is run, select exactly one run for every pair of this one."""
    for name in keys:
        selector = check[name]
        other = selector.get("experiment")
        if other is not None and other not in configured:
            raise FindingError(f"check.{name}.experiment: no experiment named {other!r}")
        pool = runs if other is None else planned.get(other)
        if pool is None:
            continue  # configured but not run: the verdict says so
        for pair in runs:
            found = {repr(sorted(p.items())) for p in pool.get(pair, []) if matches(p, selector.get("where"))}
            if len(found) != 1:
                raise FindingError(f"check.{name}.where: selects {len(found)} runs for pair {pair}; it must select one")


def validate_finding(finding: dict, varied: list[str], planned: dict, experiment: str, configured: set) -> dict:
    """A finding as the report evaluates it (check.over filled in); FindingError (message starting with
    the bad key) where the check cannot be evaluated on this experiment's runs. `planned`: experiment ->
    pair -> the parameters of its runs, for every experiment this invocation runs."""
    check = dict(finding["check"])
    _check_metric(check)
    runs = planned[experiment]
    if check["kind"] == "close":
        _check_selectors(check, ["a", "b"], runs, planned, configured)
        return finding | {"check": check}
    _check_selectors(check, reference_keys(check), runs, planned, configured)
    check["over"] = _over(check, varied)
    for pair, values in _values_per_pair(check, runs).items():
        _check_values(check, values, pair)
    return finding | {"check": check}
