#!/usr/bin/env python3
"""labels.csv from the two raters' blind labels (README.md beside this file, step 4).

    .venv/bin/python bench/labels/consensus.py

Where the raters agree, their label; where they differ, "faint": a case two careful looks disagree
on is not a clear case. Prints how often they agreed (and Cohen's kappa), per photo.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
RATERS = ("labels-rater1.csv", "labels-rater2.csv")
LABELS = ("recognisable", "faint", "not")


def read_labels(path: Path) -> dict[str, str]:
    with path.open() as handle:
        labels = {row["code"]: row["label"].strip() for row in csv.DictReader(handle)}
    bad = {code: label for code, label in labels.items() if label not in LABELS}
    if bad:
        raise SystemExit(f"{path.name}: labels other than {LABELS}: {bad}")
    return labels


def kappa(first: list[str], second: list[str]) -> float:
    """Cohen's kappa: agreement beyond what the two raters' label frequencies give by chance."""
    observed = sum(a == b for a, b in zip(first, second)) / len(first)
    counts_a, counts_b = Counter(first), Counter(second)
    expected = sum(counts_a[label] * counts_b[label] for label in LABELS) / len(first) ** 2
    return (observed - expected) / (1 - expected)


def main() -> None:
    one, two = (read_labels(HERE / name) for name in RATERS)
    if set(one) != set(two):
        raise SystemExit(f"the raters labelled different codes: {sorted(set(one) ^ set(two))}")
    with (HERE / "key.csv").open() as handle:
        known = {row["code"] for row in csv.DictReader(handle)}
    if set(one) != known:
        raise SystemExit(
            f"labels and key.csv differ: not labelled {sorted(known - set(one))}, unknown {sorted(set(one) - known)}"
        )
    codes = sorted(one)
    with (HERE / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "label", "rater1", "rater2"])
        for code in codes:
            writer.writerow([code, one[code] if one[code] == two[code] else "faint", one[code], two[code]])
    for initial in sorted({code[0] for code in codes}) + [None]:
        mine = [code for code in codes if initial is None or code[0] == initial]
        a, b = [one[c] for c in mine], [two[c] for c in mine]
        same = sum(x == y for x, y in zip(a, b))
        opposite = sum({x, y} == {"recognisable", "not"} for x, y in zip(a, b))
        print(
            f"{initial or 'all'}: {len(mine)} images, raters agree on {same} ({same / len(mine):.0%}), "
            f"kappa {kappa(a, b):.2f}; recognisable vs not: {opposite}"
        )
    print("consensus:", dict(Counter(one[c] if one[c] == two[c] else "faint" for c in codes)))


if __name__ == "__main__":
    main()
