"""Did I reproduce it? Two results of the pipeline compared finding by finding and run by run, within
the measured noise (README, "Did I reproduce it? `compare`").

A and B are each a results folder (the pipeline's results/: findings.json, runs.tsv, runs/, metrics/)
or a snapshot of one (nst_pipeline.snapshot: snapshot.json, findings.json, metrics.json; no run images).

  python -m nst_pipeline.compare results docs/reference [--out DIR] [--allow-verdict-change ID] [--allow-beyond RUN]

- Findings (findings.json: one per finding and pair): the verdict (an inconclusive one with its cause)
  and settledness on each side; **changed** when the verdict differs, with the deciding numbers of
  both sides. A change of settledness alone is shown, not counted as a change of verdict.
- Runs present in both (same run name: the run id spells out every result-determining parameter):
  **identical** (the final image's bytes are the same), **within noise** (every yardstick metric that
  has a noise margin differs by no more than its margin, at every budget both measured) or **beyond
  noise** (which metrics, by how many margins); ok on one side only: **failed in A** / **in B**.
  Margins: findings.json's `rules.margins` (the larger of A's and B's where they differ), else the
  fixed table (nst_pipeline.metric_table, nst_pipeline.findings.margin); the comparison says which.
- The set-ups side by side: engine fingerprint, torch, device, precision, threads, CPU and its flags,
  GPU, scale, judge. A results folder records no CPU: its CPU is this machine's (and says so).

Exit status: 0 reproduced; 1 a verdict changed, or a run is beyond noise or failed on one side, that
--allow-verdict-change / --allow-beyond did not state as expected; 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nst_pipeline import findings, paths, snapshot
from nst_pipeline.formatting import distinct, format_g, plural
from nst_pipeline.metric_table import RUN_METRICS
from nst_pipeline.scorecard import scale_text

COMPARISON_FORMAT = 1
MARKDOWN_FILE = Path(paths.COMPARE_MARKDOWN).name  # what --out DIR and the rule compare write
JSON_FILE = Path(paths.COMPARE_JSON).name

IDENTICAL, WITHIN, BEYOND, NOT_MEASURED = "identical", "within noise", "beyond noise", "not measured"
SAME, CHANGED, SETTLEDNESS = "same", "changed", "settledness changed"
# set-up facts, in the header's order: (key in Side.setup, label)
SETUP_FACTS = (
    ("engine_fingerprint", "engine fingerprint"),
    ("torch", "torch"),
    ("torchvision", "torchvision"),
    ("device", "device"),
    ("precision", "precision"),
    ("threads", "threads"),
    ("cpu", "CPU"),
    ("cpu_flags", "CPU flags"),
    ("gpu", "GPU"),
    ("scale", "scale"),
    ("judge", "judge"),
    ("margins", "noise margins"),
)


class CompareError(Exception):
    """Bad input: the one line `compare` prints before exiting with status 2."""


@dataclass
class Side:
    """One side of a comparison, read alike from a results folder or a snapshot."""

    name: str  # "A" or "B"
    path: Path
    kind: str  # "results folder" | "snapshot"
    described: str  # e.g. "snapshot docs/reference (format 2, 2026-12-07, `make reference`)"
    findings: dict  # findings.json
    runs: dict  # run -> snapshot.run_facts()
    metrics: dict  # run -> snapshot.run_metrics()
    machine: dict  # snapshot.machine_facts(), with "source"
    setup: dict = field(default_factory=dict)

    def image(self, run: str) -> Path | None:
        """A run's final image, where this side has it (a results folder; a snapshot keeps none)."""
        if self.kind != "results folder":
            return None
        image = self.path / Path(paths.run_image(run)).relative_to(paths.RESULTS)
        return image if image.is_file() else None


def _read_json(path: Path, name: str) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CompareError(f"{name}: cannot read {path}: {error}") from None


