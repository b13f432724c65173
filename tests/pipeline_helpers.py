"""Running the real Snakemake pipeline from tests (separate working folders, bounded in time)."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
# Every Snakemake loads every executor plugin, and the SLURM plugin asks `scontrol show config` at load
# (for a help text). Where SLURM is installed but no controller runs - CI, once tests/cluster has
# stopped its test cluster - that waits ~9 s per Snakemake start (measured: 16.6 s for a tiny dry-run,
# 6.8 s of it CPU). The local runs here get a `scontrol` that answers at once: tests/no_slurm/.
NO_SLURM_PATH = f"{REPO / 'tests/no_slurm'}{os.pathsep}{os.environ.get('PATH', '')}"


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
        env=os.environ | {"NST_OFFLINE": "1", "PATH": NO_SLURM_PATH} | (env or {}),
        cwd=workdir,
    )


def snakefile_config(*configfiles: dict) -> dict:
    """The config the Snakefile plans from, made in-process the way it makes it: config.yaml updated by
    each `--configfile` in turn (Snakemake's update_config), then the Snakefile's validate() against the
    schema (which also fills in the schema's defaults)."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for configfile in configfiles:
        update_config(config, copy.deepcopy(configfile))
    validate(config, str(SCHEMA))
    return config


def config_refusal(*configfiles: dict) -> str:
    """In-process, what the Snakefile says when it refuses a config before any job: the schema's
    message, else the planner's. Fails the test if the config is accepted."""
    from nst.errors import NSTInputError
    from nst_pipeline.plan import plan_experiments

    try:
        plan_experiments(snakefile_config(*configfiles), base_dir=REPO)
    except (WorkflowError, NSTInputError) as error:
        return str(error)
    raise AssertionError(f"config accepted: {configfiles}")


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


@dataclass
class Element:
    """What an HTML element holds: its text (tags dropped, whitespace collapsed) and its <img> attributes."""

    text: str
    images: list[dict]


class _ElementParser(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self, element_id: str):
        super().__init__(convert_charrefs=True)
        self.element_id, self.depth, self.found = element_id, 0, 0
        self.text: list[str] = []
        self.images: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.depth:
            if tag == "img":
                self.images.append(attrs)
            if tag not in self.VOID:
                self.depth += 1
        elif attrs.get("id") == self.element_id:
            self.found += 1
            self.depth = 0 if tag in self.VOID else 1

    def handle_endtag(self, tag):
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def html_element(html: str, element_id: str) -> Element | None:
    """The element with id=`element_id` (None if there is none; an error if there are several)."""
    parser = _ElementParser(element_id)
    parser.feed(html)
    assert parser.found <= 1, f"{parser.found} elements with id {element_id!r}"
    return Element(" ".join("".join(parser.text).split()), parser.images) if parser.found else None


JOB_LINE = re.compile(r"^(local)?rule \w+:", re.MULTILINE)  # Snakemake's line for each job it starts
