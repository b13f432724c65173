"""A compact, committable copy of a finished pipeline's results: `docs/reference/` for the study-scale
run (README, "The study's scale"), and what `python -m nst_pipeline.compare` reads in place of a
results folder (README, "Did I reproduce it?"). From the results folder it writes

  scorecard.md     the scorecard as Markdown: every finding's headline, settled or not, each budget's
                   verdict, the reason and the numbers
  findings.json    as the report job wrote it
  runs.tsv         as the report job wrote it
  metrics.json     each run's yardstick numbers at each budget: {run: {"judge": {...}, "budgets":
                   [{"fraction", "iteration", "metrics"}, ...]}} (results/metrics/<run>.json, compacted)
  snapshot.json    {"format": SNAPSHOT_FORMAT, "date", "command", "wall_seconds", "machine": {cpu_model,
                   cpu_flags, gpu}, "runs": {run: {status, image_sha256, milestones [{iteration, fraction,
                   sha256}], device, precision, threads, torch, torchvision, engine_fingerprint, random_weights}}}
  grids/*.png      every comparison grid, downsized to at most GRID_WIDTH pixels wide (not with --no-grids)
  README.md        the machine, date, command and wall time of the run

No run images: the sha256 of each (final and milestones) says whether another run made the same bytes.

    python -m nst_pipeline.snapshot results docs/reference --wall-seconds 412 --command "make reference"
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import platform
import shutil
import time
from pathlib import Path

from PIL import Image

from nst_pipeline import paths

GRID_WIDTH = 900  # enough to see each tile of a 4-6 column grid; a few hundred kB per grid
# 2: metrics.json and snapshot.json (format, machine, each run's image sha256 and set-up), what
# nst_pipeline.compare reads; 1 (no snapshot.json): the scorecard, findings.json, runs.tsv and grids only
SNAPSHOT_FORMAT = 2
SNAPSHOT_FILE = "snapshot.json"
METRICS_FILE = "metrics.json"
# the CPU flags that change which kernels torch runs, hence the float results of a CPU run
SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")


def scorecard_markdown(payload: dict) -> str:
    """findings.json as a Markdown scorecard."""
    scale = payload.get("scale") or {}
    counts = payload.get("counts") or {}
    settled = payload.get("settled") or {}
    lines = ["# Reproduction scorecard", ""]
    if scale:
        kind = "the study's own scale" if scale.get("is_study_scale") else "a preview, not the study's scale"
        heights = " / ".join(f"{h} px" for h in scale.get("heights", []))
        steps = " / ".join(f"{n:,}" for n in scale.get("iterations", []))
        judge = " / ".join(f"{h} px" for h in scale.get("judge_heights", []))
        lines += [f"Judged at {heights} × {steps} iterations (judge height {judge}): {kind}.", ""]
    lines += [
        ", ".join(f"{n} {state}" for state, n in counts.items())
        + f"; {settled.get('settled', 0)} settled, {settled.get('unsettled', 0)} unsettled",
        "",
        "| finding | statement | verdict | budgets (B/8 → B) | why |",
        "|---|---|---|---|---|",
    ]
    for finding in payload.get("findings", []):
        state = {True: "settled", False: "unsettled", None: "—"}[finding.get("settled")]
        budgets = " → ".join(f"{b['budget']} {b['verdict']}" for b in finding.get("trajectory", []))
        cells = [
            f"**{finding['id']}** ({finding['experiment']})",
            finding["statement"],
            f"**{finding['verdict']}**, {state}",
            budgets or "—",
            finding["reason"]
            + (f" ({finding['settled_text']})" if finding.get("settled_text") else "")
            + (f"; {finding['margin_source']}" if finding.get("margin_source") else ""),
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(lines + noise_markdown(payload.get("noise") or {})) + "\n"


def noise_markdown(noise: dict) -> list[str]:
    """The scorecard's noise table per scale (findings.json's "noise"), at the final budget B."""
    if not noise.get("scales"):
        return ["", "Margins: the fixed table (no noise repeats: noise_repeats 0, or no finding judged)."]
    lines = ["", "## Noise margins, measured at the scale judged", "", f"{noise['rule']}."]
    for table in noise["scales"]:
        final = next((b for b in table["budgets"] if b["budget"] == "B"), {"rows": []})
        lines += [
            "",
            f"{table['scale']} ({', '.join(table['pairs'])}; {noise['repeats']} repeats of each kind), at B:",
            "",
            "| metric | repeats | spread (SD) | samples | margin | fixed table |",
            "|---|---|---|---|---|---|",
        ]
        for row in final["rows"]:
            cells = [row["metric"], row["kind_words"], _g(row["spread"]), str(row["samples"]), _g(row["margin"])]
            lines.append("| " + " | ".join([*cells, _g(row["fixed"])]) + " |")
    return lines


def _g(value) -> str:
    return "—" if value is None else f"{value:.3g}"


def _downsized(source: Path, target: Path) -> None:
    with Image.open(source) as image:
        if image.width > GRID_WIDTH:
            image = image.resize((GRID_WIDTH, round(image.height * GRID_WIDTH / image.width)), Image.Resampling.LANCZOS)
        target.parent.mkdir(parents=True, exist_ok=True)
        image.convert("RGB").save(target, optimize=True)


# ---------------------------------------------------------------- what a comparison reads of a results folder


def _cpu_model() -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or None
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or None


def machine_facts(gpu: bool = True) -> dict:
    """This machine: its CPU model, which of SIMD_FLAGS its CPU has (nst.hardware.cpu_flags, so
    $NST_CPU_FLAGS stands in for another kind of CPU there too) and, with `gpu`, its first CUDA GPU."""
    import torch

    from nst.hardware import cpu_flags

    flags = cpu_flags()
    name = torch.cuda.get_device_name(0) if gpu and torch.cuda.is_available() else None
    return {"cpu_model": _cpu_model(), "cpu_flags": [flag for flag in SIMD_FLAGS if flag in flags], "gpu": name}


def machine_text(machine: dict) -> str:
    """One line: GPU, CPU and its flags."""
    flags = " ".join(machine.get("cpu_flags") or []) or f"none of {', '.join(SIMD_FLAGS)}"
    cpu = f"CPU {machine.get('cpu_model') or 'unknown'} ({flags})"
    return f"{machine['gpu']}, {cpu}" if machine.get("gpu") else cpu


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _in_results(results: Path, path: str) -> Path:
    """A nst_pipeline.paths path (results/...) inside the results folder `results`."""
    return Path(results) / Path(path).relative_to(paths.RESULTS)


def run_statuses(results: Path) -> dict[str, str]:
    """run -> ok / failed / missing, from the results folder's runs.tsv (the report job's plan)."""
    with open(_in_results(results, paths.RUNS_TABLE), encoding="utf-8", newline="") as table:
        return {row["run"]: row["status"] for row in csv.DictReader(table, delimiter="\t")}


def run_facts(results: Path, run: str, status: str) -> dict:
    """What a comparison needs to know of one run: its status, the sha256 of its final image and of each
    milestone, and the set-up its sidecar records (nst.record). Only the status for a run not ok."""
    facts: dict = {"status": status}
    sidecar = _in_results(results, paths.run_sidecar(run))
    image = _in_results(results, paths.run_image(run))
    if status != "ok" or not sidecar.is_file() or not image.is_file():
        return facts
    record = json.loads(sidecar.read_text(encoding="utf-8"))
    milestones = []
    for milestone in record.get("milestones") or []:
        path = sidecar.parent / milestone["image"]
        sha = file_sha256(path) if path.is_file() else None
        milestones.append({"iteration": milestone["iteration"], "fraction": milestone["fraction"], "sha256": sha})
    versions = record.get("versions") or {}
    return facts | {
        "image_sha256": file_sha256(image),
        "milestones": milestones,
        "device": record.get("device"),
        "precision": (record.get("parameters") or {}).get("precision"),
        "threads": record.get("torch_threads"),
        "torch": versions.get("torch"),
        "torchvision": versions.get("torchvision"),
        "engine_fingerprint": record.get("engine_fingerprint"),
        "random_weights": record.get("random_weights"),
    }


def run_metrics(results: Path, run: str) -> dict | None:
    """One run's yardstick numbers, compact: {"judge", "budgets": [{fraction, iteration, metrics}]}
    (results/metrics/<run>.json; the final image's row is the budget at fraction 1.0)."""
    file = _in_results(results, paths.run_metrics(run))
    if not file.is_file():
        return None
    payload = json.loads(file.read_text(encoding="utf-8"))
    budgets = payload.get("budgets") or [{"fraction": 1.0, "iteration": None, "metrics": payload["metrics"]}]
    return {"judge": payload.get("judge") or {}, "budgets": budgets}


def read_results(results: Path) -> tuple[dict, dict]:
    """(runs, metrics) of a results folder, as snapshot.json's "runs" and metrics.json hold them. A run
    not ok has no metrics (a file left from an earlier attempt is not this run's numbers)."""
    statuses = run_statuses(results)
    runs = {run: run_facts(results, run, status) for run, status in statuses.items()}
    measured = {run: run_metrics(results, run) for run, status in statuses.items() if status == "ok"}
    return runs, {run: payload for run, payload in measured.items() if payload is not None}


def _write_json(path: Path, payload) -> None:
    path.write_text(json.dumps(payload, indent=1, allow_nan=True) + "\n", encoding="utf-8")


def write_snapshot(results: Path, out: Path, wall_seconds: float | None, command: str, grids: bool = True) -> None:
    """Copy the verdicts, tables, metrics, image hashes and downsized grids of `results` into `out`
    (replacing what was there); without `grids`, no grids (what a comparison reads is all there)."""
    results, out = Path(results), Path(out)
    findings_file = results / Path(paths.FINDINGS).name
    payload = json.loads(findings_file.read_text(encoding="utf-8"))
    runs, measured = read_results(results)
    machine = machine_facts()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy(findings_file, out / "findings.json")
    shutil.copy(results / Path(paths.RUNS_TABLE).name, out / "runs.tsv")
    (out / "scorecard.md").write_text(scorecard_markdown(payload), encoding="utf-8")
    for grid in sorted((results / "grids").glob("*/*.png")) if grids else []:
        _downsized(grid, out / "grids" / f"{grid.parent.name}__{grid.name}")
    _write_json(out / METRICS_FILE, measured)
    _write_json(
        out / SNAPSHOT_FILE,
        {
            "format": SNAPSHOT_FORMAT,
            "date": time.strftime("%Y-%m-%d"),
            "command": command,
            "wall_seconds": wall_seconds,
            "machine": machine,
            "runs": runs,
        },
    )
    wall = "not measured" if wall_seconds is None else f"{wall_seconds:.0f} s ({wall_seconds / 60:.1f} min)"
    (out / "README.md").write_text(
        "# A snapshot of a pipeline run\n\n"
        f"- machine: {machine_text(machine)}\n- date: {time.strftime('%Y-%m-%d')}\n- command: `{command}`\n"
        f"- wall time (Snakemake, start-up included): {wall}\n- snapshot format: {SNAPSHOT_FORMAT}\n\n"
        "scorecard.md is the report's scorecard; findings.json and runs.tsv are the report job's files "
        '(README, "Findings"); metrics.json each run\'s yardstick numbers at each budget; snapshot.json the '
        "machine and each run's image sha256 and set-up; "
        + ("grids/ holds the comparison grids, downsized. " if grids else "no grids (--no-grids). ")
        + "`python -m nst_pipeline.compare results <this folder>` compares a run with it "
        '(README, "Did I reproduce it?").\n',
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, help="the pipeline's results folder")
    parser.add_argument("out", type=Path, help="where the snapshot goes (replaced), e.g. docs/reference")
    parser.add_argument("--wall-seconds", type=float, default=None, help="the run's measured wall time")
    parser.add_argument("--command", default="make reference", help="the command that made the results")
    parser.add_argument("--no-grids", action="store_true", help="leave the grids out (e.g. a test's snapshot)")
    args = parser.parse_args(argv)
    write_snapshot(args.results, args.out, args.wall_seconds, args.command, grids=not args.no_grids)
    print(f"snapshot of {args.results} written to {args.out}")


if __name__ == "__main__":
    main()
