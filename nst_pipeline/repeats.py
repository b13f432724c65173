"""Noise repeats: the pipeline measures its own chance, at the scale each finding is judged at.

A margin says how far apart two runs' numbers must be before a finding may call them different. The
fixed table (nst_pipeline/metric_table.py) measured the chance once, at 128 px x 100 iterations, from
three samples; findings are judged at 128 px x 20 (the demo), 400 px x 1,000 (`make reference`), or at
whatever scale a config sets. So the planner adds, for each scale findings are judged at, a few repeat
runs - ordinary runs: exact ids, cached, shared with the experiments that have them - and the report
job turns their spread into the margins there (nst_pipeline.noise).

The scale (SCALE_PARAMETERS): what sets the size of chance in a run - the image size and the budget
(height, iterations, coarse-to-fine stages), the network and its arithmetic (model, weights, pooling,
precision) and the optimiser (optimizer, learning_rate). Not in it: what experiments vary within one
scale (init, loss weights, layers, colour control, blends, style scale, region maps) - a repeat set
per value would repeat every run - nor noise_units, which only noise inits have (the engine sets it
to "normalised" for the others; the gaussian repeats take the config's default), nor seed and
init_nudge, which are the chance itself.

A finding is judged at the scale its runs share. A finding across scales (F6: networks; F7a: max vs
average pooling) is judged at the scale most of its runs have, ties going to the first run it reads
(its grid's first value: the experiment's default in this project's configs); its other runs are
assumed to share that chance, as the fixed table assumes for every run. Runs with random weights count
for nothing (their findings are never judged): a finding that reads only such runs gets no repeats.

The repeats at a scale, for each pair of the findings judged there, at the config's `defaults`:
  gaussian  init_method gaussian, seed s, s + 1, ..., s + N (s: the defaults' seed, 0 unless set)
  content   init_method content, init_nudge 0, 1, ..., N (nst.images.nudge: every start value one
            float step off, the chance a second machine gives a deterministic init: BENCHMARKS.md)
N = noise_repeats (config; default 3): N + 1 samples of each kind. The first of each (seed s, nudge 0)
is usually a run an experiment has already (init's gaussian and content runs), so N new runs per kind.
They are shown as the experiment NOISE_EXPERIMENT: a grid per pair, one row per scale and kind; its
measure_pairs job gives the content repeats' pairwise perceptual distances.

Pure Python at Snakemake's parse time (no torch beyond what the planner imports already).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from nst.naming import weights_tag
from nst.params import DEFAULT_LEARNING_RATE
from nst_pipeline.findings.runs import RunView
from nst_pipeline.findings.verdict import Unavailable, check_metrics, runs_read
from nst_pipeline.metric_table import NOISE_SCALE
from nst_pipeline.paths import split_pair

NOISE_EXPERIMENT = "noise"
SCALE_PARAMETERS = (
    "height",
    "iterations",
    "stage_heights",
    "stage_iterations",
    "model",
    "weights",
    "pooling",
    "precision",
    "optimizer",
    "learning_rate",
)
DEFAULT_REPEATS = 3  # the schema's default (workflow/schemas/config.schema.yaml)
# Above this a repeat set costs more than the experiments it serves (each repeat is a run per kind,
# scale and pair); 20 already pins a 95% bound on the spread within 1.4x of the sample's.
MAX_REPEATS = 20
KINDS = ("gaussian", "content")
KIND_WORDS = {"gaussian": "gaussian init, another seed", "content": "content init, nudged by 64 float steps"}
NOISE_CLAIM = (
    "Not an experiment: the pipeline's own noise. Each row repeats one run with nothing changed but chance "
    "- gaussian init with other seeds, content init with its start image nudged by 64 float steps - at a "
    "scale the findings are judged at. Their spread is the findings' noise margin there (README, 'Verdict "
    "rules'); two tiles of a row differ by chance alone."
)


class RepeatsError(ValueError):
    """noise_repeats or a finding's margin is unusable; the message starts with the key that is wrong."""


def repeat_count(config: dict) -> int:
    """The config's noise_repeats, checked: an integer 0..MAX_REPEATS (0: none, the fixed table)."""
    value = config.get("noise_repeats", DEFAULT_REPEATS)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RepeatsError(f"noise_repeats: must be an integer 0..{MAX_REPEATS} (0: the fixed table), got {value!r}")
    if value < 0:
        raise RepeatsError(f"noise_repeats: must be 0 (none: the fixed table) or more, got {value}")
    if value > MAX_REPEATS:
        raise RepeatsError(
            f"noise_repeats: {value} is more than {MAX_REPEATS} (each repeat is one run per kind, scale and pair; "
            f"{MAX_REPEATS} already pin the spread's 95% bound within 1.4x)"
        )
    return value


