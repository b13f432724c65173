"""Draw data/region/chelsea_cat.png: the region map of data/content/chelsea.jpg for the spatial-control
experiment (nst.regions). The cat black, the background white: two flat colours, no anti-aliasing
(PIL's polygon fill), at the photo's own size (451x300). The outline was traced by eye on the photo
(cat's right cheek and ear against the blurred room; the whole left and bottom edges are cat).

    python bench/make_region_map.py            # writes data/region/chelsea_cat.png
    python bench/make_region_map.py --overlay /tmp/overlay.png   # the map over the photo, to check it
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "data/content/chelsea.jpg"
OUT = REPO / "data/region/chelsea_cat.png"
# (x, y) corners of the cat, clockwise from the top-left corner of the photo
CAT_OUTLINE = [
    (0, 0),
    (396, 0),
    (388, 30),
    (374, 70),
    (366, 110),
    (362, 150),
    (352, 195),
    (336, 235),
    (330, 270),
    (338, 300),
    (0, 300),
]
CAT, BACKGROUND = (0, 0, 0), (255, 255, 255)  # label order: black (cat) first, white (background) second


def draw(size: tuple[int, int]) -> Image.Image:
    region_map = Image.new("RGB", size, BACKGROUND)
    ImageDraw.Draw(region_map).polygon(CAT_OUTLINE, fill=CAT)
    return region_map


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overlay", type=Path, help="also write the map blended over the photo here")
    args = parser.parse_args()
    with Image.open(PHOTO) as photo:
        photo = photo.convert("RGB")
    region_map = draw(photo.size)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    region_map.save(OUT)
    print(f"wrote {OUT} ({region_map.size[0]}x{region_map.size[1]}, colours {sorted(region_map.getcolors())})")
    if args.overlay:
        Image.blend(photo, region_map, 0.45).save(args.overlay)


if __name__ == "__main__":
    main()
