#!/usr/bin/env python3
"""Fingerprint every result under some folders, to prove a refactor changed no pixel.

    .venv/bin/python bench/output_manifest.py results/ > before.json
    ... change the code, rerun the same runs ...
    .venv/bin/python bench/output_manifest.py results/ > after.json
    .venv/bin/python bench/output_manifest.py --compare before.json after.json

Each image with a JSON sidecar is keyed by what determines it (the sidecar's parameters, the input
images' sha256 and the image format), so renamed outputs still match up. For each it records the
sha256 of the file and of the decoded RGB pixels: the file bytes also hold metadata (the sidecar's
name), the pixels are the result itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from PIL import Image


def result_key(record: dict, image: Path) -> str:
    """Parameters added after a manifest was written are left out where they are at their default,
    so results from before and after such an addition still match up."""
    from nst.naming import extra_defaults

    later = extra_defaults()
    params = {k: v for k, v in record["parameters"].items() if k not in later or v != later[k]}
    key = {
        "parameters": params,
        "content": record["content_sha256"],
        "style": record.get("style_sha256"),
        "format": image.suffix.lower(),
    }
    return json.dumps(key, sort_keys=True)


def manifest(folders: list[Path]) -> dict:
    entries = {}
    for folder in folders:
        for sidecar in sorted(folder.rglob("*.json")):
            try:
                record = json.loads(sidecar.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if not isinstance(record, dict) or "parameters" not in record:
                continue
            image = next((p for p in (sidecar.with_suffix(s) for s in (".png", ".jpg")) if p.is_file()), None)
            if image is None:
                continue
            with Image.open(image) as pil:
                pixels = hashlib.sha256(pil.convert("RGB").tobytes()).hexdigest()
            entries[result_key(record, image)] = {
                "path": str(image),
                "file_sha256": hashlib.sha256(image.read_bytes()).hexdigest(),
                "pixels_sha256": pixels,
            }
    return entries


def compare(before: dict, after: dict) -> int:
    shared = sorted(set(before) & set(after))
    bad = [key for key in shared if before[key]["pixels_sha256"] != after[key]["pixels_sha256"]]
    for key in bad:
        print(f"PIXELS DIFFER: {before[key]['path']} vs {after[key]['path']}")
    same_bytes = sum(before[k]["file_sha256"] == after[k]["file_sha256"] for k in shared)
    print(
        f"{len(shared)} results in both ({len(before)} before, {len(after)} after): "
        f"{len(shared) - len(bad)} with identical pixels, {same_bytes} with identical file bytes"
    )
    return 1 if bad or not shared else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--compare", action="store_true", help="compare two manifests (before, after)")
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.paths)
        return compare(before, after)
    json.dump(manifest(args.paths), sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
