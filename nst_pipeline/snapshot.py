"""A compact, committable copy of a finished pipeline's verdicts: `docs/reference/` for the study-scale
run (README, "The study's scale"). From the results folder it writes

  scorecard.md     the scorecard as Markdown: every finding's headline, settled or not, each budget's
                   verdict, the reason and the numbers
  findings.json    as the report job wrote it
  runs.tsv         as the report job wrote it
  grids/*.png      every comparison grid, downsized to at most GRID_WIDTH pixels wide
  README.md        the machine, date, command and wall time of the run

    python -m nst_pipeline.snapshot results docs/reference --wall-seconds 412 --command "make reference"
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path

from PIL import Image

from nst_pipeline import paths

GRID_WIDTH = 900  # enough to see each tile of a 4-6 column grid; a few hundred kB per grid


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


def _machine() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
        return f"CPU {platform.processor() or platform.machine()}, torch {torch.__version__}"
    except ImportError:
        return platform.platform()


def write_snapshot(results: Path, out: Path, wall_seconds: float | None, command: str) -> None:
    """Copy the verdicts, tables and downsized grids of `results` into `out` (replacing what was there)."""
    results, out = Path(results), Path(out)
    findings_file = results / Path(paths.FINDINGS).name
    payload = json.loads(findings_file.read_text(encoding="utf-8"))
    if out.exists():
        shutil.rmtree(out)
    (out / "grids").mkdir(parents=True)
    shutil.copy(findings_file, out / "findings.json")
    shutil.copy(results / Path(paths.RUNS_TABLE).name, out / "runs.tsv")
    (out / "scorecard.md").write_text(scorecard_markdown(payload), encoding="utf-8")
    for grid in sorted((results / "grids").glob("*/*.png")):
        _downsized(grid, out / "grids" / f"{grid.parent.name}__{grid.name}")
    wall = "not measured" if wall_seconds is None else f"{wall_seconds:.0f} s ({wall_seconds / 60:.1f} min)"
    (out / "README.md").write_text(
        "# The study-scale reference run\n\n"
        f"- machine: {_machine()}\n- date: {time.strftime('%Y-%m-%d')}\n- command: `{command}`\n"
        f"- wall time (Snakemake, start-up included): {wall}\n\n"
        "scorecard.md is the report's scorecard; findings.json and runs.tsv are the report job's files "
        '(README, "Findings"); grids/ holds the comparison grids, downsized.\n',
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, help="the pipeline's results folder")
    parser.add_argument("out", type=Path, help="where the snapshot goes (replaced), e.g. docs/reference")
    parser.add_argument("--wall-seconds", type=float, default=None, help="the run's measured wall time")
    parser.add_argument("--command", default="make reference", help="the command that made the results")
    args = parser.parse_args(argv)
    write_snapshot(args.results, args.out, args.wall_seconds, args.command)
    print(f"snapshot of {args.results} written to {args.out}")


if __name__ == "__main__":
    main()
