"""The pipeline's report: ONE self-contained HTML page (images inlined as data URIs, inline CSS,
no scripts, no external references), plus `summarize()`, the sentences computed from the numbers.

An experiment dict: {"name": str, "claim": str, "varied": list[str], "grids": list[Path],
                     "runs": list[run dict]}
A run dict (see nst_pipeline.grid) plus "experiment": str, "pair": "content__style", "varied_values": dict.
A failed/missing run may also carry "parameters" (its planned stylize() parameters) for the table.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections import Counter
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from nst.images import atomic_write_bytes
from nst_pipeline.grid import is_random

LOSS_KINDS = ("total", "content", "style", "tv")
# (varied parameter, the loss it weights): raising the weight should lower that loss
WEIGHT_LOSS = (("style_weight", "style"), ("content_weight", "content"), ("tv_weight", "tv"))
# parameters that change what a loss value measures: losses are not like for like across them
MEASURE_PARAMETERS = ("model", "weights", "content_layer", "style_layers", "height")
RANDOM_TEXT = (
    "RANDOM WEIGHTS: {n} of {total} runs used a randomly initialised, not pretrained network. "
    "Their images and losses only test the pipeline; they are NOT neural style transfer results."
)


# ---------------------------------------------------------------------------------------------
# small helpers


def _esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _g(value) -> str:
    """%.3g, or an em dash for a missing value."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—"
    return f"{value:.3g}"


def _g2(a: float, b: float) -> tuple[str, str]:
    """a and b with enough significant digits (3 to 6) that unequal values read as unequal."""
    for digits in range(3, 7):
        ta, tb = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if ta != tb or a == b:
            break
    return ta, tb


