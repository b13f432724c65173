"""Milestones: a run's image at earlier points of its own trajectory, kept beside its output.

A run of budget B also keeps its image after B/8, B/4 and B/2 iterations (the halvings of the
budget), so a judge can see whether a verdict at B was already reached at B/2 - without running
anything again: L-BFGS is deterministic, so the image after B/2 iterations of a B-iteration run IS the
result of a B/2-iteration run of the same parameters. They are derived from the iteration count
alone: no run parameter, no change of run id. For coarse-to-fine runs the fractions are of the final
stage's iterations (the earlier stages run at other sizes), counted after the earlier stages.

Save points (`save_every` N, `nst stylize --save-every N`, jcjohnson's -save_iter) are more of the
same: the images after every N-th iteration join the halvings, kept, written and listed by the same
code. save_every is an output option (no id key): it changes neither the run id nor the final image,
and the pipeline never sets it, so its runs keep exactly the halvings.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

# The halvings of the budget below B: three earlier looks are enough to see a trajectory and cost
# three small PNGs per run; the final image (B) is the run's own output.
MILESTONE_FRACTIONS = (Fraction(1, 8), Fraction(1, 4), Fraction(1, 2))
# Earlier than this, an image is mostly its initialisation: not a point worth judging.
MIN_MILESTONE_ITERATIONS = 5
# At most this many save points a run: each image is kept as floats (12 bytes a pixel: 2.6 MB at
# 400x533) in memory and in every checkpoint until the run ends, so 100 cost ~260 MB at 400 px; an
# image every iteration of a 1000-iteration run (2.6 GB) is refused before any work (nst.params).
MAX_SAVE_POINTS = 100


def _final_stage(params: dict) -> tuple[int, int]:
    """(iterations of the final stage, iterations before it)."""
    stages = list(params.get("stage_iterations") or [params["iterations"]])
    return stages[-1], sum(stages[:-1])


def milestone_iterations(params: dict) -> dict[int, float]:
    """{iteration: fraction} of a run's milestones, in order (the final image not included): the
    halvings, and the save points where params has a save_every.

    `params`: a run's parameters (iterations, and stage_iterations for coarse-to-fine runs). A
    milestone at fraction f of the final stage's N iterations is at iteration offset + floor(f * N),
    offset being the earlier stages' iterations; only those at least MIN_MILESTONE_ITERATIONS into
    the final stage are kept. A save point's fraction is its share of the final stage."""
    final, offset = _final_stage(params)
    milestones: dict[int, float] = {}
    for fraction in MILESTONE_FRACTIONS:
        into_stage = int(fraction * final)  # floor: a milestone never lies past its fraction
        if into_stage >= MIN_MILESTONE_ITERATIONS:
            milestones.setdefault(offset + into_stage, float(fraction))
    for iteration in save_points(params):
        milestones.setdefault(iteration, (iteration - offset) / final)
    return dict(sorted(milestones.items()))


def save_points(params: dict) -> list[int]:
    """The iterations save_every N asks for: the multiples of N (counted over the whole run, as the
    file names are) that lie in the final stage, the last iteration excluded (it is the output).
    Multiples in earlier stages are skipped: those images are at other sizes."""
    every = params.get("save_every") or 0
    if not every:
        return []
    final, offset = _final_stage(params)
    first = (offset // every + 1) * every  # the first multiple past the earlier stages
    return list(range(first, offset + final, every))


def milestone_dir(out: str | Path) -> Path:
    """The folder of a run's milestone images: `<output without suffix>.milestones/`."""
    out = Path(out)
    return out.with_name(out.stem + ".milestones")


def milestone_image(out: str | Path, iteration: int) -> Path:
    """One milestone image of the run writing `out` (always PNG, at the run's own size)."""
    return milestone_dir(out) / f"it{iteration:05d}.png"
