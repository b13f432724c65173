#!/usr/bin/env python3
"""How long does planning take for big experiment matrices, and where does the time go?

    .venv/bin/python bench/bench_planning.py --runs 1000 10000
    .venv/bin/python bench/bench_planning.py --runs 1000 --profile       # + cProfile breakdown
    .venv/bin/python bench/bench_planning.py --runs 1000 --snakefile /other/checkout/Snakefile

For each size it writes a config (merged over config.yaml like any --configfile): one experiment
`scale` on 4 content/style pairs sweeping style_weight (10 values) x seed (runs / 40 values) at
32 px, 1 iteration - every run a distinct stylize job. It then times, each in a fresh process:
  - `snakemake -n` (the whole dry run: parse, plan, DAG, job listing; output to /dev/null),
  - the planner alone (nst_pipeline.plan.plan_experiments on the merged config).
With --profile, a cProfile of the dry run (in a fresh process): how much is parsing the Snakefile
(the planner included), how much Snakemake's DAG, and the top functions by own time.

    .venv/bin/python bench/bench_planning.py --report 1000

times make_report instead (nst_pipeline.report_job.write_report, in a fresh process) on a synthetic
results tree of that many runs: small PNGs and sidecars with 1000-step loss histories, every 50th
run failed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PAIRS = [["chelsea", "starry_night"], ["chelsea", "hubble"], ["coffee", "starry_night"], ["coffee", "hubble"]]
STYLE_WEIGHTS = [10.0**k for k in range(1, 11)]


def matrix_config(runs: int) -> dict:
    """A config override with exactly `runs` distinct runs (a multiple of 40)."""
    seeds = runs // (len(PAIRS) * len(STYLE_WEIGHTS))
    if seeds * len(PAIRS) * len(STYLE_WEIGHTS) != runs:
        raise SystemExit(f"--runs must be a multiple of {len(PAIRS) * len(STYLE_WEIGHTS)}, got {runs}")
    return {
        "run_experiments": ["scale"],
        "defaults": {"weights": "bundled", "height": 32, "iterations": 1},
        "experiments": {
            "scale": {
                "claim": "planning benchmark",
                "pairs": PAIRS,
                "sweeps": [{"vary": {"style_weight": STYLE_WEIGHTS, "seed": list(range(seeds))}}],
            }
        },
    }


def write_config(folder: Path, runs: int) -> Path:
    path = folder / f"matrix_{runs}.yaml"
    path.write_text(yaml.safe_dump(matrix_config(runs)))
    return path


def merged_config(snakefile: Path, override: Path) -> dict:
    """config.yaml with the override merged in, as Snakemake merges --configfile (nested mappings)."""
    from snakemake.utils import update_config

    config = yaml.safe_load((snakefile.parent / "config.yaml").read_text())
    update_config(config, yaml.safe_load(override.read_text()))
    return config


def time_dry_run(snakefile: Path, config: Path, workdir: Path) -> float:
    command = [str(Path(sys.executable).parent / "snakemake"), "-n", "-s", str(snakefile)]
    command += ["--directory", str(workdir), "--cores", "1", "--configfile", str(config)]
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"snakemake -n failed:\n{done.stderr[-3000:]}")
    return elapsed


_PLANNER = """
import sys, time, json
sys.path.insert(0, {root!r})
from pathlib import Path
from nst_pipeline.plan import plan_experiments
config = json.loads(sys.stdin.read())
started = time.perf_counter()
plan = plan_experiments(config, base_dir=Path({root!r}))
print(time.perf_counter() - started, len(plan.runs))
"""


def time_planner(snakefile: Path, config: Path) -> tuple[float, int]:
    """The planner alone, in a fresh process (imports not counted)."""
    root = str(snakefile.parent)
    done = subprocess.run(
        [sys.executable, "-c", _PLANNER.format(root=root)],
        input=json.dumps(merged_config(snakefile, config)),
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, runs = done.stdout.split()
    return float(seconds), int(runs)


_PROFILED = """
import cProfile, contextlib, io, sys
from snakemake.cli import main
sys.argv = ["snakemake"] + sys.argv[2:]
profile = cProfile.Profile()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        profile.runcall(main)
    except SystemExit:
        pass
