"""What became of one planned run: a typed record that the grids, the sentences and the report share.

`load_outcomes` builds them from the files under results/ (nst_pipeline.paths): a run is "ok" when its
image and sidecar exist, "failed" when its stylize job left a failure record, "missing" otherwise.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from nst.naming import RUN_ID_EXTRAS, extra_defaults, parse_run_id
from nst_pipeline import paths
from nst_pipeline.formatting import value_text

STATUSES = ("ok", "failed", "missing")
NOT_RUN = "not run (yet)"


@dataclass(frozen=True)
class RunOutcome:
    run: str  # "<content>__<style>/<run id>", the stem of its files under results/runs/
    experiment: str
    pair: str  # "<content>__<style>"
    label: str  # the plan's label, e.g. "style_weight = 1e+06"
    row: int  # the sweep it came from: its row in the grid
    varied_values: dict
    status: str  # "ok" | "failed" | "missing"
    image: Path | None = None
    record: dict | None = None  # the sidecar (ok runs only)
    error: str | None = None
    planned: dict = field(default_factory=dict)  # the parameters its run id spells out

    @property
    def run_id(self) -> str:
        return paths.split_run(self.run)[1]

    @property
    def content_name(self) -> str:
        return paths.split_pair(self.pair)[0]

    @property
    def style_name(self) -> str:
        return paths.split_pair(self.pair)[1]

    @property
    def parameters(self) -> dict:
        """The parameters it ran with (sidecar), or for a run without one, those it was planned with."""
        return (self.record or {}).get("parameters") or self.planned

    @property
    def finished(self) -> bool:
        """Ok, with final losses to compare."""
        return self.status == "ok" and bool((self.record or {}).get("final_losses"))

    def final(self, kind: str) -> float | None:
        """The final (unweighted) loss `kind`, or None where there is no finite one."""
        value = ((self.record or {}).get("final_losses") or {}).get(kind)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    @property
    def weights(self) -> dict:
        """The sidecar's description of the network weights used ({} without a sidecar)."""
        return (self.record or {}).get("weights") or {}

    @property
    def is_random(self) -> bool:
        """True when the sidecar says the network was not pretrained."""
        record = self.record or {}
        return bool(record.get("random_weights")) or self.weights.get("pretrained") is False

    @property
    def weights_key(self):
        """Equal for runs with the same weights: the weights' sha256, else the planned source."""
        return self.weights.get("sha256") or self.parameters.get("weights")

    @property
    def weights_label(self) -> str | None:
        """The sidecar's one-line description of the weights, e.g. for the report's 'Weights used'."""
        return self.weights.get("label")

    @property
    def weights_short(self) -> str:
        """For a table cell: RANDOM, '<source> <sha256 prefix>', or the planned source."""
        if self.is_random:
            return "RANDOM"
        if self.weights:
            return f"{self.weights.get('source', '?')} {str(self.weights.get('sha256', ''))[:8]}".strip()
        return str(self.parameters.get("weights", "—"))

    @property
    def other_options(self) -> str:
        """The newer run options where they are not at their defaults (precision, stages, colour
        control, blend weights, style scale, noise units), e.g. "precision bf16; style_scale 0.5"."""
        later = extra_defaults()
        params = self.parameters
        changed = [name for name, _ in RUN_ID_EXTRAS if name in params and params[name] != later[name]]
        return "; ".join(f"{name} {value_text(params[name])}" for name in changed)

    @property
    def varied_text(self) -> str:
        return ", ".join(f"{key} = {value_text(value)}" for key, value in self.varied_values.items())

    @property
    def display_label(self) -> str:
        return self.label or self.varied_text or self.run_id


@dataclass(frozen=True)
class _OnDisk:
    status: str
    image: Path | None
    record: dict | None
    error: str | None


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _on_disk(run: str) -> _OnDisk:
    image, sidecar = Path(paths.run_image(run)), Path(paths.run_sidecar(run))
    if image.is_file() and sidecar.is_file():
        return _OnDisk("ok", image, _read_json(sidecar), None)
    failure = Path(paths.failure_record(run))
    if failure.is_file():
        return _OnDisk("failed", None, None, str(_read_json(failure).get("error") or ""))
    return _OnDisk("missing", None, None, NOT_RUN)


def _planned(run: str) -> dict:
    try:
        return parse_run_id(paths.split_run(run)[1])
    except ValueError:  # not a run id (a hand-made name): nothing planned to show
        return {}


def load_outcomes(
    experiment: str, pair: str, entries: list[dict], seen: dict[str, RunOutcome] | None = None
) -> list[RunOutcome]:
    """The outcomes of one experiment's plan entries for one pair ({run, label, row, varied_values}),
    in grid order, from the files on disk (paths relative to the working directory).

    `seen` (run name -> an outcome of that run) is filled in as runs are read; pass the same dict for
    every experiment and pair so that a run shared by several experiments is read once."""
    seen = {} if seen is None else seen
    outcomes = []
    for entry in entries:
        run = entry["run"]
        if run not in seen:
            disk = _on_disk(run)
            seen[run] = RunOutcome(
                run, experiment, pair, "", 0, {}, disk.status, disk.image, disk.record, disk.error, _planned(run)
            )
        outcomes.append(
            replace(
                seen[run],
                experiment=experiment,
                pair=pair,
                label=entry.get("label", ""),
                row=int(entry.get("row", 0)),
                varied_values=dict(entry.get("varied_values") or {}),
            )
        )
    return outcomes
