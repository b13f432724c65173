"""Running the real Snakemake pipeline from tests (separate working folders, bounded in time)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def snakemake(
    workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile", timeout: float = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    """`snakemake -s <snakefile> --directory <workdir> ...`; output captured, never hangs."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [SNAKEMAKE, "-s", str(snakefile), "--directory", str(workdir), "--cores", "2", *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ | {"NST_OFFLINE": "1"} | (env or {}),
        cwd=workdir,
    )


def job_counts(output: str) -> dict[str, int]:
    """Snakemake's 'Job stats' table -> {rule: count} ({} when there is nothing to do)."""
    counts, in_table = {}, False
    for line in output.splitlines():
        if line.startswith("Job stats:"):
            in_table = True
        elif in_table:
            match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
            if match and match.group(1) != "total":
                counts[match.group(1)] = int(match.group(2))
            elif line.strip().startswith("total"):
                break
    return counts


def write_config(path: Path, base: Path = REPO / "tests/configs/tiny.yaml", **changes) -> Path:
    """A copy of a config with top-level keys replaced."""
    config = yaml.safe_load(base.read_text()) | changes
    path.write_text(yaml.safe_dump(config))
    return path


def copy_workflow(target: Path) -> Path:
    """A copy of the workflow and engine (to edit the engine's code without touching the repo)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml", "workflow", "nst", "nst_pipeline", "data", "envs", "profiles"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    return target / "Snakefile"
