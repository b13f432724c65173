#!/usr/bin/env python3
"""Which measure says "the photo is still recognisable" as the eye does? Candidates against the
blind labels of bench/labels/, each threshold fitted on some pairs and tested on the pair held out.

    .venv/bin/python bench/labels/validate_gate.py            # ~2 min on one core; prints the tables

Reads bench/labels/key.csv (code -> image) and bench/labels/labels.csv (code -> label, written
before any number was looked at: README.md beside this file). For every image it computes each
candidate against the pair's photo (as the measure jobs see it: resized to the image), then:
- clear cases only (recognisable vs not; "faint" is neither, and is shown apart), leave one pair out:
  each candidate's threshold is fitted on the other pairs (the cut that agrees with most of their
  labels) and applied to the held-out pair; the table gives the held-out agreement, pooled over the
  pairs, and the AUC (threshold-free ranking quality) pooled and per pair;
- the threshold fitted on all pairs (what the pipeline's gate uses) and where the faint images fall.
Writes bench/labels/measures.tsv (every image's candidates) for anyone to check.
"""

from __future__ import annotations

import csv
import math
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "bench/labels"
sys.path.insert(0, str(ROOT))

from nst_pipeline import metrics  # noqa: E402

sys.path.insert(0, str(HERE))
from make_sheets import CONTENT_PHOTOS  # noqa: E402  (one list of the labelled photos)

CLEAR = {"recognisable": 1, "not": 0}
# EfficientNet-Lite0's layer 4 (stride 8): the scale of VGG's relu4_2, the content layer
EFFNET_CONTENT_LAYER = 4


def effnet_content_distance(judge, rgb: np.ndarray, photo: np.ndarray) -> float:
    """content_distance by the EfficientNet-Lite0 judge, at its layer 4 (the judge has no content layer)."""
    size = metrics.judge_size(rgb, judge.height)
    mine = metrics._features(judge, rgb, size)[EFFNET_CONTENT_LAYER]
    theirs = metrics._features(judge, photo, size)[EFFNET_CONTENT_LAYER]
    return float(torch.linalg.norm(mine - theirs) / torch.linalg.norm(theirs))


# name -> (function(image, photo, judges) -> value, higher means more of the photo?)
CANDIDATES = {
    "content_ssim": (lambda rgb, photo, j: metrics.ssim_luminance(rgb, photo), True),
    "ssim_64px": (lambda rgb, photo, j: metrics.ssim_at(rgb, photo, metrics.COARSE_SSIM_HEIGHT), True),
    "ssim_32px": (lambda rgb, photo, j: metrics.ssim_at(rgb, photo, 32), True),
    "content_distance": (lambda rgb, photo, j: metrics.content_distance(j["vgg19"], rgb, photo), False),
    "content_distance_effnet": (lambda rgb, photo, j: effnet_content_distance(j["effnet"], rgb, photo), False),
    "edge_correlation": (lambda rgb, photo, j: metrics.edge_correlation(rgb, photo), True),
}