def scale_of(params: dict) -> dict:
    """The scale a run was made at: its SCALE_PARAMETERS."""
    return {name: params[name] for name in SCALE_PARAMETERS}


def scale_label(scale: dict) -> str:
    """A scale in words, unique per scale (every parameter away from its default is named), e.g.
    "128 px × 20 iterations, vgg19 (bundled weights)" or "..., vgg19 (bundled weights), avg pooling"."""
    words = f"{scale['height']} px × {scale['iterations']:,} iterations, {scale['model']} "
    words += f"({weights_tag(scale['weights'])} weights)"
    if scale["stage_heights"]:
        stages = "/".join(str(h) for h in [*scale["stage_heights"], scale["height"]])
        words += f", stages {stages} px × {'/'.join(str(n) for n in scale['stage_iterations'])}"
    if scale["pooling"] != "max":
        words += f", {scale['pooling']} pooling"
    if scale["precision"] != "fp32":
        words += f", {scale['precision']}"
    if scale["optimizer"] != "lbfgs" or scale["learning_rate"] != DEFAULT_LEARNING_RATE[scale["optimizer"]]:
        words += f", {scale['optimizer']} lr {scale['learning_rate']:g}"
    return words


def judged_scale(views: list[RunView]) -> tuple[dict | None, str]:
    """(the scale a finding reading `views` is judged at, why) - None where no run counts (module
    docstring: most runs' scale, ties to the first run; random weights count for nothing)."""
    counted = [scale_of(view.parameters) for view in views if view.parameters.get("weights") != "random"]
    if not counted:
        return None, "its runs use random weights" if views else "it reads no run here"
    labels = [scale_label(scale) for scale in counted]
    tally = Counter(labels)
    best = max(tally.values())
    chosen = next(label for label in labels if tally[label] == best)  # ties: the first run's
    others = sorted(set(labels) - {chosen})
    why = "the scale of its runs" if not others else f"the scale of most of its runs (also reads: {'; '.join(others)})"
    return counted[labels.index(chosen)], why


@dataclass
class NoisePlan:
    """What the planner decided: the repeats per scale and pair, and each finding's scale. As JSON
    (as_json) it is the report job's input (workflow/rules/report.smk: params.noise)."""

    repeats: int
    # scale label -> {"parameters": scale, "pairs": {pair: {kind: [run names, base first]}}}
    scales: dict[str, dict] = field(default_factory=dict)
    # finding id -> pair -> {"scale": label or None (no repeats: the fixed table), "reason": words}
    findings: dict[str, dict[str, dict]] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "repeats": self.repeats,
            "experiment": NOISE_EXPERIMENT if self.scales else None,
            "scales": self.scales,
            "findings": self.findings,
        }


Resolve = Callable[[str, str, dict, str], object]  # plan._Resolver.run: (content, style, params, where) -> Run


def plan_repeats(config: dict, experiments: dict, runs: dict, resolve: Resolve) -> tuple[NoisePlan, dict | None]:
    """The repeat runs of every scale the planned findings are judged at, added to `runs` (each once),
    and the grid entries of NOISE_EXPERIMENT ({pair: entries}; None without repeats). `experiments`:
    plan.Experiment by name, findings checked; `resolve`: the planner's run resolver."""
    count = repeat_count(config)
    noise = NoisePlan(count)
    views = {
        name: {
            pair: [RunView(run, runs[run].params, "ok") for run in dict.fromkeys(e["run"] for e in entries)]
            for pair, entries in experiment.runs.items()
        }
        for name, experiment in experiments.items()
    }
    wanted: dict[str, dict] = {}  # scale label -> {"parameters", "pairs": [pair, ...]}
    for name, experiment in experiments.items():
        for index, finding in enumerate(experiment.findings):
            for pair in experiment.pairs:
                scale, reason = _finding_scale(finding["check"], views, name, pair, count)
                label = scale_label(scale) if scale else None
                noise.findings.setdefault(finding["id"], {})[pair] = {"scale": label, "reason": reason}
                if scale is None:
                    _refuse_marginless(finding, f"experiments.{name}.findings[{index}]", reason)
                    continue
                entry = wanted.setdefault(label, {"parameters": scale, "pairs": []})
                if pair not in entry["pairs"]:
                    entry["pairs"].append(pair)
    if not wanted:
        return noise, None
    if NOISE_EXPERIMENT in config["experiments"]:
        raise RepeatsError(
            f"experiments.{NOISE_EXPERIMENT}: the name is the noise repeats' grid (noise_repeats {count}); "
            "rename the experiment"
        )
    defaults = dict(config.get("defaults") or {})
    entries: dict[str, list[dict]] = {}
    for row_base, (label, wanted_scale) in enumerate(wanted.items()):
        noise.scales[label] = {"parameters": wanted_scale["parameters"], "pairs": {}}
        for pair in wanted_scale["pairs"]:
            kinds = _repeat_runs(defaults, wanted_scale["parameters"], pair, count, label, runs, resolve)
            noise.scales[label]["pairs"][pair] = {kind: [run for run, _ in found] for kind, found in kinds.items()}
            prefix = f"{_short_label(wanted_scale['parameters'], wanted)}: " if len(wanted) > 1 else ""
            for offset, (kind, found) in enumerate(kinds.items()):
                entries.setdefault(pair, []).extend(
                    {
                        "run": run,
                        "label": prefix + _entry_label(kind, varied),
                        "row": 2 * row_base + offset,
                        "varied_values": varied,
                    }
                    for run, varied in found
                )
    return noise, entries


