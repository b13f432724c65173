#!/usr/bin/env python3
"""The labelled set's images and its blind contact sheets.

    .venv/bin/python bench/labels/make_sheets.py --long-results /path/to/long-preview/results

1. Gathers every image to label - the finals and milestones of bench/labels/make_images.py's runs
   (results/labels/) and of the long preview's chelsea x starry night runs (config/long.yaml) - into
   bench/labels/images/<pair>/<run id>__it<iteration>.png (committed: the set can be relabelled and
   remeasured without an hour of stylising).
2. Gives each image a random code and writes bench/labels/key.csv (code -> pair, run, iteration, file).
3. Draws bench/labels/sheets/<pair>-<n>.png: the pair's photo at the top, then its images in a
   shuffled order, each under its code only: nothing on a sheet says which run, init, weight or
   iteration made a tile, and nothing is measured before the labels are written (README.md beside).

Seeded (SEED), so the same images give the same codes and sheets.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "bench/labels"
sys.path.insert(0, str(ROOT))

from nst.naming import parse_run_id  # noqa: E402

IMAGES, SHEETS, KEY = HERE / "images", HERE / "sheets", HERE / "key.csv"
SEED = 20261207
TILE_HEIGHT = 192  # 128 px images enlarged 1.5x: a sheet looks at them as a grid cell is looked at
PER_ROW, PER_SHEET = 5, 25
# each photo's code letter (chelsea's C is coffee's: K for the cat)
CODE_LETTERS = {"chelsea": "K", "coffee": "C", "astronaut": "A", "rocket": "R"}
CONTENT_PHOTOS = {
    "chelsea": "data/content/chelsea.jpg",
    "coffee": "data/content/coffee.jpg",
    "astronaut": "data/content/astronaut.jpg",
    "rocket": "data/content/rocket.jpg",
}


def run_images(runs_dir: Path) -> list[tuple[str, str, int, Path]]:
    """(pair, run id, iteration, file) of every final image and milestone under runs_dir/<pair>/."""
    found = []
    for final in sorted(runs_dir.glob("*/*.png")):
        pair, run = final.parent.name, final.stem
        found.append((pair, run, parse_run_id(run)["iterations"], final))
        for milestone in sorted(final.with_suffix(".milestones").glob("it*.png")):
            found.append((pair, run, int(milestone.stem[2:]), milestone))
    return found


def gather(sources: list[Path], pairs: list[str] | None) -> list[dict]:
    rows = []
    for source in sources:
        for pair, run, iteration, path in run_images(source):
            if pairs and pair not in pairs:
                continue
            target = IMAGES / pair / f"{run}__it{iteration:04d}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            rows.append({"pair": pair, "run": run, "iteration": iteration, "file": str(target.relative_to(HERE))})
    return rows


def assign_codes(rows: list[dict]) -> list[dict]:
    """A random code per image, drawn per pair (a pair's codes and sheets do not change when another
    pair is added): the photo's letter (CODE_LETTERS) and three digits."""
    coded = []
    for pair in sorted({row["pair"] for row in rows}):
        mine = sorted((row for row in rows if row["pair"] == pair), key=lambda row: row["file"])
        codes = random.Random(f"{SEED}-{pair}").sample(range(100, 1000), len(mine))
        letter = CODE_LETTERS[pair.split("__")[0]]
        coded += [{"code": f"{letter}{code}"} | row for code, row in zip(codes, mine)]
    return coded


def _tile(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image = image.convert("RGB")
        width = round(image.width * TILE_HEIGHT / image.height)
        return image.resize((width, TILE_HEIGHT), Image.Resampling.BICUBIC)


def draw_sheet(photo: Path, tiles: list[dict], title: str) -> Image.Image:
    images = [_tile(HERE / tile["file"]) for tile in tiles]
    cell_w, cell_h = max(image.width for image in images) + 8, TILE_HEIGHT + 22
    reference = _tile(ROOT / photo)
    rows = -(-len(images) // PER_ROW)
    sheet = Image.new("RGB", (cell_w * PER_ROW, TILE_HEIGHT + 40 + rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    sheet.paste(reference, (4, 24))
    draw.text((4, 4), f"{title} - the photo (reference); below: images to label, by code", fill="black")
    for index, (tile, image) in enumerate(zip(tiles, images)):
        x, y = (index % PER_ROW) * cell_w + 4, TILE_HEIGHT + 40 + (index // PER_ROW) * cell_h
        sheet.paste(image, (x, y))
        draw.text((x, y + TILE_HEIGHT + 4), tile["code"], fill="black")
    return sheet


def draw_sheets(rows: list[dict]) -> None:
    shutil.rmtree(SHEETS, ignore_errors=True)
    SHEETS.mkdir(parents=True)
    for pair in sorted({row["pair"] for row in rows}):
        tiles = [row for row in rows if row["pair"] == pair]
        random.Random(f"{SEED}-{pair}-order").shuffle(tiles)
        content = pair.split("__")[0]
        for number, start in enumerate(range(0, len(tiles), PER_SHEET), 1):
            sheet = draw_sheet(CONTENT_PHOTOS[content], tiles[start : start + PER_SHEET], f"{content} sheet {number}")
            sheet.save(SHEETS / f"{content}-{number}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long-results", type=Path, required=True, help="the long preview's results/ folder")
    parser.add_argument("--pairs", nargs="*", help="only these pairs (default: every pair found)")
    args = parser.parse_args()
    shutil.rmtree(IMAGES, ignore_errors=True)
    rows = assign_codes(gather([ROOT / "results/labels", args.long_results / "runs"], args.pairs))
    with KEY.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    draw_sheets(rows)
    print(f"{len(rows)} images, codes in {KEY.relative_to(ROOT)}, sheets in {SHEETS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