def _num(value) -> str:
    """Times and memory: %.3g below 1000, whole numbers above."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _ratio(high: float, low: float) -> str:
    ratio = high / low
    if ratio < 1.1:
        return f"only {(ratio - 1) * 100:.2g}% above the lowest"
    return f"{ratio:.3g}× the lowest"


def _value_text(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    return str(value)


def _varied_text(run: dict) -> str:
    values = run.get("varied_values") or {}
    return ", ".join(f"{key} = {_value_text(value)}" for key, value in values.items())


def _label(run: dict) -> str:
    return str(run.get("label") or _varied_text(run) or run.get("run_id") or "?")


def _record(run: dict) -> dict:
    return run.get("record") or {}


def _params(run: dict) -> dict:
    return _record(run).get("parameters") or run.get("parameters") or {}


def _ok(run: dict) -> bool:
    record = _record(run)
    return run.get("status") == "ok" and bool(record.get("final_losses"))


def _final(run: dict, kind: str) -> float | None:
    value = (_record(run).get("final_losses") or {}).get(kind)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _weights_key(run: dict):
    weights = _record(run).get("weights") or {}
    return weights.get("sha256") or _params(run).get("weights")


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def _data_uri(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        mime = "image/png"
    elif data.startswith(b"\xff\xd8\xff"):
        mime = "image/jpeg"
    else:
        return None
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _distinct(values):
    seen = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


# ---------------------------------------------------------------------------------------------
# the computed sentences


def summarize(runs: list[dict]) -> list[str]:
    """Plain sentences on what `runs` (one experiment's) show, computed from their numbers only."""
    sentences: list[str] = []
    if not runs:
        return ["No runs."]
    ok = [run for run in runs if _ok(run)]
    counts = Counter(run.get("status", "missing") for run in runs)
    not_ok = len(runs) - len(ok)
    text = f"{len(ok)} of {len(runs)} runs finished"
    if not_ok:
        parts = [f"{counts[s]} {s}" for s in ("failed", "missing") if counts.get(s)]
        other = not_ok - counts.get("failed", 0) - counts.get("missing", 0)
        if other > 0:
            parts.append(f"{other} without results")
        text += " (" + ", ".join(parts) + ")"
    sentences.append(text + ".")
    randoms = [run for run in ok if is_random(run)]
    if randoms:
        sentences.append(
            f"{len(randoms)} of the finished runs used RANDOM (not pretrained) weights: their losses say "
            "nothing about style transfer."
        )
    pairs = _distinct(run.get("pair") for run in ok)
    for pair in pairs:
        group = [run for run in ok if run.get("pair") == pair]
        prefix = f"{pair}: " if len(pairs) > 1 else ""
        pretrained = [run for run in group if not is_random(run)]
        if pretrained and len(pretrained) < len(group):
            sentences.append(
                f"{prefix}The comparisons below leave out the {len(group) - len(pretrained)} random-weights "
                f"run(s) and use the {len(pretrained)} with pretrained weights."
            )
            group = pretrained
        sentences.extend(prefix + s for s in _pair_sentences(group))
    for run in ok:
        record = _record(run)
        if record.get("stopped_early"):
            planned = _params(run).get("iterations")
            of = f" of {planned}" if planned else ""
            sentences.append(
                f"{_label(run)} stopped early, after iteration {record.get('iterations_done')}{of}: "
                "L-BFGS made no further progress."
            )
    return sentences


def _pair_sentences(group: list[dict]) -> list[str]:
    out: list[str] = []
    if len(group) == 1:
        run = group[0]
        return [
            f"Only one finished run ({_label(run)}): final style loss {_g(_final(run, 'style'))}, "
            f"content loss {_g(_final(run, 'content'))}."
        ]
    for kind in ("style", "content"):
        scored = [(_final(run, kind), run) for run in group if _final(run, kind) is not None]
        if len(scored) < 2:
            continue
        low_value, low = min(scored, key=lambda item: item[0])
        high_value, high = max(scored, key=lambda item: item[0])
        if low_value == high_value:
            out.append(f"All {len(scored)} runs ended with the same final {kind} loss ({_g(low_value)}).")
            continue
        low_text, high_text = _g2(low_value, high_value)
        text = f"Lowest final {kind} loss: {_label(low)} ({low_text}); highest: {_label(high)} ({high_text})"
        text += f", {_ratio(high_value, low_value)}." if low_value > 0 else "; the lowest is 0."
        out.append(text)
    differing = [
        name
        for name in MEASURE_PARAMETERS
        if len(_distinct(_weights_key(r) if name == "weights" else _params(r).get(name) for r in group)) > 1
    ]
    if differing:
        out.append(
            f"These runs differ in {', '.join(differing)}, so their losses are measured differently: "
            "the comparison above is not like for like."
        )
    for parameter, kind in WEIGHT_LOSS:
        out.extend(_monotonic_sentences(group, parameter, kind))
    times = [(run, _record(run).get("time_per_iteration_s")) for run in group]
    times = [(run, t) for run, t in times if isinstance(t, (int, float))]
    if len(times) >= 2:
        fast, slow = min(times, key=lambda item: item[1]), max(times, key=lambda item: item[1])
        if slow[1] > 0 and fast[1] != slow[1]:
            out.append(
                f"Time per iteration: fastest {_label(fast[0])} ({_g(fast[1])} s), "
                f"slowest {_label(slow[0])} ({_g(slow[1])} s)."
            )
    return out


def _monotonic_sentences(group: list[dict], parameter: str, kind: str) -> list[str]:
    """Does loss `kind` fall as `parameter` grows, among runs equal in every other parameter?"""
    buckets: dict[str, list[dict]] = {}
    for run in group:
        params = _params(run)
        if not isinstance(params.get(parameter), (int, float)) or _final(run, kind) is None:
            continue
        others = {k: v for k, v in params.items() if k != parameter}
        key = repr(sorted(others.items())) + repr(_weights_key(run))
        buckets.setdefault(key, []).append(run)
    out = []
    for runs in buckets.values():
        values = [float(_params(run)[parameter]) for run in runs]
        if len(set(values)) < 2 or len(set(values)) != len(values):
            continue
        runs = sorted(runs, key=lambda run: float(_params(run)[parameter]))
        xs = [float(_params(run)[parameter]) for run in runs]
        ys = [_final(run, kind) for run in runs]
        rises = [(i, i + 1) for i in range(len(ys) - 1) if ys[i + 1] >= ys[i]]
        first, last = _g2(ys[0], ys[-1])
        span = f"{parameter} {xs[0]:g} → {xs[-1]:g}: {kind} loss {first} → {last}"
        if not rises:
            word = "falls monotonically" if len(xs) > 2 else "falls"
            out.append(f"Final {kind} loss {word} as {parameter} grows ({span}).")
        else:
            i, j = rises[0]
            more = f" (and at {len(rises) - 1} more step(s))" if len(rises) > 1 else ""
            before, after = _g2(ys[i], ys[j])
            out.append(
                f"Final {kind} loss does not fall monotonically as {parameter} grows: it goes from "
                f"{before} at {parameter} = {xs[i]:g} to {after} at {parameter} = {xs[j]:g}{more}."
            )
    return out


# ---------------------------------------------------------------------------------------------
# figures


def loss_curves_png(runs: list[dict], title: str) -> bytes | None:
    """Loss vs iteration (log y), one panel per loss term, one line per run; None if no history."""
    runs = [run for run in runs if _ok(run) and _record(run).get("loss_history")]
    if not runs:
        return None
    ncol = min(len(runs), 4)
    legend_rows = math.ceil(len(runs) / ncol)
    height = 3.1 + 0.22 * legend_rows
    fig = Figure(figsize=(13.6, height), dpi=100)
    axes = fig.subplots(1, len(LOSS_KINDS))
    cmap = matplotlib.colormaps["tab10" if len(runs) <= 10 else "tab20"]
    for index, run in enumerate(runs):
        history = _record(run)["loss_history"]
        iterations = range(1, len(history) + 1)
        label = _label(run) + (" [RANDOM WEIGHTS]" if is_random(run) else "")
        style = {
            "color": cmap(index % cmap.N),
            "linestyle": "--" if is_random(run) else "-",
            "linewidth": 1.4,
            "marker": "o" if len(history) < 3 else None,
            "markersize": 3,
        }
        for ax, kind in zip(axes, LOSS_KINDS):
            ys = [step.get(kind, float("nan")) for step in history]
            ax.plot(iterations, ys, label=label if kind == LOSS_KINDS[0] else None, **style)
    for ax, kind in zip(axes, LOSS_KINDS):
        ax.set_title(f"{kind} loss" + (" (weighted sum)" if kind == "total" else ""), fontsize=10)
        ax.set_xlabel("iteration", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(True, which="major", alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        positive = [y for line in ax.get_lines() for y in line.get_ydata() if y > 0]
        # log scale for the total always; for a term, where it spans more than a decade
        if positive and (kind == "total" or max(positive) > 10 * min(positive)):
            ax.set_yscale("log", nonpositive="mask")
            ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.3g}"))
    fig.suptitle(title, fontsize=11)
    fig.legend(loc="lower center", ncol=ncol, fontsize=8.5, frameon=False)
    bottom = (0.22 * legend_rows + 0.15) / height
    fig.tight_layout(rect=(0, bottom, 1, 0.97))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# the page

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: #1d1d1f; background: #f4f5f7; margin: 0; }
main { max-width: 1360px; margin: 0 auto; padding: 16px 20px 48px; }
h1 { font-size: 26px; margin: 8px 0 12px; }
h2 { font-size: 21px; margin: 0 0 8px; border-bottom: 2px solid #d9dce1; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
section, header { background: #fff; border: 1px solid #dde0e4; border-radius: 8px; padding: 14px 18px;
                  margin: 14px 0; }
.banner { background: #c40000; color: #fff; font-weight: 700; font-size: 17px; padding: 12px 16px;
          border-radius: 6px; margin: 10px 0; border: 3px solid #7a0000; }
.flag { display: inline-block; background: #c40000; color: #fff; font-weight: 700; font-size: 12px;
        padding: 1px 7px; border-radius: 4px; margin-left: 6px; vertical-align: middle; }
.counts { display: flex; gap: 10px; flex-wrap: wrap; margin: 6px 0 10px; padding: 0; list-style: none; }
.counts li { background: #eef1f5; border-radius: 6px; padding: 6px 12px; }
.counts b { font-size: 18px; }
.counts .bad { background: #fde8e8; color: #8a1010; }
.weights li.random { color: #c40000; font-weight: 700; }
nav a { margin-right: 14px; }
.claim { background: #f3f7ff; border-left: 4px solid #3b6fd8; padding: 6px 10px; margin: 8px 0; }
.summary { background: #f6fbf3; border-left: 4px solid #3f9a3a; padding: 4px 10px 4px 6px; margin: 8px 0; }
.summary ul { margin: 4px 0; padding-left: 22px; }
figure { margin: 8px 0 14px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e2e4e8; background: #fff; display: block; }
figcaption { color: #555; font-size: 12.5px; margin-top: 3px; }
.note { color: #8a1010; }
.tablewrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 11.5px; width: 100%; }
th, td { border: 1px solid #dfe2e6; padding: 3px 4px; vertical-align: top; text-align: left; }
th { background: #eef1f5; position: sticky; top: 0; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafbfc; }
tr.random td { background: #ffe9e9; }
tr.random td:first-child { border-left: 4px solid #c40000; }
tr.failed td, tr.missing td { color: #777; }
.status-ok { color: #1d7a1d; font-weight: 600; }
.status-failed, .status-missing { color: #b00000; font-weight: 700; }
pre.error { white-space: pre-wrap; word-break: break-word; background: #f7f7f7; border: 1px solid #e2e2e2;
            padding: 6px 8px; font-size: 12px; margin: 4px 0 10px; max-height: 16em; overflow: auto; }
"""

TABLE_COLUMNS = (
    "experiment",
    "pair",
    "varied values",
    "model",
    "weights",
    "init",
    "cw",
    "sw",
    "tv",
    "content layer",
    "style layers",
    "optimizer",
    "iter.",
    "height",
    "final content",
    "final style",
    "final tv",
    "final total",
    "wall s",
    "s / iter",
    "peak MB",
    "status",
)


def _weights_short(run: dict) -> str:
    weights = _record(run).get("weights") or {}
    if is_random(run):
        return "RANDOM"
    if weights:
        return f"{weights.get('source', '?')} {str(weights.get('sha256', ''))[:8]}".strip()
    return str(_params(run).get("weights", "—"))


def _table_row(run: dict) -> str:
    record, params = _record(run), _params(run)
    layers = record.get("layers") or {}
    status = run.get("status", "missing")
    content_layer = _esc(params.get("content_layer", "—"))
    if layers.get("content"):
        content_layer = f'<span title="layer {content_layer}">{_esc(layers["content"])}</span>'
    style_layers = _esc(params.get("style_layers", "—"))
    if layers.get("style"):  # the count, the layer names on hover
        style_layers = f'<span title="{_esc(", ".join(layers["style"]))}">{style_layers}</span>'
    iterations = record.get("iterations_done")
    if iterations is not None:
        early = " (stopped early)" if record.get("stopped_early") else ""
        iterations = f"{iterations}/{params.get('iterations', '?')}{early}"
    weights_cell = _esc(_weights_short(run))
    if is_random(run):
        weights_cell = f'<span class="flag">{weights_cell}</span>'
    text_cells = [
        _esc(run.get("experiment", "")),
        _esc(run.get("pair", "")).replace("__", "__<wbr>"),
        _esc(_varied_text(run) or run.get("label", "")),
        _esc(params.get("model", "—")),
        weights_cell,
        _esc(params.get("init_method", "—")),
    ]
    losses = [_final(run, kind) for kind in ("content", "style", "tv", "total")]
    cells = [f"<td>{c}</td>" for c in text_cells]
    cells += [f'<td class="num">{_g(params.get(k))}</td>' for k in ("content_weight", "style_weight", "tv_weight")]
    cells += [
        f"<td>{content_layer}</td>",
        f'<td class="num">{style_layers}</td>',
        f"<td>{_esc(params.get('optimizer', '—'))}</td>",
    ]
    cells += [
        f'<td class="num">{_esc(iterations if iterations is not None else "—")}</td>',
        f'<td class="num">{_esc(params.get("height", "—"))}</td>',
    ]
    cells += [f'<td class="num">{_g(v)}</td>' for v in losses]
    cells += [
        f'<td class="num">{_num(record.get(k))}</td>' for k in ("wall_time_s", "time_per_iteration_s", "peak_memory_mb")
    ]
    cells.append(f'<td class="status-{_esc(status)}">{_esc(status)}</td>')
    classes = [_esc(status)] + (["random"] if is_random(run) else [])
    return f'<tr class="{" ".join(classes)}">' + "".join(cells) + "</tr>"


def _grid_for_pair(grids: list[Path], pair: str) -> Path | None:
    for grid in grids:
        if Path(grid).stem == pair:
            return Path(grid)
    for grid in grids:  # "<experiment>__<pair>.png"
        if pair and Path(grid).stem.endswith("__" + pair):
            return Path(grid)
    return None


def _image_block(path: Path, alt: str, caption: str) -> str:
    path = Path(path)
    try:
        uri = _data_uri(path.read_bytes())
    except OSError as error:
        return f'<p class="note">Figure {_esc(path.name)} could not be read: {_esc(error)}</p>'
    if uri is None:
        return f'<p class="note">Figure {_esc(path.name)} is not a PNG or JPEG image.</p>'
    return f'<figure><img src="{uri}" alt="{_esc(alt)}"><figcaption>{_esc(caption)}</figcaption></figure>'


def _experiment_section(experiment: dict) -> str:
    name = str(experiment.get("name", "experiment"))
    runs = list(experiment.get("runs") or [])
    grids = [Path(g) for g in experiment.get("grids") or []]
    parts = [f'<section id="exp-{_esc(_slug(name))}">']
    random_runs = [run for run in runs if is_random(run)]
    n_random = len(random_runs)
    flag = f'<span class="flag">RANDOM WEIGHTS ({n_random} run{_s(n_random)})</span>' if n_random else ""
    parts.append(f"<h2>{_esc(name)}{flag}</h2>")
    if experiment.get("claim"):
        parts.append(f'<p class="claim"><b>Claim:</b> {_esc(experiment["claim"])}</p>')
    varied = experiment.get("varied") or []
    if varied:
        parts.append(f"<p><b>Varied:</b> {_esc(', '.join(map(str, varied)))}</p>")
    sentences = summarize(runs)
    parts.append('<div class="summary"><b>What these runs show</b> (computed from the final losses):<ul>')
    parts.extend(f"<li>{_esc(s)}</li>" for s in sentences)
    parts.append("</ul></div>")

    pairs = _distinct(run.get("pair") for run in runs)
    used = set()
    for pair in pairs:
        pair_runs = [run for run in runs if run.get("pair") == pair]
        n_random = sum(is_random(run) for run in pair_runs)
        pflag = f'<span class="flag">RANDOM WEIGHTS in {n_random} of {len(pair_runs)} runs</span>' if n_random else ""
        parts.append(f"<h3>{_esc(str(pair).replace('__', ' × '))}{pflag}</h3>")
        grid = _grid_for_pair(grids, str(pair))
        if grid is not None:
            used.add(grid)
            parts.append(_image_block(grid, f"comparison grid: {name}, {pair}", f"Comparison grid ({grid.name})."))
        else:
            parts.append('<p class="note">No comparison grid for this pair.</p>')
        png = loss_curves_png(pair_runs, f"{name} — {str(pair).replace('__', ' × ')}")
        if png is not None:
            parts.append(
                f'<figure><img src="{_data_uri(png)}" alt="loss curves: {_esc(name)}, {_esc(pair)}">'
                "<figcaption>Loss vs iteration, one line per run (log scale for the total and for any term "
                "spanning more than a decade); dashed = random weights."
                "</figcaption></figure>"
            )
    for grid in grids:
        if grid not in used:
            parts.append(_image_block(grid, f"comparison grid: {name}", f"Comparison grid ({grid.name})."))
    parts.append("</section>")
    return "\n".join(parts)


def build_report(experiments: list[dict], out: Path, title: str = "nst-pipeline report") -> None:
    """Write the whole report to `out` (one HTML file, atomically)."""
    out = Path(out)
    experiments = [  # copies: the caller's dicts are left as they are
        dict(e, runs=[dict(r, experiment=r.get("experiment") or e.get("name")) for r in e.get("runs") or []])
        for e in experiments
    ]
    runs = [run for experiment in experiments for run in experiment["runs"]]
    statuses = Counter(run.get("status", "missing") for run in runs)
    random_runs = [run for run in runs if is_random(run)]

    head = [f"<header><h1>{_esc(title)}</h1>"]
    if random_runs:
        head.append(
            f'<div class="banner" id="random-weights-banner">'
            f"{_esc(RANDOM_TEXT.format(n=len(random_runs), total=len(runs)))}</div>"
        )
    failed_n = statuses.get("failed", 0) + statuses.get("missing", 0)
    head.append('<ul class="counts">')
    head.append(
        f"<li><b>{len(experiments)}</b> experiment{_s(len(experiments))}</li>"
        f"<li><b>{len(runs)}</b> run{_s(len(runs))}</li>"
    )
    head.append(f"<li><b>{statuses.get('ok', 0)}</b> ok</li>")
    head.append(f'<li class="{"bad" if statuses.get("failed") else ""}"><b>{statuses.get("failed", 0)}</b> failed</li>')
    if statuses.get("missing"):
        head.append(f'<li class="bad"><b>{statuses["missing"]}</b> missing</li>')
    head.append("</ul>")
    weights = Counter()
    random_labels = set()
    for run in runs:
        label = (_record(run).get("weights") or {}).get("label")
        if label:
            weights[label] += 1
            if is_random(run):
                random_labels.add(label)
    head.append('<p><b>Weights used:</b></p><ul class="weights">')
    for label, n in weights.items():
        cls = ' class="random"' if label in random_labels else ""
        head.append(f"<li{cls}>{_esc(label)} — {n} run{_s(n)}</li>")
    if not weights:
        head.append("<li>none recorded (no finished run)</li>")
    head.append("</ul>")
    devices = _distinct(_record(run).get("device") for run in runs if _record(run).get("device"))
    torch_versions = _distinct((_record(run).get("versions") or {}).get("torch") for run in runs)
    torch_versions = [v for v in torch_versions if v]
    if devices or torch_versions:
        head.append(
            f"<p><b>Device:</b> {_esc(', '.join(devices) or '—')}; "
            f"<b>torch:</b> {_esc(', '.join(torch_versions) or '—')}</p>"
        )
    links = [f'<a href="#exp-{_esc(_slug(str(e.get("name", ""))))}">{_esc(e.get("name", ""))}</a>' for e in experiments]
    links.append('<a href="#all-runs">All runs</a>')
    if failed_n:
        links.append('<a href="#failures">Failed runs</a>')
    head.append("<nav>" + " ".join(links) + "</nav></header>")

    body = ["\n".join(head)]
    body.extend(_experiment_section(experiment) for experiment in experiments)

    table = ['<section id="all-runs"><h2>All runs</h2><div class="tablewrap"><table><thead><tr>']
    table.extend(f"<th>{_esc(c)}</th>" for c in TABLE_COLUMNS)
    table.append("</tr></thead><tbody>")
    table.extend(_table_row(run) for run in runs)
    table.append("</tbody></table></div>")
    table.append(
        "<p>cw, sw, tv: content, style and total-variation weights; style layers: how many (hover for "
        "their names). Losses are the final, unweighted terms. Rows in red used random weights.</p>"
        "</section>"
    )
    body.append("\n".join(table))

    bad = [run for run in runs if run.get("status") != "ok"]
    if bad:
        fail = ['<section id="failures"><h2>Failed and missing runs</h2>']
        for run in bad:
            fail.append(
                f"<h3>{_esc(run.get('experiment', ''))} / {_esc(run.get('pair', ''))} / {_esc(_label(run))}"
                f' <span class="status-{_esc(run.get("status", "missing"))}">{_esc(run.get("status", "missing"))}'
                f"</span></h3><p>run id: <code>{_esc(run.get('run_id', ''))}</code></p>"
                f'<pre class="error">{_esc(run.get("error") or "(no error text recorded)")}</pre>'
            )
        fail.append("</section>")
        body.append("\n".join(fail))

    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{CSS}</style></head>\n<body><main>\n"
        + "\n".join(body)
        + "\n</main></body></html>\n"
    )
    atomic_write_bytes(out, page.encode("utf-8"))
