"""One labelled comparison figure per experiment and content/style pair.

Layout: row 0 starts with the content and style thumbnails, then each run of that row in order
with its varied value(s) written under it; runs from further sweeps (run["row"] = 1, 2, ...) each
get a row of their own, indented under the thumbnails. A run made with random weights carries a
red "RANDOM WEIGHTS" label on its tile; a failed or missing run is a grey tile saying so, with the
start of its error. The weights used are written along the bottom of the figure.

Big sweeps: a grid draws at most MAX_TILES runs, evenly spaced in plan order (the first and last
kept), and says so under its title; a row of more than MAX_COLUMNS runs wraps onto further lines.
(Uncapped, 1,000 runs in one row are 1,000 unreadable tiles, or no figure at all: matplotlib refuses
the tiles' negative size.) The report's run table lists every run.

Runs are nst_pipeline.outcome.RunOutcome objects (their label, row, status, image, record, error).
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

from matplotlib.figure import Figure  # no pyplot: no global figure state, no GUI backend
from PIL import Image, ImageOps

from nst.images import atomic_write_bytes
from nst_pipeline import paths
from nst_pipeline.outcome import RunOutcome, load_outcomes

DPI = 100
MAX_FIGURE_WIDTH_IN = 16.0  # 1600 px at DPI 100
STACK_THUMBNAILS_ABOVE = 4  # runs in a single row; more: content and style share the first tile
MAX_TILE_WIDTH_IN = 2.6
TILE_LABEL_IN = 0.5  # room under each tile for its label (two short lines)
HALF_LABEL_IN = 0.22  # room for a one-line label under a half-size thumbnail
TITLE_IN = 0.55
TILE_PAD_IN = 0.06  # white around each picture
FOOTER_IN = 0.4
THUMBNAIL_PX = 512  # images are shrunk to this before plotting (figures stay fast with big inputs)
ERROR_CHARS = 60
MAX_TILES = 40  # runs drawn in one grid
MAX_COLUMNS = 8  # run tiles on one line of the grid
NOTE_IN = 0.3  # room for the "showing N of M runs" line


def sample_runs(runs: list, limit: int = MAX_TILES) -> tuple[list, str | None]:
    """At most `limit` of `runs`, evenly spaced in their order (first and last kept), and a note
    saying so (None when all are kept)."""
    if len(runs) <= limit:
        return list(runs), None
    picks = sorted({round(i * (len(runs) - 1) / (limit - 1)) for i in range(limit)})
    note = f"showing {len(picks)} of {len(runs)} runs, evenly spaced in plan order; the report's table lists all"
    return [runs[i] for i in picks], note


def _lines(runs: list[RunOutcome]) -> list[list[RunOutcome]]:
    """The runs of each line of tiles: sweep rows (run.row) in order, each wrapped after MAX_COLUMNS."""
    lines = []
    for row in sorted({run.row for run in runs}):
        members = [run for run in runs if run.row == row]
        lines += [members[start : start + MAX_COLUMNS] for start in range(0, len(members), MAX_COLUMNS)]
    return lines or [[]]


def grid_layout(runs: list[RunOutcome], aspect: float, note: str | None = None) -> dict:
    """Lines of tiles, columns, tile size and figure size (inches) for `runs` with tiles of `aspect` (w/h)."""
    lines = _lines(runs)
    most = max(len(line) for line in lines)
    # where the content and style thumbnails go: side by side in row 0 (few runs), one above the
    # other in the first column (several lines), or both in the first tile, half size (many runs)
    if len(lines) >= 2:
        thumbs = "column"
    elif most > STACK_THUMBNAILS_ABOVE:
        thumbs = "stacked"
    else:
        thumbs = "side by side"
    n_cols = (2 if thumbs == "side by side" else 1) + most
    aspect = min(max(aspect, 0.25), 4.0)
    # whole pixels, so the PNG's size is exactly figsize * DPI
    tile_w = round(DPI * min(MAX_TILE_WIDTH_IN, MAX_FIGURE_WIDTH_IN / n_cols)) / DPI
    tile_h = round(DPI * tile_w / aspect) / DPI
    width = round(DPI * tile_w * n_cols) / DPI
    title_in = TITLE_IN + (NOTE_IN if note else 0.0)
    height = round(DPI * (title_in + len(lines) * (tile_h + TILE_LABEL_IN) + FOOTER_IN)) / DPI
    return {
        "lines": lines,
        "title_in": title_in,
        "n_cols": n_cols,
        "tile_w": tile_w,
        "tile_h": tile_h,
        "thumbs": thumbs,
        "figsize": (width, height),
    }


def _thumbnail(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.LANCZOS)
        return image


def _wrap(text: str, width_in: float, lines: int = 2, fontsize: float = 8.5) -> str:
    """Wrap `text` to fit `width_in` inches at `fontsize` points (DejaVu Sans: ~0.6 em per character)."""
    width = max(12, int(width_in / (0.6 * fontsize / 72)))
    wrapped = textwrap.wrap(text, width=width) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][: width - 1] + "…"
    return "\n".join(wrapped)


def _weights_footer(runs: list[RunOutcome]) -> str:
    labels = []
    for run in runs:
        if run.weights_label and run.weights_label not in labels:
            labels.append(run.weights_label)
    return "weights: " + ("; ".join(labels) if labels else "unknown (no finished run)")


def _side_by_side(pictures: list[Image.Image]) -> Image.Image:
    """Pictures at a common height, left to right, in one image (one picture: itself)."""
    if len(pictures) == 1:
        return pictures[0]
    height = min(picture.size[1] for picture in pictures)
    scaled = [p.resize((max(1, round(p.size[0] * height / p.size[1])), height)) for p in pictures]
    joined = Image.new("RGB", (sum(p.size[0] for p in scaled), height), "white")
    left = 0
    for picture in scaled:
        joined.paste(picture, (left, 0))
        left += picture.size[0]
    return joined


def region_maps(runs: list[RunOutcome]) -> list[Path]:
    """The region maps the runs were made with (their sidecars' paths), each once, in run order."""
    maps = [run.parameters.get("region_map") for run in runs]
    return [Path(m) for m in dict.fromkeys(m for m in maps if m and Path(m).is_file())]


def make_grid(content: Path, style: Path | list[Path], runs: list[RunOutcome], title: str, out: Path) -> None:
    """Write one comparison PNG for one experiment and one content/style pair (atomically)."""
    atomic_write_bytes(Path(out), grid_png(content, style, runs, title))


def grid_png(content: Path, style: Path | list[Path], runs: list[RunOutcome], title: str) -> bytes:
    """The comparison figure for one experiment and one content/style pair, as PNG bytes. A blend's
    style images are shown side by side in the style thumbnail, the runs' region maps beside the
    content in the content thumbnail."""
    styles = [Path(style)] if isinstance(style, str | Path) else [Path(s) for s in style]
    content_img, style_img = _thumbnail(Path(content)), _side_by_side([_thumbnail(s) for s in styles])
    aspect = content_img.size[0] / content_img.size[1]
    maps = region_maps(runs)
    # a grey frame: a map's white region would vanish into the figure's white background
    content_img = _side_by_side([content_img, *(ImageOps.expand(_thumbnail(m), 2, "#888888") for m in maps)])
    content_name = Path(content).stem + "".join(f" + map {m.stem}" for m in maps)
    shown, note = sample_runs(runs)
    layout = grid_layout(shown, aspect, note)
    width, height = layout["figsize"]
    fig = Figure(figsize=(width, height), dpi=DPI)
    fig.suptitle(_wrap(title, width, lines=1, fontsize=12), y=1 - 0.12 / height, va="top", fontsize=12, weight="bold")
    if note:
        note_text = _wrap(note, width, lines=1, fontsize=9)
        fig.text(0.5, 1 - 0.5 / height, note_text, ha="center", va="top", fontsize=9, style="italic", color="#8a1010")

    style_name = "+".join(s.stem for s in styles)
    thumbnails = ((content_img, "content", content_name), (style_img, "style", style_name))
    for index, (image, what, name) in enumerate(thumbnails):
        if layout["thumbs"] == "side by side":
            ax = _tile_axes(fig, layout, 0, index)
        elif layout["thumbs"] == "column":
            ax = _tile_axes(fig, layout, index, 0)
        else:
            ax = _tile_axes(fig, layout, 0, 0, part=index, parts=2)
        ax.imshow(image)
        ax.set_aspect("equal")
        ax.axis("off")
        lines = 1 if layout["thumbs"] == "stacked" else 2
        _label_under(ax, f"{what}: {name}", layout["tile_w"], weight="bold", lines=lines)

    first_run_col = 2 if layout["thumbs"] == "side by side" else 1
    for line_index, line in enumerate(layout["lines"]):
        for i, run in enumerate(line):
            ax = _tile_axes(fig, layout, line_index, first_run_col + i)
            _draw_run(ax, run, layout["tile_w"], aspect)
            _label_under(ax, run.label or run.run_id, layout["tile_w"])

    footer = _wrap(_weights_footer(runs), width, lines=2, fontsize=7.5)
    fig.text(0.005, 0.08 / height, footer, ha="left", va="bottom", fontsize=7.5, color="#444444")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _tile_axes(fig: Figure, layout: dict, row_index: int, col: int, part: int = 0, parts: int = 1):
    """The axes of a tile; with parts=2, its upper (part 0) or lower (part 1) half."""
    width, height = layout["figsize"]
    tile_w, tile_h = layout["tile_w"], layout["tile_h"]
    left = col * tile_w + TILE_PAD_IN
    top = layout["title_in"] + row_index * (tile_h + TILE_LABEL_IN)
    box_h = tile_h
    if parts == 2:  # two pictures with a one-line label each, in a tile + its label room
        box_h = (tile_h + TILE_LABEL_IN) / 2 - HALF_LABEL_IN
        top += part * (box_h + HALF_LABEL_IN)
    bottom = height - top - box_h
    ax = fig.add_axes(
        (
            left / width,
            (bottom + TILE_PAD_IN) / height,
            (tile_w - 2 * TILE_PAD_IN) / width,
            (box_h - 2 * TILE_PAD_IN) / height,
        )
    )
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _label_under(ax, text: str, tile_w: float, weight: str = "normal", lines: int = 2) -> None:
    ax.text(
        0.5,
        -0.03,
        _wrap(text, tile_w, lines=lines),
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=8.5,
        color="black",
        weight=weight,
        linespacing=1.1,
    )


def _draw_run(ax, run: RunOutcome, tile_w: float, aspect: float) -> None:
    status, error, image_path = run.status, run.error, run.image
    image = None
    if status == "ok":  # its files may have gone since its outcome was read
        if image_path is not None and Path(image_path).is_file():
            try:
                image = _thumbnail(Path(image_path))
            except OSError as exc:
                status, error = "failed", f"unreadable image: {exc}"
        else:
            status, error = "missing", f"image not found: {image_path}"
    if image is None:
        _draw_failure(ax, status, error, tile_w, aspect)
        return
    ax.imshow(image)
    ax.set_aspect("equal")
    ax.axis("off")
    if run.is_random:
        _random_weights_label(ax)


def _draw_failure(ax, status: str, error: str | None, tile_w: float, aspect: float) -> None:
    """A grey tile saying FAILED or MISSING, with the start of the error."""
    ax.set_xlim(0, aspect)  # same shape as the image tiles
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_facecolor("#c8c8c8")
    for spine in ax.spines.values():
        spine.set_color("#888888")
    message = "FAILED" if status == "failed" else "MISSING"
    ax.text(
        0.5,
        0.62,
        message,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=13,
        weight="bold",
        color="#444444",
    )
    if error:
        text = " ".join(str(error).split())[:ERROR_CHARS]
        ax.text(
            0.5,
            0.38,
            _wrap(text, 0.85 * tile_w, lines=4, fontsize=7),
            transform=ax.transAxes,
            ha="center",
            va="top",
            fontsize=7,
            color="#333333",
            family="monospace",
        )


def _random_weights_label(ax) -> None:
    ax.text(
        0.5,
        0.96,
        "RANDOM WEIGHTS",
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=9,
        weight="bold",
        color="white",
        bbox={"boxstyle": "round,pad=0.25", "facecolor": "#d00000", "edgecolor": "none"},
    )


def grid_title(experiment: str, pair: str) -> str:
    content, style = paths.split_pair(pair)
    return f"{experiment}: {content} x {style}"


def write_grid(
    experiment: str,
    pair: str,
    entries: list[dict],
    content: str,
    style: str | list[str],
    out: Path,
) -> None:
    outcomes = load_outcomes(experiment, pair, entries)
    make_grid(Path(content), style, outcomes, grid_title(experiment, pair), Path(out))
