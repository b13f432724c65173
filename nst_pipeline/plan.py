"""The experiment matrix: config.yaml -> one run per unique parameter set, grouped for grids.

Pure Python (no Snakemake), so every piece is testable on its own; workflow/rules/common.smk calls
plan_experiments() once at parse time. Each run's output path is derived from all parameters that
determine its result (nst.naming.run_id), so a run shared by several experiments - the all-defaults
run, say - is one job, computed once.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from nst.api import RESULT_PARAMETERS, check_run
from nst.errors import NSTInputError
from nst.hardware import check_bf16
from nst.images import reuse_decoded
from nst.naming import run_id
from nst.params import sole_style
from nst_pipeline.findings import FindingError, validate_finding
from nst_pipeline.paths import PAIR_SEPARATOR, pair_name, run_name, split_run
from nst_pipeline.repeats import NOISE_CLAIM, NOISE_EXPERIMENT, RepeatsError, plan_repeats


class ConfigError(NSTInputError):
    """The pipeline configuration is unusable; the message names the key or file."""


@dataclass(frozen=True)
class Run:
    name: str  # "<content>__<style>/<run_id>" (nst_pipeline.paths.run_name)
    content: str
    style: str | list[str]  # a blend: several style images, weighted by params["style_blend_weights"]
    params: dict  # result-determining stylize() parameters, resolved


@dataclass
class Experiment:
    name: str
    claim: str
    varied: list[str]
    pairs: list[str]
    # per pair: [{"run", "label", "row", "varied_values"}] in grid order; a run may belong to another
    # pair (a blend of one is its single style's run, nst.params.sole_style)
    runs: dict[str, list[dict]] = field(default_factory=dict)
    # per pair: its (content, style) image files, a blend's style as a list (the grid's thumbnails)
    images: dict[str, tuple[str, str | list[str]]] = field(default_factory=dict)
    # the seed study's findings this experiment checks (nst_pipeline.findings), `over` filled in
    findings: list[dict] = field(default_factory=list)


@dataclass
class Plan:
    runs: dict[str, Run]
    experiments: dict[str, Experiment]
    noise: dict = field(default_factory=dict)  # the noise repeats (nst_pipeline.repeats.NoisePlan.as_json)


def _image_paths(config: dict, kind: str, base_dir: Path) -> dict[str, str | list[str]]:
    """name -> image file; a style may instead be a blend: a list of other style names (-> their files).

    A relative path in the config is the workflow folder's (`base_dir`, so `--directory elsewhere`
    finds data/); the plan holds it relative to the current directory, Snakemake's working directory,
    where the jobs run. So no path a run records (a region map's is a run parameter) names the folder
    the project sits in: moving or cloning the project changes none (README, "Caching"). A path the
    config gives as absolute stays absolute."""
    paths: dict[str, str | list[str]] = {}
    entries = config["images"].get(kind) or {}
    for name, path in entries.items():
        if PAIR_SEPARATOR in name or "/" in name:
            raise ConfigError(f"config images.{kind}.{name}: image names may not contain '/' or '{PAIR_SEPARATOR}'")
        if isinstance(path, list):
            continue  # a blend, resolved below once every plain image is known
        resolved = Path(path) if Path(path).is_absolute() else Path(os.path.abspath(base_dir / path))
        if not resolved.is_file():
            raise ConfigError(f"config images.{kind}.{name}: image file not found: {resolved}")
        paths[name] = str(resolved) if Path(path).is_absolute() else os.path.relpath(resolved)
    for name, parts in entries.items():
        if isinstance(parts, list):
            unknown = [part for part in parts if not isinstance(paths.get(part), str)]
            if kind != "style" or len(parts) < 2 or unknown:
                raise ConfigError(
                    f"config images.{kind}.{name}: a blend lists two or more plain style image names "
                    f"(not {unknown or parts})"
                )
            paths[name] = [paths[part] for part in parts]
    return paths


def _pairs(pairs: list, where: str, contents: dict, styles: dict) -> list[tuple[str, str]]:
    result = []
    for index, (content, style) in enumerate(pairs):
        if content not in contents:
            raise ConfigError(f"config {where}[{index}]: unknown content image {content!r} (not in images.content)")
        if style not in styles:
            raise ConfigError(f"config {where}[{index}]: unknown style image {style!r} (not in images.style)")
        if (content, style) in result:
            raise ConfigError(f"config {where}[{index}]: pair [{content}, {style}] is listed twice")
        result.append((content, style))
    return result


def _refuse_duplicates(values: list, where: str) -> None:
    """Two equal values in one vary list would be one run shown twice in the grid: refuse."""
    for index, value in enumerate(values):
        if value in values[:index]:
            raise ConfigError(f"config {where}: value {value!r} is listed twice (each value gives one run)")


def _label(values: dict) -> str:
    return ", ".join(f"{key} = {value}" for key, value in values.items())


def plan_experiments(config: dict, base_dir: Path) -> Plan:
    """Expand and check every run of the configured experiments; raises ConfigError naming the key.

    `config` has passed the JSON schema (workflow/schemas/config.schema.yaml); this adds the checks
    that need the engine: images readable, backbone/weights known, layer indices in range, ...
    Every run gets the engine's full check_run(); each image file is decoded once for all of them.
    """
    with reuse_decoded():
        return _plan(config, base_dir)


def _plan(config: dict, base_dir: Path) -> Plan:
    blends = {name: parts for name, parts in config["images"]["style"].items() if isinstance(parts, list)}
    contents, styles, region_maps = (
        _image_paths(config, kind, base_dir) for kind in ("content", "style", "region_map")
    )
    resolver = _Resolver(contents, styles, region_maps, blends)
    default_pairs = _pairs(config["pairs"], "pairs", resolver.contents, resolver.styles)
    defaults = dict(config.get("defaults") or {})
    runs: dict[str, Run] = {}
    experiments = {
        name: _expand_experiment(name, config["experiments"][name], default_pairs, defaults, resolver, runs)
        for name in _selected_experiments(config)
    }
    _check_findings(config, experiments, runs)
    noise = _plan_noise_repeats(config, experiments, runs, resolver)
    _check_bf16_speed(runs, config.get("device", "auto"), config.get("allow_slow_bf16", False))
    return Plan(runs, experiments, noise)


def _expand_experiment(
    name: str, spec: dict, default_pairs: list, defaults: dict, resolver: _Resolver, runs: dict[str, Run]
) -> Experiment:
    """One experiment's grid entries, pair by pair and sweep by sweep; its runs join `runs` (each once)."""
    where = f"experiments.{name}"
    pairs = default_pairs
    if spec.get("pairs"):
        pairs = _pairs(spec["pairs"], f"{where}.pairs", resolver.contents, resolver.styles)
    varied = list(dict.fromkeys(key for sweep in spec["sweeps"] for key in sweep["vary"]))
    experiment = Experiment(name, spec.get("claim", "").strip(), varied, [pair_name(c, s) for c, s in pairs])
    for content, style in pairs:
        entries = experiment.runs.setdefault(pair_name(content, style), [])
        experiment.images[pair_name(content, style)] = (resolver.contents[content], resolver.styles[style])
        for row, sweep in enumerate(spec["sweeps"]):
            for run, entry in _sweep_entries(sweep, f"{where}.sweeps[{row}]", row, defaults, content, style, resolver):
                runs.setdefault(run.name, run)
                entries.append(entry)
    return experiment


def _selected_experiments(config: dict) -> list[str]:
    selected = config.get("run_experiments")
    if selected is None:
        return list(config["experiments"])
    if not selected:
        raise ConfigError("config run_experiments: empty list; name the experiments to run, or leave it unset (null)")
    for name in selected:
        if name not in config["experiments"]:
            raise ConfigError(f"config run_experiments: no experiment named {name!r}")
    return selected


class _Resolver:
    """Runs from parameters: check_run() once per content, style and parameter set, however many
    experiments and sweeps list it (the all-defaults run, say); a bad set is refused naming the key.
    A blend whose weights leave one style non-zero is that style's run (nst.params.sole_style: same
    pixels), in that style's pair: computed once, with the single-style runs."""

    def __init__(self, contents: dict, styles: dict, region_maps: dict, blends: dict[str, list[str]]):
        self.contents, self.styles, self.region_maps, self.blends = contents, styles, region_maps, blends
        self._checked: dict[tuple, tuple[dict, str]] = {}

    def run(self, content: str, style: str, params: dict, where: str) -> Run:
        key = (content, style, tuple(sorted((k, repr(v)) for k, v in params.items())))
        if key not in self._checked:
            try:
                files = self._region_map_file(params, where)
                checked = check_run(self.contents[content], self.styles[style], **(params | files))
            except NSTInputError as error:
                raise ConfigError(f"config {where}: {error}") from None
            sole = sole_style(self.styles[style], params.get("style_blend_weights"))
            self._checked[key] = (checked, style if sole is None else self.blends[style][sole])
        checked, used = self._checked[key]
        resolved = {k: checked[k] for k in RESULT_PARAMETERS}
        name = run_name(pair_name(content, used), run_id(resolved))
        return Run(name, self.contents[content], self.styles[used], resolved)

    def _region_map_file(self, params: dict, where: str) -> dict:
        """A region map is named in the config (images.region_map) and given to the engine as its file."""
        name = params.get("region_map")
        if name is None:
            return {}
        if name not in self.region_maps:
            raise ConfigError(f"config {where}: region_map {name!r} unknown (not in images.region_map)")
        return {"region_map": self.region_maps[name]}


def _sweep_entries(
    sweep: dict, where: str, row: int, defaults: dict, content: str, style: str, resolver: _Resolver
) -> list[tuple[Run, dict]]:
    """One sweep on one pair: each combination of its values -> (its run, its grid entry in row `row`)."""
    keys = list(sweep["vary"])
    for key in keys:
        _refuse_duplicates(sweep["vary"][key], f"{where}.vary.{key}")
    result = []
    for values in itertools.product(*(sweep["vary"][key] for key in keys)):
        varied_values = dict(zip(keys, values))
        params = defaults | (sweep.get("set") or {}) | varied_values
        run = resolver.run(content, style, params, f"{where} ({_label(varied_values)})")
        result.append(
            (run, {"run": run.name, "label": _label(varied_values), "row": row, "varied_values": varied_values})
        )
    return result


def _check_bf16_speed(runs: dict[str, Run], device: str, allow_slow: bool) -> None:
    """bf16 runs where the stylize jobs' device has no bf16 units are refused here, at planning (the
    engine refuses them too, but a job would learn it only once started, after the sweep was queued).
    The device is judged on this machine: jobs that run elsewhere (a cluster) may need allow_slow_bf16."""
    bf16 = [name for name, run in runs.items() if run.params["precision"] == "bf16"]
    if not bf16:
        return
    try:
        check_bf16("bf16", device, allow_slow)
    except NSTInputError as error:
        raise ConfigError(f"config: {len(bf16)} run(s) with precision bf16 (first: {bf16[0]}): {error}") from None


def _check_findings(config: dict, experiments: dict[str, Experiment], runs: dict[str, Run]) -> None:
    """Each finding's check must be evaluable on its experiment's runs (after all are planned: a check
    may compare with another experiment's run); ids unique. Fills in Experiment.findings."""
    planned = {
        name: {pair: [runs[entry["run"]].params for entry in entries] for pair, entries in experiment.runs.items()}
        for name, experiment in experiments.items()
    }
    first_use: dict[str, str] = {}
    for name, experiment in experiments.items():
        for index, finding in enumerate(config["experiments"][name].get("findings") or []):
            where = f"config experiments.{name}.findings[{index}]"
            if finding["id"] in first_use:
                raise ConfigError(f"{where}.id: {finding['id']!r} is used twice (also {first_use[finding['id']]})")
            first_use[finding["id"]] = where
            try:
                checked = validate_finding(finding, experiment.varied, planned, name, set(config["experiments"]))
            except FindingError as error:
                raise ConfigError(f"{where}.{error}") from None
            experiment.findings.append(checked)


def _plan_noise_repeats(config: dict, experiments: dict[str, Experiment], runs: dict[str, Run], resolver) -> dict:
    """The noise repeats at every scale the findings are judged at (nst_pipeline.repeats): their runs
    join `runs`, their grid joins `experiments` as NOISE_EXPERIMENT. Returns the noise plan as JSON."""
    try:
        noise, entries = plan_repeats(config, experiments, runs, resolver.run)
    except RepeatsError as error:
        raise ConfigError(f"config {error}") from None
    if entries:
        images = {pair: next(e.images[pair] for e in experiments.values() if pair in e.images) for pair in entries}
        varied, pairs = ["init_method", "seed", "init_nudge"], list(entries)
        experiments[NOISE_EXPERIMENT] = Experiment(NOISE_EXPERIMENT, NOISE_CLAIM, varied, pairs, entries, images)
    return noise.as_json()


def experiments_by_run(plan: Plan) -> dict[str, list[str]]:
    """run name -> the experiments listing it, in plan order (one pass over the entries: a search of
    every experiment per run is quadratic, minutes at 10,000 runs)."""
    index: dict[str, dict[str, None]] = {name: {} for name in plan.runs}
    for name, experiment in plan.experiments.items():
        for entries in experiment.runs.values():
            for entry in entries:
                index[entry["run"]][name] = None
    return {run: list(names) for run, names in index.items()}


def run_name_regex(run_names) -> str:
    """A regex for the plan's run names that does not grow with their number: one of the plan's
    pairs, then one path component (the run id). Snakemake rescans a wildcard's constraint for every
    job it builds, so a constraint listing every name made planning quadratic."""
    pairs = sorted({split_run(name)[0] for name in run_names})
    return f"(?:{'|'.join(map(re.escape, pairs))})/[^/]+" if pairs else "$^"
