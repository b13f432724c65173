"""The report's sentences on what one experiment's runs show, computed from their numbers only."""

from __future__ import annotations

from collections import Counter

from nst_pipeline.formatting import distinct, format_g, format_g_apart
from nst_pipeline.outcome import RunOutcome

# (varied parameter, the loss it weights): raising the weight should lower that loss
WEIGHT_LOSS = (("style_weight", "style"), ("content_weight", "content"), ("tv_weight", "tv"))
# parameters that change what a loss value measures: losses are not like for like across them
MEASURE_PARAMETERS = ("model", "weights", "content_layer", "style_layers", "height")


def _ratio(high: float, low: float) -> str:
    ratio = high / low
    if ratio < 1.1:
        return f"only {(ratio - 1) * 100:.2g}% above the lowest"
    return f"{ratio:.3g}× the lowest"


def summarize(runs: list[RunOutcome]) -> list[str]:
    """Plain sentences on what `runs` (one experiment's) show, computed from their numbers only."""
    if not runs:
        return ["No runs."]
    ok = [run for run in runs if run.finished]
    sentences = [_finished_sentence(runs, ok)]
    randoms = [run for run in ok if run.is_random]
    if randoms:
        sentences.append(
            f"{len(randoms)} of the finished runs used RANDOM (not pretrained) weights: their losses say "
            "nothing about style transfer."
        )
    pairs = distinct(run.pair for run in ok)
    for pair in pairs:
        group = [run for run in ok if run.pair == pair]
        prefix = f"{pair}: " if len(pairs) > 1 else ""
        pretrained = [run for run in group if not run.is_random]
        if pretrained and len(pretrained) < len(group):
            sentences.append(
                f"{prefix}The comparisons below leave out the {len(group) - len(pretrained)} random-weights "
                f"run(s) and use the {len(pretrained)} with pretrained weights."
            )
            group = pretrained
        sentences.extend(prefix + s for s in _pair_sentences(group))
    for run in ok:
        if run.record.get("stopped_early"):
            planned = run.parameters.get("iterations")
            of = f" of {planned}" if planned else ""
            sentences.append(
                f"{run.display_label} stopped early, after iteration {run.record.get('iterations_done')}{of}: "
                "L-BFGS made no further progress."
            )
    return sentences


def _finished_sentence(runs: list[RunOutcome], ok: list[RunOutcome]) -> str:
    text = f"{len(ok)} of {len(runs)} runs finished"
    counts = Counter(run.status for run in runs)
    not_ok = len(runs) - len(ok)
    if not_ok:
        parts = [f"{counts[s]} {s}" for s in ("failed", "missing") if counts[s]]
        other = not_ok - counts["failed"] - counts["missing"]
        if other > 0:  # "ok" on disk but without final losses
            parts.append(f"{other} without results")
        text += " (" + ", ".join(parts) + ")"
    return text + "."


def _pair_sentences(group: list[RunOutcome]) -> list[str]:
    if len(group) == 1:
        run = group[0]
        return [
            f"Only one finished run ({run.display_label}): final style loss {format_g(run.final('style'))}, "
            f"content loss {format_g(run.final('content'))}."
        ]
    out = [s for kind in ("style", "content") for s in _extremes_sentence(group, kind)]
    differing = [
        name
        for name in MEASURE_PARAMETERS
        if len(distinct(r.weights_key if name == "weights" else r.parameters.get(name) for r in group)) > 1
    ]
    if differing:
        out.append(
            f"These runs differ in {', '.join(differing)}, so their losses are measured differently: "
            "the comparison above is not like for like."
        )
    for parameter, kind in WEIGHT_LOSS:
        out.extend(_monotonic_sentences(group, parameter, kind))
    out.extend(_time_sentence(group))
    return out


def _extremes_sentence(group: list[RunOutcome], kind: str) -> list[str]:
    scored = [(run.final(kind), run) for run in group if run.final(kind) is not None]
    if len(scored) < 2:
        return []
    low_value, low = min(scored, key=lambda item: item[0])
    high_value, high = max(scored, key=lambda item: item[0])
    if low_value == high_value:
        return [f"All {len(scored)} runs ended with the same final {kind} loss ({format_g(low_value)})."]
    low_text, high_text = format_g_apart(low_value, high_value)
    text = f"Lowest final {kind} loss: {low.display_label} ({low_text}); highest: {high.display_label} ({high_text})"
    return [text + (f", {_ratio(high_value, low_value)}." if low_value > 0 else "; the lowest is 0.")]


def _time_sentence(group: list[RunOutcome]) -> list[str]:
    times = [(run, run.record.get("time_per_iteration_s")) for run in group]
    times = [(run, t) for run, t in times if isinstance(t, (int, float))]
    if len(times) < 2:
        return []
    fast, slow = min(times, key=lambda item: item[1]), max(times, key=lambda item: item[1])
    if slow[1] <= 0 or fast[1] == slow[1]:
        return []
    return [
        f"Time per iteration: fastest {fast[0].display_label} ({format_g(fast[1])} s), "
        f"slowest {slow[0].display_label} ({format_g(slow[1])} s)."
    ]


def _monotonic_sentences(group: list[RunOutcome], parameter: str, kind: str) -> list[str]:
    """Does loss `kind` fall as `parameter` grows, among runs equal in every other parameter?"""
    buckets: dict[str, list[RunOutcome]] = {}
    for run in group:
        params = run.parameters
        if not isinstance(params.get(parameter), (int, float)) or run.final(kind) is None:
            continue
        others = {k: v for k, v in params.items() if k != parameter}
        key = repr(sorted(others.items())) + repr(run.weights_key)
        buckets.setdefault(key, []).append(run)
    out = []
    for runs in buckets.values():
        values = [float(run.parameters[parameter]) for run in runs]
        if len(set(values)) < 2 or len(set(values)) != len(values):
            continue
        runs = sorted(runs, key=lambda run: float(run.parameters[parameter]))
        xs = [float(run.parameters[parameter]) for run in runs]
        ys = [run.final(kind) for run in runs]
        rises = [(i, i + 1) for i in range(len(ys) - 1) if ys[i + 1] >= ys[i]]
        first, last = format_g_apart(ys[0], ys[-1])
        span = f"{parameter} {xs[0]:g} → {xs[-1]:g}: {kind} loss {first} → {last}"
        if not rises:
            word = "falls monotonically" if len(xs) > 2 else "falls"
            out.append(f"Final {kind} loss {word} as {parameter} grows ({span}).")
        else:
            i, j = rises[0]
            more = f" (and at {len(rises) - 1} more step(s))" if len(rises) > 1 else ""
            before, after = format_g_apart(ys[i], ys[j])
            out.append(
                f"Final {kind} loss does not fall monotonically as {parameter} grows: it goes from "
                f"{before} at {parameter} = {xs[i]:g} to {after} at {parameter} = {xs[j]:g}{more}."
            )
    return out
