#!/usr/bin/env python3
"""Does the yardstick (nst_pipeline/metrics.py) rank runs the way the pictures look?

    OMP_NUM_THREADS=2 .venv/bin/python bench/validate_yardstick.py

Makes small runs of chelsea x starry night (bundled VGG19, 128 px, 100 L-BFGS iterations; cached in
results/validate_yardstick/, so a rerun only measures), then prints:
  1. per-layer style distances, plain (uncentred) Gram and centred Gram, for every run;
  2. candidate aggregations and whether each ranks the style_layers runs as the eye does
     (1 farthest from the painting, then 2, then 3, then 4..6 - see VISUAL_ORDER);
  3. the noise scale: how much each metric moves between runs that differ only by chance;
  4. every metric of measure() for every run (also written to metrics.tsv), and a contact sheet.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's nst, not whichever one the venv has installed

import numpy as np
from PIL import Image, ImageDraw
from skimage.exposure import match_histograms

import nst
from nst_pipeline import findings, metrics

CONTENT = ROOT / "data/content/chelsea.jpg"
STYLE = ROOT / "data/style/starry_night.jpg"
OUT = ROOT / "results/validate_yardstick"
# The validation scale (small enough for 2 CPU cores: ~10 s a run).
BASE = {"weights": "bundled", "height": 128, "iterations": 100}
RUNS = {  # group -> runs (overrides of BASE and nst.stylize's defaults)
    "layers": [{"style_layers": n} for n in range(1, 6)] + [{}],  # {}: the base run, style layers up to 6
    "noise gaussian L6": [{"init_method": "gaussian", "seed": s} for s in (0, 1, 2)],
    "noise gaussian L3": [{"init_method": "gaussian", "seed": s, "style_layers": 3} for s in (0, 1, 2)],
    # content init draws no random numbers: its only chance is float summation order (threads)
    "noise content": [{}, {"threads": 1}],  # {} runs with --threads (2)
    "seed at content init": [{"seed": 1}],  # the same pixels as the base run (noise_table checks)
    "style weight": [{"style_weight": w} for w in (3.0, 30.0, 300.0, 3e3, 3e5)],
    "backbone": [{"model": "efficientnet_lite0"}],
    "height 256": [{"style_layers": n, "height": 256} for n in (2, 3, 6)],
}
# What the contact sheet shows (looked at, not computed), farthest from the painting first; runs in
# one set look alike. Style layers up to 1: the photo with a blue cast; 2: plus fine strokes; 3: the
# painting's blues and small stars; 4..6: its swirls and stars (in a pink/green palette). Style
# weight 3: the photo with faint texture; 30: half-way; 300 and up: as stylised as the default.
VISUAL_ORDERS = {
    "style layers": [
        ["style_layers-1"],
        ["style_layers-2"],
        ["style_layers-3"],
        ["style_layers-4", "style_layers-5", "base"],
    ],
    "style weight": [
        ["style_weight-3.0"],
        ["style_weight-30.0"],
        ["style_weight-300.0", "style_weight-3000.0", "base", "style_weight-300000.0"],
    ],
    "layers, 256 px runs": [
        ["height-256_style_layers-2"],
        ["height-256_style_layers-3"],
        ["height-256_style_layers-6"],
    ],
}


def label(name: str) -> str:
    """A run name short enough for a table column."""
    for long, short in (
        ("init_method-gaussian", "gauss"),
        ("style_layers-", "L"),
        ("style_weight-", "sw"),
        ("height-", "px"),
    ):
        name = name.replace(long, short)
    return name


def run_name(overrides: dict) -> str:
    return "_".join(f"{k}-{v}" for k, v in sorted(overrides.items())) or "base"


def make_runs(threads: int) -> dict[str, dict]:
    """Every run of RUNS (made once, then read from the cache): name -> sidecar record."""
    records = {}
    for overrides in itertools.chain.from_iterable(RUNS.values()):
        name = run_name(overrides)
        out = OUT / f"{name}.png"
        if not (out.is_file() and out.with_suffix(".json").is_file()):
            arguments = BASE | {"threads": threads, "device": "cpu", "progress": False} | overrides
            result = nst.stylize(CONTENT, STYLE, out, **arguments)
            print(f"made {name}: {result.record['wall_time_s']} s", flush=True)
        records[name] = json.loads(out.with_suffix(".json").read_text())
    return records


def candidate_aggregates(rgb, style_rgb, content_layers: dict, judges: tuple) -> dict[str, float]:
    """The style-distance variants compared (the chosen one is `centred mean`)."""
    judge, second, judge_256 = judges
    plain = metrics.style_distances(judge, rgb, style_rgb, centred=False)
    centred = metrics.style_distances(judge, rgb, style_rgb, centred=True)
    matched = match_histograms(rgb, style_rgb, channel_axis=-1)  # the painting's palette forced on
    relative = [centred[k] / content_layers[k] for k in centred]
    relative_plain = [plain[k] / content_layers["plain " + k] for k in plain]
    return {
        "plain mean": np.mean(list(plain.values())),
        "plain geo-mean": np.exp(np.mean(np.log(list(plain.values())))),
        "plain max rel. photo": max(relative_plain),
        "centred mean": np.mean(list(centred.values())),
        "centred geo-mean": np.exp(np.mean(np.log(list(centred.values())))),
        "centred mean rel. photo": np.mean(relative),
        "centred relu3_1..5_1": np.mean(list(centred.values())[2:]),
        "palette-matched centred": np.mean(list(metrics.style_distances(judge, matched, style_rgb).values())),
        "centred, judge 256 px": np.mean(list(metrics.style_distances(judge_256, rgb, style_rgb).values())),
        "effnet centred mean": np.mean(list(metrics.style_distances(second, rgb, style_rgb).values())),
    }


def ranks_as_seen(values: dict[str, float], order: list[list[str]]) -> float:
    """The smallest gap between neighbouring sets of a visual order (farther set's nearest run minus
    nearer set's farthest run): > 0 when the metric ranks the runs as seen, < 0 when it inverts them."""
    return min(min(values[a] for a in far) - max(values[b] for b in near) for far, near in zip(order, order[1:]))


def measure_all(records: dict, judges: tuple) -> tuple[dict, dict]:
    """measure() for every run (plus the photo itself as a reference row), and the candidates."""
    judge, second, _ = judges
    style_rgb = metrics.read_rgb(STYLE)
    photo_rgb = metrics.read_rgb(CONTENT)
    # the photo's own per-layer distances: the reference of the "rel. photo" candidates
    photo = {f"plain {k}": v for k, v in metrics.style_distances(judge, photo_rgb, style_rgb, False).items()}
    photo |= metrics.style_distances(judge, photo_rgb, style_rgb)
    rows = {"photo (chelsea)": metrics.measure(CONTENT, CONTENT, STYLE, judge=judge, second_judge=second)}
    candidates = {"photo (chelsea)": candidate_aggregates(photo_rgb, style_rgb, photo, judges)}
    for name, record in records.items():
        path = OUT / f"{name}.png"
        initial = metrics.initial_image(record, CONTENT, STYLE)
        rows[name] = metrics.measure(path, CONTENT, STYLE, initial, judge=judge, second_judge=second, record=record)
        candidates[name] = candidate_aggregates(metrics.read_rgb(path), style_rgb, photo, judges)
    return rows, candidates


def print_layers(rows: dict, prefix: str, title: str) -> None:
    keys = [k for k in next(iter(rows.values())) if k.startswith(prefix + ".")]
    print(f"\n{title}\n{'run':24s} " + " ".join(f"{k.split('.')[-1]:>8s}" for k in keys) + f" {'mean':>8s}")
    for name, row in rows.items():
        print(f"{label(name):24s} " + " ".join(f"{row[k]:8.3f}" for k in keys) + f" {row[prefix]:8.3f}")


def print_candidates(candidates: dict) -> None:
    names = list(next(iter(candidates.values())))
    print("\nStyle-distance candidates (0 = the painting), and the smallest gap between sets of each visual")
    print("order (> 0: ranks the runs as seen; < 0: inverts them)")
    print(f"{'run':34s} " + " ".join(f"{n[:12]:>12s}" for n in names))
    for run, values in candidates.items():
        print(f"{label(run):34s} " + " ".join(f"{values[n]:12.3f}" for n in names))
    for title, order in VISUAL_ORDERS.items():
        gaps = [ranks_as_seen({run: v[n] for run, v in candidates.items()}, order) for n in names]
        print(f"{'gap, ' + title:34s} " + " ".join(f"{gap:+12.3f}" for gap in gaps))


NOISE_KEYS = findings.RUN_METRICS  # the per-run metrics checks compare against a noise scale


def noise_table(rows: dict, judge) -> None:
    """Per noise group: the standard deviation of each metric over runs that differ only by chance,
    the mean pairwise distances between those runs, and the proposed noise scale (the largest sd)."""
    seed_1 = metrics.read_rgb(OUT / f"{run_name({'seed': 1})}.png")
    same = np.array_equal(metrics.read_rgb(OUT / "base.png"), seed_1)
    print(f"\nNoise scale. Content init, seed 0 vs seed 1: {'identical pixels' if same else 'DIFFERENT pixels'}.")
    print("Standard deviation over runs that differ only by chance; pairwise: mean over their pairs")
    pair_keys = ("perceptual", "ssim", "palette")
    print(f"{'group':18s} " + " ".join(f"{k[:14]:>14s}" for k in NOISE_KEYS + tuple(f"pair {k}" for k in pair_keys)))
    largest = dict.fromkeys(NOISE_KEYS, 0.0)
    for group in ("noise content", "noise gaussian L6", "noise gaussian L3"):
        names = [run_name(o) for o in RUNS[group]]
        sds = {key: statistics.stdev(rows[n][key] for n in names) for key in NOISE_KEYS}
        largest = {key: max(largest[key], sds[key]) for key in NOISE_KEYS}
        pairs = metrics.pairwise_distances([OUT / f"{n}.png" for n in names], judge)
        means = [np.mean([p[k] for p in pairs]) for k in pair_keys]
        print(f"{group:18s} " + " ".join(f"{v:14.4f}" for v in list(sds.values()) + means))
    print(f"{'proposed sigma':18s} " + " ".join(f"{largest[key]:14.4f}" for key in NOISE_KEYS))
    scale = metrics.pairwise_distances([OUT / f"{n}.png" for n in ("style_layers-3", "base", "style_layers-4")], judge)
    for pair in scale:
        print(f"  for scale, {pair['a']} vs {pair['b']}: perceptual {pair['perceptual']:.3f}, ssim {pair['ssim']:.3f}")


def print_metrics(rows: dict) -> None:
    keys = [k for k in next(iter(rows.values())) if "." not in k and not k.startswith(("share_start", "judge"))]
    keys += [k for k in rows["base"] if k.startswith(("share_start", "share_end", "init_"))]
    keys = list(dict.fromkeys(keys))
    print("\nEvery run, measure()'s numbers (NaN/blank: not applicable)")
    print(f"{'run':24s} " + " ".join(f"{k.replace('_distance', '').replace('share_', 's_')[:11]:>11s}" for k in keys))
    for name, row in rows.items():
        print(f"{label(name):24s} " + " ".join(f"{row.get(k, float('nan')):11.3f}" for k in keys))


def write_tsv(rows: dict, path: Path) -> None:
    keys = list(dict.fromkeys(k for row in rows.values() for k in row))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["run", *keys])
        for name, row in rows.items():
            writer.writerow([name, *(row.get(k, "") for k in keys)])