def read_csv(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def load_judges() -> dict:
    return {"vgg19": metrics.load_judge("vgg19"), "effnet": metrics.load_judge("efficientnet_lite0")}


def measure_all(rows: list[dict], judges: dict) -> list[dict]:
    photos = {name: metrics.read_rgb(ROOT / path) for name, path in CONTENT_PHOTOS.items()}
    for row in rows:
        rgb = metrics.read_rgb(HERE / row["file"])
        photo = photos[row["pair"].split("__")[0]]
        for name, (function, _) in CANDIDATES.items():
            row[name] = function(rgb, photo, judges)
    return rows


def auc(values: list[float], truth: list[int]) -> float:
    """P(a recognisable image scores above a not-recognisable one), ties half (Mann-Whitney)."""
    positives = [v for v, t in zip(values, truth) if t]
    negatives = [v for v, t in zip(values, truth) if not t]
    if not positives or not negatives:
        return math.nan
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def fit_threshold(values: list[float], truth: list[int]) -> float:
    """The cut (half-way between neighbouring values) that agrees with the most labels; on ties, the
    one whose agreeing cuts are centred (the middle of the widest run of best cuts)."""
    ordered = sorted(set(values))
    cuts = [ordered[0] - 1e-9] + [(a + b) / 2 for a, b in zip(ordered, ordered[1:])] + [ordered[-1] + 1e-9]
    scores = [sum((v >= cut) == bool(t) for v, t in zip(values, truth)) for cut in cuts]
    best = max(scores)
    winners = [cut for cut, score in zip(cuts, scores) if score == best]
    return winners[len(winners) // 2]


def evaluate(rows: list[dict], name: str, higher: bool) -> dict:
    sign = 1.0 if higher else -1.0
    clear = [row for row in rows if row["label"] in CLEAR]
    pairs = sorted({row["pair"] for row in clear})
    correct = total = 0
    per_pair = {}
    for held_out in pairs:
        train = [row for row in clear if row["pair"] != held_out]
        test = [row for row in clear if row["pair"] == held_out]
        cut = fit_threshold([sign * r[name] for r in train], [CLEAR[r["label"]] for r in train])
        hits = sum((sign * r[name] >= cut) == bool(CLEAR[r["label"]]) for r in test)
        correct, total = correct + hits, total + len(test)
        per_pair[held_out] = {
            "agreement": hits / len(test),
            "auc": auc([sign * r[name] for r in test], [CLEAR[r["label"]] for r in test]),
            "threshold": sign * cut,
        }
    everything = fit_threshold([sign * r[name] for r in clear], [CLEAR[r["label"]] for r in clear])
    faint = [sign * row[name] >= everything for row in rows if row["label"] == "faint"]
    return {
        "held_out_agreement": correct / total,
        "held_out_n": total,
        "auc": auc([sign * r[name] for r in clear], [CLEAR[r["label"]] for r in clear]),
        "per_pair": per_pair,
        "threshold": sign * everything,
        "faint_passing": (sum(faint), len(faint)),
    }


def noise_scales(judges: dict) -> dict[str, float]:
    """Each candidate's noise scale as bench/validate_yardstick.py defines it: the largest sample SD
    over runs that differ only by chance - three gaussian seeds, content init at 1 vs 2 threads
    (make_images.py's chance twins, results/labels/labels-noise/, chelsea x starry night, 128 px x 100)."""
    folder = ROOT / "results/labels/labels-noise/chelsea__starry_night"
    photo = metrics.read_rgb(ROOT / CONTENT_PHOTOS["chelsea"])
    groups = {
        "gaussian seeds": sorted(folder.glob("*_i_gaussian_*.png")),
        "content threads": sorted(folder.glob("*_i_content_*.png")),
    }
    if any(len(files) < 2 for files in groups.values()):
        return {}
    largest = {}
    for name, (function, _) in CANDIDATES.items():
        values = {
            group: [function(metrics.read_rgb(f), photo, judges) for f in files] for group, files in groups.items()
        }
        largest[name] = max(statistics.stdev(v) for v in values.values())
    return largest


def main() -> None:
    key = {row["code"]: row for row in read_csv(HERE / "key.csv")}
    labels = read_csv(HERE / "labels.csv")
    rows = [key[row["code"]] | {"label": row["label"]} for row in labels]
    judges = load_judges()
    rows = measure_all(rows, judges)
    noise = noise_scales(judges)
    with (HERE / "measures.tsv").open("w", newline="") as handle:
        fields = ["code", "pair", "run", "iteration", "label", *CANDIDATES]
        writer = csv.DictWriter(handle, fieldnames=fields, delimiter="\t", extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()} for row in rows)
    counts = {label: sum(row["label"] == label for row in rows) for label in ("recognisable", "faint", "not")}
    print(f"{len(rows)} labelled images: {counts}; pairs: {sorted({row['pair'] for row in rows})}\n")
    pairs = sorted({row["pair"] for row in rows if row["label"] in CLEAR})
    print(
        "| measure | held-out agreement (leave one pair out) | AUC | threshold (all pairs) | faint passing | "
        + " | ".join(f"{pair.split('__')[0]}: agreement / AUC" for pair in pairs)
        + " |"
    )
    print("|---" * (6 + len(pairs)) + "|")
    for name, (_, higher) in CANDIDATES.items():
        result = evaluate(rows, name, higher)
        cells = [
            f"{result['per_pair'][pair]['agreement']:.0%} / {result['per_pair'][pair]['auc']:.3f}" for pair in pairs
        ]
        noise_cell = f"{noise[name]:.4f}" if name in noise else "—"
        print(
            f"| `{name}` | {result['held_out_agreement']:.1%} of {result['held_out_n']} "
            f"| {result['auc']:.3f} | {'≥' if higher else '≤'} {result['threshold']:.3f} | {noise_cell} "
            f"| {result['faint_passing'][0]} of {result['faint_passing'][1]} | " + " | ".join(cells) + " |"
        )


if __name__ == "__main__":
    main()