profile.dump_stats({out!r})
"""


def profile_dry_run(snakefile: Path, config: Path, workdir: Path, out: Path) -> None:
    args = ["-n", "-s", str(snakefile), "--directory", str(workdir), "--cores", "1", "--configfile", str(config)]
    subprocess.run([sys.executable, "-c", _PROFILED.format(out=str(out)), "--", *args], check=True)


# phases of the dry run: the cumulative time of these functions (file suffix, function name)
PHASES = {
    "parse the Snakefile (incl. the planner)": ("Snakefile", "<module>"),
    "  of which the planner (plan_experiments)": ("plan.py", "plan_experiments"),
    "build the DAG (dag.init)": ("dag.py", "init"),
}


def summarize_profile(path: Path, top: int) -> str:
    stats = pstats.Stats(str(path))
    total = max(v[3] for v in stats.stats.values())  # cumulative time of the outermost call
    lines = [f"profiled dry run: {total:.2f} s in all (cProfile slows it down)"]
    for label, (file, function) in PHASES.items():
        matches = [v[3] for (f, _, name), v in stats.stats.items() if f.endswith(file) and name == function]
        lines.append(f"  {label}: {max(matches, default=0.0):.2f} s")
    buffer = io.StringIO()
    pstats.Stats(str(path), stream=buffer).sort_stats("tottime").print_stats(top)
    body = buffer.getvalue()
    lines.append(body[body.find("   ncalls") :].rstrip())
    return "\n".join(lines)


def machine() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in lines if "model name" in line), platform.processor())
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages: on a shared 2-core machine, read every number with them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def synthetic_tree(runs: int, root: Path, history: int) -> dict:
    """A results tree as the pipeline leaves it for the `runs`-run matrix: per run a small PNG and a
    sidecar with a `history`-step loss history; every 50th run failed instead (a failure record).
    Returns the plan as the report job gets it."""
    import numpy as np
    from PIL import Image

    from nst_pipeline import paths
    from nst_pipeline.plan import plan_experiments

    config = matrix_config(runs)
    config["defaults"]["iterations"] = history
    full = yaml.safe_load((ROOT / "config.yaml").read_text())
    from snakemake.utils import update_config

    update_config(full, config)
    plan = plan_experiments(full, base_dir=ROOT)
    rng = np.random.default_rng(0)
    for index, run in enumerate(sorted(plan.runs.values(), key=lambda r: r.name)):
        if index % 50 == 49:
            failure = {"run": run.name, "error": "NSTNumericalError: loss became non-finite"}
            _write(root / paths.failure_record(run.name), json.dumps(failure))
            continue
        pixels = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
        (root / paths.run_image(run.name)).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / paths.run_image(run.name))
        _write(root / paths.run_sidecar(run.name), json.dumps(_sidecar(run, history, rng)))
    return {
        name: {"claim": e.claim, "varied": e.varied, "pairs": e.pairs, "runs": e.runs}
        for name, e in plan.experiments.items()
    }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _sidecar(run, history: int, rng) -> dict:
    import numpy as np

    decay = np.exp(-np.arange(history) / (history / 5))
    scale = float(rng.uniform(0.5, 2.0))
    losses = [
        {"total": 1e6 * scale * d + 10, "content": 1e2 * d + 1, "style": 1e3 * scale * d + 1, "tv": 5.0 + d}
        for d in decay.tolist()
    ]
    return {
        "output": Path(run.name).name + ".png",
        "content_image": run.content,
        "style_image": run.style,
        "parameters": run.params,
        "layers": {"content": "relu4_1", "style": ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]},
        "weights": {"source": "bundled", "sha256": "ab" * 32, "label": "bundled Oxford VGG19", "pretrained": True},
        "random_weights": False,
        "size": {"width": 48, "height": 32},
        "device": "cuda",
        "versions": {"torch": "2.14.1"},
        "iterations_done": history,
        "stopped_early": False,
        "resumed_from_iteration": None,
        "wall_time_s": 60.0 * scale,
        "time_per_iteration_s": 0.06 * scale,
        "peak_memory_mb": 1900.0,
        "final_losses": losses[-1],
        "loss_history": losses,
    }


_REPORT = """
import json, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from nst_pipeline.report_job import write_report
plan = json.loads(Path("plan.json").read_text())
started = time.perf_counter()
write_report(plan, Path("results/report.html"), "bench")
print(round(time.perf_counter() - started, 2))
"""


def time_report(runs: int, root: Path, history: int) -> str:
    """make_report's work (nst_pipeline.report_job.write_report) on a synthetic `runs`-run tree, and the
    page's size; in a fresh process, as the pipeline's report job runs."""
    plan = synthetic_tree(runs, root, history)
    (root / "plan.json").write_text(json.dumps(plan))
    code = _REPORT.format(root=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"make_report failed:\n{done.stderr[-3000:]}")
    size = (root / "results/report.html").stat().st_size
    return f"make_report, {runs} runs ({history}-step histories): {done.stdout.strip()} s, page {size / 1e6:.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--snakefile", type=Path, action="append", help="(repeatable) default: this checkout's")
    parser.add_argument("--profile", action="store_true", help="also a cProfile breakdown of each dry run")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--report", type=int, metavar="RUNS", help="only time make_report on a RUNS-run tree")
    parser.add_argument("--history", type=int, default=1000, help="loss-history length in the synthetic tree")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench_planning_") as tmp:
        tmp = Path(tmp)
        if args.report:
            print(f"(load {loadavg()})")
            print(time_report(args.report, tmp / "tree", args.history))
            return
        snakefiles = [path.resolve() for path in (args.snakefile or [ROOT / "Snakefile"])]
        for runs in args.runs:
            config = write_config(tmp, runs)
            for snakefile in snakefiles:
                print(f"\n## {runs} runs, {snakefile}  (load {loadavg()})")
                planner, planned = time_planner(snakefile, config)
                print(f"planner alone: {planner:.2f} s for {planned} runs")
                workdir = tmp / f"work_{runs}"
                print(f"snakemake -n: {time_dry_run(snakefile, config, workdir):.2f} s  (load {loadavg()})")
                if args.profile:
                    out = tmp / f"profile_{runs}.pstats"
                    profile_dry_run(snakefile, config, workdir, out)
                    print(summarize_profile(out, args.top))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
