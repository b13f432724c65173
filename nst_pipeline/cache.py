"""Which runs are finished: decided by their results, not by the folder they sit in or any file's time.

A run is finished when its image, its sidecar and its milestones folder are there, every milestone
image its sidecar lists is there, and the sidecar records this very run: its output name, its
parameters, the sha256 of the content, style and region map files it was made from (their bytes,
wherever they are and whatever their mtime), and the engine fingerprint (engine code, torch and
torchvision versions: nst.provenance; the stylize rule's `code` param). That is what a clone without
Snakemake's records (.snakemake/) still has, so the check holds there too.

Snakemake decides the rest: a run whose outputs are missing is made; the images are `ancient()`
inputs (their mtime reruns nothing); params and code fingerprints rerun what changed. check_runs()
runs once at planning (workflow/rules/common.smk): each distinct image is hashed once, and only the
runs whose outputs exist read their sidecar - its head, not the loss history that makes up most of
it (read_sidecar). A run that is there but not finished is made again (common.smk forces its job),
with one line saying why (say_why); nothing else is touched.

Why the sidecar and not Snakemake's params: the sidecar already records the images' sha256 (the
engine writes it), and it is what a clone without .snakemake/ keeps, where the params trigger has no
record to compare. Adding the hashes to the stylize rule's params would also have changed every
finished run's params once, making every run again on the first invocation after the change - the
loss this check exists to prevent - and putting them in the engine would change its fingerprint, to
the same effect. One check, at planning, serves both cases.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from nst.naming import extra_defaults
from nst_pipeline import paths
from nst_pipeline.plan import Run

# The engine writes the loss history last (nst.record.build_record, json indent 1): everything the
# check reads comes before it. A sidecar is read up to this key, and its end is checked (a cut-off copy).
_HISTORY = b'\n "loss_history": ['
_END = b"]\n}"
_CHUNK = 1 << 14

# at most this many "made again" lines; the rest are counted (an engine edit makes every run stale)
MAX_LINES = 20


@dataclass
class Checked:
    """finished: runs whose results are complete and match them. stale: runs of which something is
    there but that are not finished -> why (the run is made again). Runs in neither: nothing there."""

    finished: set[str] = field(default_factory=set)
    stale: dict[str, str] = field(default_factory=dict)


class FileHashes:
    """sha256 of each distinct file, computed once (a path as the plan gives it)."""

    def __init__(self):
        self._known: dict[str, str] = {}

    def __call__(self, path: str | Path) -> str:
        key = str(path)
        if key not in self._known:
            digest = hashlib.sha256()
            with open(key, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            self._known[key] = digest.hexdigest()
        return self._known[key]


def read_sidecar(path: str | Path) -> dict:
    """A sidecar's record without its loss history (the fields before it), or the whole record where
    it is not laid out as the engine writes it. Raises OSError, or ValueError (not JSON, cut off)."""
    with open(path, "rb") as handle:
        data = handle.read(_CHUNK)
        cut = data.find(_HISTORY)
        while cut < 0 and (more := handle.read(_CHUNK * 4)):
            data += more
            cut = data.find(_HISTORY, max(0, len(data) - len(more) - len(_HISTORY)))
        if cut >= 0:
            handle.seek(-min(64, os.fstat(handle.fileno()).st_size), os.SEEK_END)
            if handle.read().rstrip().endswith(_END):  # the end of the record: not a cut-off copy
                try:
                    record = json.loads(data[:cut].rstrip().rstrip(b",") + b"\n}")
                except ValueError:
                    record = None
                if isinstance(record, dict):
                    return record
            handle.seek(len(data))
            data += handle.read()
    record = json.loads(data)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    return record


def check_runs(runs: dict[str, Run], code: str) -> Checked:
    """Every run of the plan: finished, stale (why) or not there. `code`: the stylize rule's code
    fingerprint (nst_pipeline.fingerprints.stylize), which a finished run's sidecar records."""
    checked, hashes = Checked(), FileHashes()
    if not os.path.isdir(paths.RUNS):
        return checked  # no results yet (a fresh working directory): nothing to read, run by run
    for name, run in runs.items():
        reason = why_not_finished(run, code, hashes)
        if reason is None:
            checked.finished.add(name)
        elif reason:
            checked.stale[name] = reason
    return checked