def detect(path: Path, name: str = "A") -> str:
    """Which of the two a folder is, from its files: a "results folder" or a "snapshot" (of the current
    format); CompareError for anything else."""
    path = Path(path)
    if not path.is_dir():
        raise CompareError(f"{name}: {path} is not a folder")
    marker = path / snapshot.SNAPSHOT_FILE
    if marker.is_file():
        found = _read_json(marker, name).get("format")
        if not isinstance(found, int) or found < snapshot.SNAPSHOT_FORMAT:
            raise CompareError(
                f"{name}: {path} is a snapshot of an older format ({'no format field' if found is None else found}; "
                f"compare reads format {snapshot.SNAPSHOT_FORMAT}): write it again from its results folder with "
                f"`python -m nst_pipeline.snapshot <results> {path}`"
            )
        if found > snapshot.SNAPSHOT_FORMAT:
            raise CompareError(
                f"{name}: {path} is a snapshot of format {found}, newer than this compare reads "
                f"({snapshot.SNAPSHOT_FORMAT}): update nst-pipeline"
            )
        return "snapshot"
    has = {file: (path / file).exists() for file in ("findings.json", "runs.tsv", "runs", "scorecard.md")}
    if has["findings.json"] and has["scorecard.md"] and not has["runs"]:
        raise CompareError(
            f"{name}: {path} is a snapshot of an older format (no format field, no {snapshot.SNAPSHOT_FILE}; compare "
            f"reads format {snapshot.SNAPSHOT_FORMAT}): write it again from its results folder with "
            f"`python -m nst_pipeline.snapshot <results> {path}`"
        )
    if has["runs"] and not (has["findings.json"] and has["runs.tsv"]):
        raise CompareError(
            f"{name}: {path} has runs but no findings.json or runs.tsv: the report job has not run yet (run the "
            "pipeline to its end)"
        )
    if not (has["findings.json"] and has["runs.tsv"] and has["runs"]):
        raise CompareError(
            f"{name}: {path} is neither a results folder (findings.json, runs.tsv, runs/) nor a snapshot "
            f"({snapshot.SNAPSHOT_FILE}: python -m nst_pipeline.snapshot)"
        )
    return "results folder"


def load_side(path: Path, name: str = "A") -> Side:
    """Read a results folder or a snapshot (detect() decides which)."""
    path = Path(path)
    kind = detect(path, name)
    payload = _read_json(path / "findings.json", name)
    if kind == "snapshot":
        meta = _read_json(path / snapshot.SNAPSHOT_FILE, name)
        metrics = _read_json(path / snapshot.METRICS_FILE, name)
        machine = dict(meta.get("machine") or {}) | {"source": "recorded when the snapshot was written"}
        described = f"snapshot {path} (format {meta['format']}, {meta.get('date', '?')}, `{meta.get('command', '?')}`)"
        runs = meta.get("runs") or {}
    else:
        runs, metrics = snapshot.read_results(path)
        devices = {facts.get("device") for facts in runs.values()}
        gpu = any(str(device).startswith("cuda") for device in devices)
        machine = snapshot.machine_facts(gpu=gpu) | {
            "source": "this machine's: a results folder records no CPU or GPU model"
        }
        described = f"results folder {path}"
    side = Side(name, path, kind, described, payload, runs, metrics, machine)
    side.setup = _setup(side)
    return side


def _distinct_text(values) -> str:
    found = [str(value) for value in distinct(v for v in values if v is not None)]
    return ", ".join(found) if found else "—"


def _margins_declared(payload: dict) -> dict[str, float]:
    declared = (payload.get("rules") or {}).get("margins") or {}
    return {metric: float(value) for metric, value in declared.items() if metric in RUN_METRICS and value is not None}


def _setup(side: Side) -> dict:
    """The facts of the side's set-up, each as a short text (several values comma-separated)."""
    ok = [facts for facts in side.runs.values() if facts.get("status") == "ok"]
    machine = side.machine
    judges = [payload.get("judge") or {} for payload in side.metrics.values()]
    scale = side.findings.get("scale")
    own = _margins_declared(side.findings)
    margins_text = "findings.json rules.margins" if own else "none in findings.json: the fixed table"
    if own and all(math.isclose(value, findings.margin(metric), rel_tol=1e-5) for metric, value in own.items()):
        margins_text += " (the fixed table's values)"
    return {
        "engine_fingerprint": _distinct_text((f.get("engine_fingerprint") or "")[:12] or None for f in ok),
        "torch": _distinct_text(f.get("torch") for f in ok),
        "torchvision": _distinct_text(f.get("torchvision") for f in ok),
        "device": _distinct_text(f.get("device") for f in ok),
        "precision": _distinct_text(f.get("precision") for f in ok),
        "threads": _distinct_text(f.get("threads") for f in ok),
        "cpu": machine.get("cpu_model") or "unknown",
        "cpu_flags": " ".join(machine.get("cpu_flags") or []) or "none of " + ", ".join(snapshot.SIMD_FLAGS),
        "gpu": machine.get("gpu") or "—",
        "scale": scale_text(scale) if scale else "—",
        "judge": _distinct_text(
            f"{judge.get('height')} px, {judge.get('weights', '?')}" if judge.get("height") else None
            for judge in judges
        ),
        "margins": margins_text,
    }