def contact_sheet(rows: dict, path: Path, tile_height: int = 192) -> None:
    """Every run at 1.5x (nearest, so pixels show), captioned with its style and palette distances."""
    tiles = []
    for name, row in ({"starry_night (style)": None} | rows).items():
        source = STYLE if row is None else (CONTENT if name.startswith("photo") else OUT / f"{name}.png")
        image = Image.open(source).convert("RGB")
        width = round(image.width * tile_height / image.height)
        tile = Image.new("RGB", (max(width, 290), tile_height + 26), "white")
        tile.paste(image.resize((width, tile_height), Image.Resampling.NEAREST), (0, 26))
        caption = "" if row is None else f"style {row['style_distance']:.3f} palette {row['palette_distance']:.1f}"
        ImageDraw.Draw(tile).text((2, 1), f"{name}\n{caption}", fill="black")
        tiles.append(tile)
    columns, width, height = 4, max(t.width for t in tiles), max(t.height for t in tiles)
    sheet = Image.new("RGB", (columns * width, -(-len(tiles) // columns) * height), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * width, (i // columns) * height))
    sheet.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the runs (default 2)")
    args = parser.parse_args()
    records = make_runs(args.threads)
    judges = (metrics.load_judge("vgg19"), metrics.load_judge("efficientnet_lite0"), metrics.load_judge("vgg19", 256))
    rows, candidates = measure_all(records, judges)
    print(f"judge: {judges[0].weights_label}, {judges[0].height} px; second judge: {judges[1].weights_label}")
    print_layers(rows, "style_distance", "Centred-Gram distance per layer")
    print_candidates(candidates)
    noise_table(rows, judges[0])
    print_metrics(rows)
    write_tsv(rows, OUT / "metrics.tsv")
    contact_sheet(rows, OUT / "contact_sheet.png")
    print(f"\nwrote {OUT / 'metrics.tsv'} and {OUT / 'contact_sheet.png'}")


if __name__ == "__main__":
    main()