def why_not_finished(run: Run, code: str, hashes: FileHashes) -> str | None:
    """None: finished. "": nothing of it is there (a new run, or one removed to make it again). Else
    why what is there is not this run's finished result. (Plain os calls: ~10,000 runs a planning.)"""
    image, sidecar = paths.run_image(run.name), paths.run_sidecar(run.name)
    milestones = paths.run_milestones(run.name)
    try:
        record = read_sidecar(sidecar)
    except FileNotFoundError:
        if not os.path.exists(image) and not os.path.exists(milestones):
            return ""
        return f"its sidecar {sidecar} is missing"
    except (OSError, ValueError) as error:
        return f"its sidecar {sidecar} is unreadable ({type(error).__name__}: {error})"
    if not os.path.isfile(image):
        return f"its image {image} is missing"
    try:
        kept = set(os.listdir(milestones))
    except OSError:
        return f"its milestones folder {milestones} is missing"
    try:
        mismatch = _record_mismatch(record, run, os.path.basename(image), code, hashes)
        return mismatch or _missing_milestones(record["milestones"], os.path.basename(milestones), kept)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        return f"its sidecar {sidecar} lacks what a finished run records ({type(error).__name__}: {error})"


def _record_mismatch(record: dict, run: Run, output: str, code: str, hashes: FileHashes) -> str | None:
    if record["output"] != output:
        return f"its sidecar is another run's (it records output {record['output']})"
    different = _parameter_mismatch(record["parameters"], run.params)
    if different:
        return f"its sidecar records other parameters ({different})"
    # the plan's style is the styles the run uses (a blend of one is its single style's run)
    styles = [run.style] if isinstance(run.style, str) else run.style
    files = [("content image", run.content, record["content_sha256"])]
    files += [("style image", style, recorded) for style, recorded in zip(styles, record["style_sha256s"], strict=True)]
    if run.params["region_map"] is not None:
        files.append(("region map", run.params["region_map"], record["region_map_sha256"]))
    elif "region_map_sha256" in record:
        return "its sidecar records a region map, the run has none"
    for what, path, recorded in files:
        if recorded != hashes(path):
            return f"the {what} {path} is not the file it was made from (sha256 {_changed(recorded, hashes(path))})"
    if record["engine_fingerprint"] != code:
        return (
            "it was made by other engine code or torch/torchvision versions (engine fingerprint "
            f"{_changed(record['engine_fingerprint'], code)})"
        )
    return None


def _parameter_mismatch(recorded: dict, planned: dict) -> str | None:
    """The first result parameter whose recorded value is not the planned one. The region map is
    compared by its sha256 (its path is where the project happens to be); a parameter the sidecar
    lacks (made before it existed) must be at its default, as its run id says."""
    for key, value in planned.items():
        if key == "region_map":
            continue
        if key not in recorded:
            if key in _extra_defaults() and _extra_defaults()[key] == value:
                continue
            return f"{key}: not recorded, planned {value!r}"
        if not _equal(recorded[key], value):
            return f"{key}: {recorded[key]!r}, planned {value!r}"
    return None


@functools.cache
def _extra_defaults() -> dict:
    return extra_defaults()


def _equal(recorded, planned) -> bool:
    """A JSON value against a planned one (JSON has lists where the plan may have tuples)."""
    if recorded == planned:
        return True
    if isinstance(recorded, list) and isinstance(planned, tuple | list) and len(recorded) == len(planned):
        return all(_equal(a, b) for a, b in zip(recorded, planned))
    return False


def _missing_milestones(listed: list[dict], folder: str, kept: set[str]) -> str | None:
    """The milestone images the sidecar lists (paths relative to its folder) missing from `kept`,
    the milestones folder's entries."""
    missing = []
    for entry in listed:
        where, _, name = entry["image"].rpartition("/")
        if where != folder or name not in kept:
            missing.append(entry["image"])
    if missing:
        return f"{len(missing)} milestone image(s) its sidecar lists are missing ({', '.join(missing)})"
    return None


def _changed(recorded, now: str) -> str:
    return f"{str(recorded)[:12]}... recorded, {now[:12]}... now"


def say_why(stale: dict[str, str], file=None) -> None:
    """One line per run made again, naming it and the reason (the first MAX_LINES, then a count)."""
    file = file or sys.stderr
    for name in sorted(stale)[:MAX_LINES]:
        print(f"nst-pipeline: run {name} is not finished and is made again: {stale[name]}", file=file)
    if len(stale) > MAX_LINES:
        print(
            f"nst-pipeline: ... and {len(stale) - MAX_LINES} more runs are not finished and are made again", file=file
        )