def _short_label(scale: dict, wanted: dict[str, dict]) -> str:
    """A grid tile's words for a scale among several: only the parameters in which they differ."""
    differ = [name for name in SCALE_PARAMETERS if len({repr(w["parameters"][name]) for w in wanted.values()}) > 1]
    return " ".join(weights_tag(scale[name]) if name == "weights" else str(scale[name]) for name in differ)


def _finding_scale(check: dict, views: dict, experiment: str, pair: str, count: int) -> tuple[dict | None, str]:
    if count == 0:
        return None, "noise_repeats: 0"
    others = lambda name: views.get(name, {}).get(pair)  # noqa: E731
    try:
        read = runs_read(check, views[experiment][pair], others)
    except Unavailable:
        read = []  # a run it names is in an experiment not run: the verdict says so
    return judged_scale(read)


def _refuse_marginless(finding: dict, where: str, reason: str) -> None:
    """A finding whose metric has no fixed-table noise scale needs repeats: refused without any."""
    check = finding["check"]
    for metric in check_metrics(check):
        tolerated = metric == check["metric"] and "tolerance" in check
        if metric not in NOISE_SCALE and not tolerated:
            key = "check.metric" if metric == check["metric"] else "check.gate.metric"
            raise RepeatsError(
                f"{where}.{key}: finding {finding['id']} reads {metric!r}, which has no fixed-table noise scale "
                f"(nst_pipeline/metric_table.py), and gets no noise repeats to measure one ({reason}): "
                "set noise_repeats above 0, or read a metric the table has"
            )


def _repeat_runs(
    defaults: dict, scale: dict, pair: str, count: int, label: str, runs: dict, resolve: Resolve
) -> dict[str, list[tuple[str, dict]]]:
    """kind -> [(run name, its varied values)] of one scale and pair, the base run first."""
    content, style = split_pair(pair)
    base = defaults | scale | {"init_nudge": 0}
    seed = int(defaults.get("seed", 0))
    varied = {
        "gaussian": [{"init_method": "gaussian", "seed": seed + k} for k in range(count + 1)],
        "content": [{"init_method": "content", "init_nudge": k} for k in range(count + 1)],
    }
    found: dict[str, list[tuple[str, dict]]] = {}
    for kind in KINDS:
        for values in varied[kind]:
            where = f"noise_repeats ({label}, pair {pair}: {_entry_label(kind, values)})"
            run = resolve(content, style, base | values, where)
            runs.setdefault(run.name, run)
            found.setdefault(kind, []).append((run.name, values))
    return found


def _entry_label(kind: str, values: dict) -> str:
    if kind == "gaussian":
        return f"gaussian, seed {values['seed']}"
    return "content" if values["init_nudge"] == 0 else f"content, nudge {values['init_nudge']}"


def pairwise_runs(noise: dict, pair: str) -> list[str]:
    """The runs of the noise grid's pairwise job for `pair`: the content repeats of every scale (their
    distances are the perceptual chance level; the gaussian repeats' layouts differ, nst_pipeline.noise)."""
    return [
        run for entry in (noise.get("scales") or {}).values() for run in entry["pairs"].get(pair, {}).get("content", [])
    ]