# ---------------------------------------------------------------- margins


def margins(a: Side, b: Side) -> tuple[dict[str, float], str]:
    """(metric -> margin, where they come from): findings.json's rules.margins where either side has
    them (the larger of the two where both do), else the fixed table."""
    own = {side.name: _margins_declared(side.findings) for side in (a, b)}
    values, sources = {}, set()
    for metric in RUN_METRICS:
        declared = {name: found[metric] for name, found in own.items() if metric in found}
        if declared:
            values[metric] = max(declared.values())
            sources.add(" and ".join(declared) if len(set(declared.values())) == 1 else "the larger of A's and B's")
        else:
            values[metric] = findings.margin(metric)
            sources.add("fixed")
    fixed = all(math.isclose(values[m], findings.margin(m), rel_tol=1e-5) for m in RUN_METRICS)
    table = "the fixed table (nst_pipeline/metric_table.py: 3 × the noise scale measured at 128 px)"
    if sources == {"fixed"}:
        return values, table
    declared_text = "findings.json rules.margins (" + "; ".join(sorted(s for s in sources if s != "fixed")) + ")"
    if "fixed" in sources:
        declared_text += ", else " + table
    if fixed:
        declared_text += ", the same values as " + table
    return values, declared_text


# ---------------------------------------------------------------- findings


def _finding_state(finding: dict) -> dict:
    return {
        "verdict": finding.get("verdict"),
        "cause": finding.get("cause"),
        "settled": finding.get("settled"),
        "deciding": (finding.get("numbers") or {}).get("deciding"),
        "reason": finding.get("reason", ""),
    }


def verdict_text(state: dict) -> str:
    """e.g. "inconclusive (within noise), settled"."""
    verdict = state["verdict"] + (f" ({state['cause']})" if state.get("cause") else "")
    settled = {True: "settled", False: "unsettled", None: "settledness unknown"}[state.get("settled")]
    return f"{verdict}, {settled}"


def deciding_text(deciding: dict | None) -> str:
    if not deciding:
        return "no deciding number"
    return f"{deciding.get('name')} {format_g(deciding.get('value'))} (threshold {format_g(deciding.get('threshold'))})"


def _allowed(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def compare_findings(a: Side, b: Side, allow: list[str]) -> tuple[list[dict], list[dict], list[dict]]:
    """(findings in both, only in A, only in B); each in both with its status: same, changed, or
    settledness changed (the verdict the same)."""
    in_a = {(f["id"], f["pair"]): f for f in a.findings.get("findings", [])}
    in_b = {(f["id"], f["pair"]): f for f in b.findings.get("findings", [])}
    both = []
    for key, found in in_a.items():
        if key not in in_b:
            continue
        sa, sb = _finding_state(found), _finding_state(in_b[key])
        if (sa["verdict"], sa["cause"]) != (sb["verdict"], sb["cause"]):
            status = CHANGED
        elif sa["settled"] != sb["settled"]:
            status = SETTLEDNESS
        else:
            status = SAME
        both.append(
            {
                "id": key[0],
                "pair": key[1],
                "experiment": found.get("experiment"),
                "statement": found.get("statement"),
                "status": status,
                "expected": status == CHANGED and _allowed(key[0], allow),
                "a": sa,
                "b": sb,
            }
        )

    def only(of: dict, other: dict) -> list[dict]:
        return [{"id": k[0], "pair": k[1], **_finding_state(f)} for k, f in of.items() if k not in other]

    return both, only(in_a, in_b), only(in_b, in_a)


# ---------------------------------------------------------------- runs


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _budgets(payload: dict | None) -> dict[float, dict]:
    return {round(float(b["fraction"]), 6): b for b in (payload or {}).get("budgets", [])}


def metric_differences(ma: dict | None, mb: dict | None, margin: dict[str, float]) -> list[dict]:
    """Every metric with a margin at every budget both sides measured: its values, difference (B - A)
    and how many margins that is."""
    budgets_a, budgets_b = _budgets(ma), _budgets(mb)
    found = []
    for fraction in sorted(set(budgets_a) & set(budgets_b)):
        row_a, row_b = budgets_a[fraction]["metrics"] or {}, budgets_b[fraction]["metrics"] or {}
        for metric in RUN_METRICS:
            va, vb = _number(row_a.get(metric)), _number(row_b.get(metric))
            if va is None or vb is None:
                continue
            difference = vb - va
            found.append(
                {
                    "metric": metric,
                    "budget": findings.budget_label(fraction),
                    "fraction": fraction,
                    "a": va,
                    "b": vb,
                    "difference": difference,
                    "margin": margin[metric],
                    "margins": abs(difference) / margin[metric],
                }
            )
    return found


def compare_run(run: str, a: Side, b: Side, margin: dict[str, float], allow: list[str]) -> dict:
    """One run present in both: identical, within noise, beyond noise, not measured, or failed on a side."""
    fa, fb = a.runs[run], b.runs[run]
    entry = {"run": run, "a_status": fa.get("status"), "b_status": fb.get("status")}
    entry |= {"a_sha256": fa.get("image_sha256"), "b_sha256": fb.get("image_sha256")}
    status_a, status_b = fa.get("status"), fb.get("status")
    if status_a != "ok" or status_b != "ok":
        if status_a == status_b:  # failed (or missing) in both: reproduced, as far as it goes
            entry["status"], entry["fails"] = f"{status_a} in both", False
        elif status_a == "ok":
            entry["status"], entry["fails"] = f"{status_b} in B", True
        elif status_b == "ok":
            entry["status"], entry["fails"] = f"{status_a} in A", True
        else:  # failed in one, missing in the other
            entry["status"], entry["fails"] = f"{status_a} in A, {status_b} in B", False
        entry["expected"] = entry["fails"] and _allowed(run, allow)
        return entry
    same_bytes = fa.get("image_sha256") is not None and fa.get("image_sha256") == fb.get("image_sha256")
    differences = metric_differences(a.metrics.get(run), b.metrics.get(run), margin)
    beyond = [d for d in differences if d["margins"] > 1.0]
    entry["identical_bytes"] = same_bytes
    entry["compared"] = len(differences)
    entry["worst"] = max(differences, key=lambda d: d["margins"]) if differences else None
    entry["beyond"] = beyond
    if beyond:
        entry["status"] = BEYOND
    elif same_bytes:
        entry["status"] = IDENTICAL
    elif differences:
        entry["status"] = WITHIN
    else:
        entry["status"] = NOT_MEASURED
    entry["fails"] = entry["status"] == BEYOND
    entry["expected"] = entry["fails"] and _allowed(run, allow)
    return entry


# ---------------------------------------------------------------- the whole comparison


def compare(
    a: Side,
    b: Side,
    allow_verdicts: list[str] = (),
    allow_runs: list[str] = (),
    findings_only: bool = False,
) -> dict:
    """The comparison of two sides, as JSON-able data (comparison.json)."""
    allow_verdicts, allow_runs = list(allow_verdicts), list(allow_runs)
    common = sorted(set(a.runs) & set(b.runs))
    if not common and not findings_only:
        raise CompareError(
            f"no run in common: A has {len(a.runs)} run{plural(len(a.runs))}, B {len(b.runs)}, none of the same name "
            "(a run id spells out every result parameter: runs at other heights, iterations or precision never "
            "match); --findings-only compares the verdicts alone"
        )
    margin, margin_source = margins(a, b)
    both, only_a, only_b = compare_findings(a, b, allow_verdicts)
    runs = [] if findings_only else [compare_run(run, a, b, margin, allow_runs) for run in common]
    setup = [
        {"fact": label, "key": key, "a": a.setup[key], "b": b.setup[key], "same": a.setup[key] == b.setup[key]}
        for key, label in SETUP_FACTS
    ]
    counts = {
        "findings": len(both),
        "same": sum(f["status"] != CHANGED for f in both),
        "changed": sum(f["status"] == CHANGED for f in both),
        "settledness_changed": sum(f["status"] == SETTLEDNESS for f in both),
        "runs": len(runs),
        **{status: sum(r["status"] == status for r in runs) for status in (IDENTICAL, WITHIN, BEYOND, NOT_MEASURED)},
        "failed_one_side": sum(r["fails"] and r["status"] != BEYOND for r in runs),
        "failed_both": sum(r["status"].endswith(" in both") for r in runs),
    }
    unexpected = [f for f in both if f["status"] == CHANGED and not f["expected"]]
    unexpected_runs = [r for r in runs if r["fails"] and not r["expected"]]
    known = {f["id"] for f in both} | {f["id"] for f in only_a + only_b}
    notes = [
        f"--allow-verdict-change {p}: no finding of that id" for p in allow_verdicts if not fnmatch.filter(known, p)
    ]
    notes += [f"--allow-beyond {p}: no run of that name in both" for p in allow_runs if not fnmatch.filter(common, p)]
    if findings_only:
        notes.append("--findings-only: the runs were not compared")
    comparison = {
        "format": COMPARISON_FORMAT,
        "a": {"path": str(a.path), "kind": a.kind, "described": a.described, "machine": a.machine},
        "b": {"path": str(b.path), "kind": b.kind, "described": b.described, "machine": b.machine},
        "setup": setup,
        "margins": {"source": margin_source, "values": margin},
        "findings": both,
        "findings_only_in_a": only_a,
        "findings_only_in_b": only_b,
        "runs": runs,
        "runs_only_in_a": sorted(set(a.runs) - set(b.runs)),
        "runs_only_in_b": sorted(set(b.runs) - set(a.runs)),
        "counts": counts,
        "expected": {"verdict_changes": allow_verdicts, "beyond": allow_runs},
        "notes": notes,
        "reproduced": not unexpected and not unexpected_runs,
        "findings_only": findings_only,
    }
    comparison["summary"] = summary_line(comparison)
    comparison["exit_status"] = 0 if comparison["reproduced"] else 1
    return comparison


def _finding_name(finding: dict, findings_list: list[dict]) -> str:
    """F3b, or F3b (pair) where the finding is judged on several pairs."""
    pairs = {f["pair"] for f in findings_list if f["id"] == finding["id"]}
    return finding["id"] if len(pairs) <= 1 else f"{finding['id']} ({finding['pair']})"


def summary_line(comparison: dict) -> str:
    """The one line a user acts on, e.g. "reproduced: 14 of 14 verdicts the same; 27 runs identical, 4
    within noise, 0 beyond"."""
    counts, both = comparison["counts"], comparison["findings"]
    changed = [f for f in both if f["status"] == CHANGED]
    parts = [f"{counts['same']} of {counts['findings']} verdicts the same"]
    if changed:
        names = ", ".join(_finding_name(f, both) + (" (expected)" if f["expected"] else "") for f in changed)
        parts[0] += f" (changed: {names})"
    if not comparison["findings_only"]:
        run_part = f"{counts[IDENTICAL]} runs identical, {counts[WITHIN]} within noise, {counts[BEYOND]} beyond"
        expected = sum(r["expected"] for r in comparison["runs"])
        if expected:
            run_part += f" ({expected} expected)"
        if counts[NOT_MEASURED]:
            run_part += f", {counts[NOT_MEASURED]} not measured"
        if counts["failed_one_side"]:
            run_part += f", {counts['failed_one_side']} failed on one side"
        parts.append(run_part)
    only = [
        f"{len(comparison[key])} {what}{plural(len(comparison[key]))} only in {side}"
        for key, what, side in (
            ("findings_only_in_a", "finding", "A"),
            ("findings_only_in_b", "finding", "B"),
            ("runs_only_in_a", "run", "A"),
            ("runs_only_in_b", "run", "B"),
        )
        if comparison[key]
    ]
    if only:
        parts.append(", ".join(only))
    allowed = any(f["expected"] for f in changed) or any(r["expected"] for r in comparison["runs"])
    head = "reproduced" if comparison["reproduced"] else "NOT reproduced"
    if comparison["reproduced"] and allowed:
        head += " (with the changes stated as expected)"
    return f"{head}: " + "; ".join(parts)


# ---------------------------------------------------------------- Markdown and the printed summary


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def difference_text(d: dict) -> str:
    return (
        f"{d['metric']} {format_g(d['a'])} → {format_g(d['b'])} ({d['difference']:+.3g}, "
        f"{d['margins']:.3g} margins) at {d['budget']}"
    )


def setup_differences(comparison: dict) -> list[str]:
    return [f"{row['fact']}: {row['a']} → {row['b']}" for row in comparison["setup"] if not row["same"]]


def markdown(comparison: dict) -> str:
    """The whole comparison as Markdown (comparison.md)."""
    a, b = comparison["a"], comparison["b"]
    lines = [
        "# Did I reproduce it?",
        "",
        f"- A: {a['described']}",
        f"- B: {b['described']}",
        "",
        f"**{comparison['summary']}**",
        "",
        "## The two set-ups",
        "",
        "| | A | B | |",
        "|---|---|---|---|",
    ]
    for row in comparison["setup"]:
        same = "same" if row["same"] else "**differs**"
        lines.append(f"| {row['fact']} | {_cell(row['a'])} | {_cell(row['b'])} | {same} |")
    lines += [
        "",
        f"CPU and GPU: A's {a['machine'].get('source')}; B's {b['machine'].get('source')}.",
        f"Noise margins: {comparison['margins']['source']}: "
        + ", ".join(f"{m} {format_g(v)}" for m, v in comparison["margins"]["values"].items())
        + ".",
        "",
        "## Findings",
        "",
    ]
    both = comparison["findings"]
    if both:
        lines += ["| finding | pair | A | B | |", "|---|---|---|---|---|"]
        for f in both:
            status = {SAME: "same", SETTLEDNESS: "same verdict, settledness changed"}.get(f["status"], "**changed**")
            if f["status"] == CHANGED:
                status += (" (expected)" if f["expected"] else "") + (
                    f": deciding {deciding_text(f['a']['deciding'])} → {deciding_text(f['b']['deciding'])}"
                )
            row = [f["id"], f["pair"], verdict_text(f["a"]), verdict_text(f["b"]), status]
            lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    else:
        lines.append("No finding in both.")
    for key, side in (("findings_only_in_a", "A"), ("findings_only_in_b", "B")):
        if comparison[key]:
            lines += ["", f"Only in {side}: " + ", ".join(f"{f['id']} ({f['pair']})" for f in comparison[key])]
    lines += ["", "## Runs", ""]
    if comparison["findings_only"]:
        lines.append("Not compared (--findings-only).")
    else:
        lines += [
            "identical: the final image's bytes are the same; within noise: every metric within its margin at "
            "every budget both measured; beyond noise: some metric beyond it (its difference in margins).",
            "",
            "| run | status | worst difference |",
            "|---|---|---|",
        ]
        for r in comparison["runs"]:
            status = r["status"] + (" (expected)" if r["expected"] else "")
            if r.get("beyond"):
                detail = "; ".join(difference_text(d) for d in r["beyond"])
            elif r.get("worst") and r["worst"]["margins"] > 0:
                detail = difference_text(r["worst"])
            elif r.get("worst"):
                detail = "every metric the same"
            else:
                detail = "—"
            lines.append(f"| {_cell(r['run'])} | {status} | {_cell(detail)} |")
    for key, side in (("runs_only_in_a", "A"), ("runs_only_in_b", "B")):
        if comparison[key]:
            lines += ["", f"Only in {side}:", *[f"- {run}" for run in comparison[key]]]
    if comparison["notes"]:
        lines += ["", "## Notes", "", *[f"- {note}" for note in comparison["notes"]]]
    return "\n".join(lines) + "\n"


def summary_text(comparison: dict, limit: int = 10) -> str:
    """What the command prints: the set-up differences, the changed findings, the runs beyond noise
    (at most `limit` of each), ending with the one line."""
    lines = [f"A: {comparison['a']['described']}", f"B: {comparison['b']['described']}"]
    differences = setup_differences(comparison)
    lines.append("set-ups differ in: " + "; ".join(differences) if differences else "set-ups: the same in every fact")
    lines.append(f"noise margins: {comparison['margins']['source']}")
    both = comparison["findings"]
    for f in [f for f in both if f["status"] != SAME][:limit]:
        line = f"  {_finding_name(f, both)}: {verdict_text(f['a'])} → {verdict_text(f['b'])}"
        if f["status"] == CHANGED:
            line += f"; deciding {deciding_text(f['a']['deciding'])} → {deciding_text(f['b']['deciding'])}"
        lines.append(line + (" (expected)" if f["expected"] else ""))
    failing = [r for r in comparison["runs"] if r["fails"]]
    for r in failing[:limit]:
        detail = "; ".join(difference_text(d) for d in r.get("beyond") or []) or r["status"]
        lines.append(f"  {r['run']}: {detail}" + (" (expected)" if r["expected"] else ""))
    if len(failing) > limit:
        lines.append(f"  ... and {len(failing) - limit} more runs (--out DIR writes them all)")
    lines += [f"note: {note}" for note in comparison["notes"]]
    lines.append(comparison["summary"])
    return "\n".join(lines)


def write_comparison(comparison: dict, out: Path) -> None:
    """comparison.md and comparison.json in `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKDOWN_FILE).write_text(markdown(comparison), encoding="utf-8")
    text = json.dumps(comparison, indent=1, allow_nan=False, default=str) + "\n"
    (out / JSON_FILE).write_text(text, encoding="utf-8")


def run_compare(
    a: Path, b: Path, allow_verdicts=(), allow_runs=(), findings_only: bool = False
) -> tuple[dict, Side, Side]:
    """Load both sides and compare them (CompareError for bad input)."""
    side_a, side_b = load_side(Path(a), "A"), load_side(Path(b), "B")
    return compare(side_a, side_b, allow_verdicts, allow_runs, findings_only), side_a, side_b


# ---------------------------------------------------------------- the pipeline's side (config compare_with)


def resolve_compare_with(value: str | None, base_dir: Path) -> Path | None:
    """Config compare_with as a path (relative ones from the project folder, as the images are), checked
    to be a results folder or a snapshot other than this pipeline's own results; None where unset."""
    if value is None:
        return None
    path = Path(value) if Path(value).is_absolute() else Path(base_dir) / value
    detect(path, "compare_with")
    if path.resolve() == Path(paths.RESULTS).resolve():
        raise CompareError(f"compare_with: {path} is this pipeline's own results folder")
    return path


def side_inputs(path: Path) -> list[str]:
    """The files of a side whose change changes the comparison: the rules' inputs (a newer reference
    reruns the report and the comparison)."""
    names = ("snapshot.json", "findings.json", "metrics.json")
    if detect(path, "compare_with") == "results folder":
        names = ("findings.json", "runs.tsv")
    return [str(Path(path) / name) for name in names]


def compare_job(compare_with: str | None, say: Callable[[str], None] = print) -> None:
    """Rule compare: this pipeline's results (A) against config compare_with (B), written to
    paths.COMPARE_MARKDOWN and COMPARE_JSON; the summary goes to the job's log. A comparison that says
    "NOT reproduced" is a result, not a failure of the job; bad input is (CompareError)."""
    if compare_with is None:
        raise CompareError("config compare_with is not set: nothing to compare with")
    comparison, _, _ = run_compare(Path(paths.RESULTS), Path(compare_with))
    write_comparison(comparison, Path(paths.COMPARE))
    say(summary_text(comparison))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nst_pipeline.compare",
        description="Did I reproduce it? Compare two results (each a results folder or a snapshot) finding by "
        "finding and run by run, within the noise margins. Exit status: 0 reproduced, 1 a verdict changed or a "
        "run beyond noise (not stated as expected), 2 bad input.",
    )
    parser.add_argument("a", type=Path, help="a results folder or a snapshot (e.g. results)")
    parser.add_argument("b", type=Path, help="a results folder or a snapshot (e.g. docs/reference)")
    parser.add_argument("--out", type=Path, help=f"write {MARKDOWN_FILE} and {JSON_FILE} into this folder")
    parser.add_argument(
        "--allow-verdict-change",
        action="append",
        default=[],
        metavar="ID",
        help="a finding (id, or a pattern such as 'F6*') whose verdict is expected to change; repeatable",
    )
    parser.add_argument(
        "--allow-beyond",
        action="append",
        default=[],
        metavar="RUN",
        help="a run (<pair>/<run id>, or a pattern such as '*_p_bf16') expected beyond noise or failed on "
        "one side; repeatable",
    )
    parser.add_argument(
        "--findings-only",
        action="store_true",
        help="compare the verdicts only (e.g. two scales, which share no run)",
    )
    args = parser.parse_args(argv)
    try:
        comparison, _, _ = run_compare(args.a, args.b, args.allow_verdict_change, args.allow_beyond, args.findings_only)
    except CompareError as error:
        print(f"compare: error: {error}", file=sys.stderr)
        return 2
    if args.out is not None:
        write_comparison(comparison, args.out)
        print(f"written: {args.out / MARKDOWN_FILE}, {args.out / JSON_FILE}")
    print(summary_text(comparison))  # its last line is the summary line
    return comparison["exit_status"]


if __name__ == "__main__":
    sys.exit(main())
