"""The noise repeats (nst_pipeline.repeats: planning) and the margins measured from them
(nst_pipeline.noise), with synthetic numbers: no run is computed. The planner's configs are tiny (32 px,
3 iterations) and only planned; the report job reads a hand-made results tree whose metrics are chosen
so that each verdict is known with the fixed table's margin and with the measured one."""

from __future__ import annotations

import copy
import json
import math
import statistics
from pathlib import Path

import pytest
from PIL import Image
from pipeline_helpers import REPO, config_refusal, html_element
from scipy.stats import chi2

from nst.api import RESULT_PARAMETERS, check_run
from nst.naming import run_id
from nst_pipeline import noise, paths
from nst_pipeline.findings import margin
from nst_pipeline.plan import ConfigError, plan_experiments
from nst_pipeline.repeats import NOISE_EXPERIMENT, SCALE_PARAMETERS
from nst_pipeline.report_job import write_report

PAIR = "chelsea__starry_night"
TINY = {"weights": "bundled", "height": 32, "iterations": 3}
BEST_CONTENT = {"kind": "best", "metric": "style_distance", "goal": "lowest", "expect": "content"}
CONFIG = {
    "images": {
        "content": {"chelsea": "data/content/chelsea.jpg"},
        "style": {"starry_night": "data/style/starry_night.jpg"},
    },
    "pairs": [["chelsea", "starry_night"]],
    "defaults": TINY | {"noise_units": "grey_levels"},
    "experiments": {
        "init": {
            "sweeps": [{"vary": {"init_method": ["content", "gaussian"]}}],
            "findings": [{"id": "A1", "statement": "s", "source": "t", "check": BEST_CONTENT}],
        },
        "style_layers": {
            "sweeps": [{"vary": {"style_layers": [2, 6]}}],
            "findings": [
                {
                    "id": "A2",
                    "statement": "s",
                    "source": "t",
                    "check": {"kind": "alike", "metric": "perceptual", "expect": "alike"},
                }
            ],
        },
    },
    "run_experiments": None,
    "noise_repeats": 2,
}


def config(**changes) -> dict:
    return copy.deepcopy(CONFIG) | changes


def refused(cfg: dict) -> str:
    with pytest.raises(ConfigError) as error:
        plan_experiments(cfg, REPO)
    return str(error.value)


# ---------------------------------------------------------------- planning


def test_repeats_are_planned_once_per_scale_and_shared():
    """Two findings at one scale: one repeat set; its first runs are init's own content and gaussian runs."""
    plan = plan_experiments(config(), REPO)
    [(label, scale)] = plan.noise["scales"].items()
    assert label == "32 px × 3 iterations, vgg19 (bundled weights)" and set(scale["parameters"]) == set(
        SCALE_PARAMETERS
    )
    runs = scale["pairs"][PAIR]
    assert [len(runs["gaussian"]), len(runs["content"])] == [3, 3]  # noise_repeats 2: 3 samples each
    init = [entry["run"] for entry in plan.experiments["init"].runs[PAIR]]
    assert runs["content"][0] == init[0] and runs["gaussian"][0] == init[1]  # shared, not planned twice
    assert [plan.runs[r].params["seed"] for r in runs["gaussian"]] == [0, 1, 2]
    assert [plan.runs[r].params["init_nudge"] for r in runs["content"]] == [0, 1, 2]
    assert all(plan.runs[r].params["noise_units"] == "grey_levels" for r in runs["gaussian"])  # the defaults'
    assert runs["content"][1].endswith("_s_0_nd_1") and "_nd_" not in runs["content"][0]
    # 2 init runs + style layers 2 (6 is init's content run) + 2 new per kind
    assert len(plan.runs) == 3 + 4
    entries = plan.experiments[NOISE_EXPERIMENT].runs[PAIR]
    assert [(e["label"], e["row"]) for e in entries] == [
        ("gaussian, seed 0", 0),
        ("gaussian, seed 1", 0),
        ("gaussian, seed 2", 0),
        ("content", 1),
        ("content, nudge 1", 1),
        ("content, nudge 2", 1),
    ]
    assert plan.noise["findings"] == {
        "A1": {PAIR: {"scale": label, "reason": "the scale of its runs"}},
        "A2": {PAIR: {"scale": label, "reason": "the scale of its runs"}},
    }
    assert plan.experiments[NOISE_EXPERIMENT].findings == []


def test_each_scale_findings_are_judged_at_gets_its_own_repeats():
    """A finding at 40 px: a second set. A finding across two scales is judged at its first run's (a tie)."""
    cfg = config()
    cfg["experiments"]["style_layers"]["sweeps"][0]["set"] = {"height": 40}
    cfg["experiments"]["pooling"] = {
        "sweeps": [{"vary": {"pooling": ["max", "avg"]}}],
        "findings": [{"id": "A3", "statement": "s", "source": "t", "check": BEST_CONTENT | {"expect": "avg"}}],
    }
    plan = plan_experiments(cfg, REPO)
    assert list(plan.noise["scales"]) == [
        "32 px × 3 iterations, vgg19 (bundled weights)",
        "40 px × 3 iterations, vgg19 (bundled weights)",
    ]
    a3 = plan.noise["findings"]["A3"][PAIR]
    assert (
        a3["scale"].startswith("32 px")
        and "also reads: 32 px × 3 iterations, vgg19 (bundled weights), avg pooling" in a3["reason"]
    )
    labels = [e["label"] for e in plan.experiments[NOISE_EXPERIMENT].runs[PAIR]]
    assert labels[0] == "32: gaussian, seed 0" and labels[-1] == "40: content, nudge 2"  # only what differs
    assert len(plan.runs) == 3 + 1 + 4 + 6  # the avg run; 32 px: 4 new; 40 px: 6 new (no base run there)


def test_noise_repeats_0_plans_none_and_the_findings_say_fixed_table():
    plan = plan_experiments(config(noise_repeats=0), REPO)
    assert plan.noise["scales"] == {} and NOISE_EXPERIMENT not in plan.experiments and len(plan.runs) == 3
    assert plan.noise["findings"]["A1"][PAIR] == {"scale": None, "reason": "noise_repeats: 0"}
    at = noise.finding_margins(plan.noise, {}, plan.experiments["init"].findings[0], PAIR)
    record = at(1.0)["style_distance"]
    assert record["source"] == "fixed table" and record["value"] == pytest.approx(margin("style_distance"))
    assert record["text"] == "margin from the fixed table (noise_repeats: 0)"


def test_random_weights_runs_get_no_repeats():
    cfg = config()
    cfg["defaults"]["weights"] = "random"
    plan = plan_experiments(cfg, REPO)
    assert plan.noise["scales"] == {}
    assert plan.noise["findings"]["A1"][PAIR] == {"scale": None, "reason": "its runs use random weights"}


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (-1, "must be 0"),
        (1.5, "must be an integer"),
        ("3", "must be an integer"),
        (True, "must be an integer"),
        (21, "more than 20"),
    ],
)
def test_bad_noise_repeats_are_refused_naming_the_key(value, words):
    message = refused(config(noise_repeats=value))
    assert message.startswith("config noise_repeats: ") and words in message, message


def test_bad_noise_repeats_are_refused_by_the_schema_too():
    """What the Snakefile runs first: the schema names the key (integer 0..20)."""
    assert "noise_repeats" in config_refusal({"noise_repeats": -1})
    assert "noise_repeats" in config_refusal({"noise_repeats": 21})


def test_a_metric_with_neither_repeats_nor_a_fixed_scale_is_refused_naming_finding_and_metric():
    cfg = config(noise_repeats=0)
    check = {"kind": "best", "metric": "share_end_style", "goal": "lowest", "expect": "content"}
    cfg["experiments"]["init"]["findings"][0]["check"] = check
    message = refused(cfg)
    assert message.startswith("config experiments.init.findings[0].check.metric: finding A1 reads 'share_end_style'")
    assert "no fixed-table noise scale" in message and "noise_repeats: 0" in message
    plan_experiments(cfg | {"noise_repeats": 1}, REPO)  # with repeats it has a margin: accepted


def test_the_noise_experiments_name_is_reserved_while_repeats_run():
    cfg = config()
    cfg["experiments"][NOISE_EXPERIMENT] = {"sweeps": [{"vary": {"seed": [0, 1]}}]}
    assert refused(cfg).startswith(f"config experiments.{NOISE_EXPERIMENT}: the name is the noise repeats' grid")


def test_demo_and_reference_configs_plan_their_repeats():
    """The demo: one scale (128 px x 20), 6 new runs; config.yaml (make reference's matrix): 3 scales."""
    import yaml
    from pipeline_helpers import snakefile_config

    demo = plan_experiments(snakefile_config(yaml.safe_load((REPO / "config/demo.yaml").read_text())), REPO)
    assert list(demo.noise["scales"]) == ["128 px × 20 iterations, vgg19 (bundled weights)"]
    assert len(demo.runs) == 31 + 6
    full = plan_experiments(snakefile_config(), REPO)
    assert [label.split(", ", 1)[1] for label in full.noise["scales"]] == [
        "vgg19 (bundled weights)",
        "vgg19 (imagenet weights)",  # F6a, F6c: vgg19 first of their runs
        "resnet50 (imagenet weights)",  # F6b reads resnet50 and inception_v3 only
    ]
    assert len(full.runs) == 33 + 6 + 7 + 7


# ---------------------------------------------------------------- the margin rule


def test_the_margin_is_2_sqrt_2_times_the_95_percent_upper_bound_of_the_spread():
    values = [0.50, 0.52, 0.47, 0.55]
    s = statistics.stdev(values)
    expected = 2 * math.sqrt(2) * s * math.sqrt(3 / chi2.ppf(0.05, 3))
    assert noise.upper_bound(s, 3) == pytest.approx(s * 2.920, rel=1e-3)  # 4 samples: 2.92 s
    found = noise.scale_margins("S", {PAIR: {"gaussian": list("abcd"), "content": list("efgh")}}, _measured(values), {})
    record = found[1.0]["style_distance"]
    assert record["value"] == pytest.approx(expected, rel=1e-5)
    assert (record["kind"], record["samples"], record["dof"], record["runs"]) == ("gaussian", 4, 3, list("abcd"))


def _measured(gaussian: list[float], content: float = 0.5) -> dict:
    rows = {name: {"style_distance": v} for name, v in zip("abcd", gaussian)}
    rows |= {name: {"style_distance": content} for name in "efgh"}  # content repeats: no spread
    return {name: {"metrics": row, "budgets": []} for name, row in rows.items()}


def test_pairwise_perceptual_margin_from_the_content_repeats_distances():
    """sqrt(mean d^2 / 2) is one run's spread: for numbers, all pairs' mean squared difference is 2 s^2."""
    xs = [0.1, 0.3, 0.2]
    rows = [{"a": a, "b": b, "perceptual": abs(x - y)} for (a, x), (b, y) in _pairs(dict(zip("efg", xs)))]
    pairs = {PAIR: {"gaussian": [], "content": list("efg")}}
    measured = {run: {"metrics": {}, "budgets": []} for run in "efg"}
    record = noise.scale_margins("S", pairs, measured, {PAIR: {1.0: rows}})[1.0]["perceptual"]
    assert record["spread"] == pytest.approx(statistics.stdev(xs)) and record["dof"] == 2


def _pairs(named: dict) -> list:
    items = list(named.items())
    return [(items[i], items[j]) for i in range(len(items)) for j in range(i + 1, len(items))]


# ---------------------------------------------------------------- verdicts: measured margin vs fixed table

ROOT = Path(__file__).resolve().parents[2]
CONTENT, STYLE = ROOT / "data/content/chelsea.jpg", ROOT / "data/style/starry_night.jpg"
BASE = {"weights": "bundled", "height": 32, "iterations": 10}
# the experiment's two runs (style weight 10 and 100) at B/2 and B: style distance and content SSIM
SWEEP = {
    10.0: {"style_distance": (0.50, 0.50), "content_ssim": (0.41, 0.41)},
    100.0: {"style_distance": (0.55, 0.55), "content_ssim": (0.40, 0.40)},
}
# the repeats: the gaussian ones' style distances spread widely at B (SD 0.05), little at B/2 (0.002);
# every content SSIM within 0.001 of the others
GAUSSIAN_STYLE = {0.5: [0.500, 0.502, 0.498, 0.500], 1.0: [0.50, 0.56, 0.44, 0.50]}
SSIM = [0.400, 0.401, 0.399, 0.400]
FINDINGS = [
    {  # effect 0.05: beyond the fixed margin (0.0198), within the measured one at B (~0.4), beyond at B/2 (~0.02)
        "id": "N1",
        "statement": "Style weight 10 is closest to the painting.",
        "source": "test",
        "check": {"kind": "best", "metric": "style_distance", "goal": "lowest", "expect": 10, "over": "style_weight"},
    },
    {  # effect 0.01: within the fixed margin (0.0186), beyond the measured one (~0.007)
        "id": "N2",
        "statement": "Style weight 10 keeps more of the photo.",
        "source": "test",
        "check": {"kind": "best", "metric": "content_ssim", "goal": "highest", "expect": 10, "over": "style_weight"},
    },
]


def _params(**values) -> dict:
    checked = check_run(CONTENT, STYLE, **(BASE | values))
    return {name: checked[name] for name in RESULT_PARAMETERS}


def _write_run(root: Path, params: dict, budgets: dict[float, dict]) -> str:
    name = f"{PAIR}/{run_id(params)}"
    image = root / paths.run_image(name)
    image.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (48, 32), (120, 90, 60)).save(image)
    record = {
        "content_image": str(CONTENT),
        "style_image": str(STYLE),
        "style_images": [str(STYLE)],
        "parameters": params,
        "weights": {"source": "bundled", "sha256": "ab" * 32, "label": "bundled (test)", "pretrained": True},
        "random_weights": False,
        "iterations_done": 10,
        "final_losses": {"content": 1.0, "style": 2.0, "tv": 3.0, "total": 6.0},
        "loss_history": [{"content": 1.0, "style": 2.0, "tv": 3.0, "total": 6.0}] * 10,
    }
    (root / paths.run_sidecar(name)).write_text(json.dumps(record))
    rows = [
        {"fraction": f, "iteration": round(10 * f), "metrics": {"judge_height": 32} | m} for f, m in budgets.items()
    ]
    measured = root / paths.run_metrics(name)
    measured.parent.mkdir(parents=True, exist_ok=True)
    measured.write_text(
        json.dumps({"run": name, "judge": {"height": 32}, "metrics": rows[-1]["metrics"], "budgets": rows})
    )
    return name


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, dict, dict]:
    root = tmp_path_factory.mktemp("noise")
    sweep = []
    for weight, values in SWEEP.items():
        budgets = {f: {key: pair[i] for key, pair in values.items()} for i, f in enumerate((0.5, 1.0))}
        name = _write_run(root, _params(style_weight=weight), budgets)
        sweep.append(
            {"run": name, "label": f"style_weight = {weight:g}", "row": 0, "varied_values": {"style_weight": weight}}
        )
    kinds = {"gaussian": [], "content": []}
    for k in range(4):
        budgets = {f: {"style_distance": GAUSSIAN_STYLE[f][k], "content_ssim": SSIM[k]} for f in (0.5, 1.0)}
        kinds["gaussian"].append(_write_run(root, _params(init_method="gaussian", seed=k), budgets))
        budgets = {f: {"style_distance": 0.5, "content_ssim": SSIM[k]} for f in (0.5, 1.0)}
        kinds["content"].append(_write_run(root, _params(init_nudge=k), budgets))
    scale = "32 px × 10 iterations, vgg19 (bundled weights)"
    noise_plan = {
        "repeats": 3,
        "experiment": NOISE_EXPERIMENT,
        "scales": {scale: {"parameters": {}, "pairs": {PAIR: kinds}}},
        "findings": {f["id"]: {PAIR: {"scale": scale, "reason": "the scale of its runs"}} for f in FINDINGS},
    }
    entries = [
        {"run": r, "label": r[-8:], "row": row, "varied_values": {}}
        for row, runs in enumerate(kinds.values())
        for r in runs
    ]
    plan = {
        "sweep": {
            "claim": "",
            "varied": ["style_weight"],
            "pairs": [PAIR],
            "runs": {PAIR: sweep},
            "findings": FINDINGS,
        },
        NOISE_EXPERIMENT: {"claim": "", "varied": [], "pairs": [PAIR], "runs": {PAIR: entries}, "findings": []},
    }
    for experiment in plan:  # the grids made (the report would draw them: seconds of matplotlib)
        grid = root / paths.grid_image(experiment, PAIR)
        grid.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(grid)
    # the same runs judged without repeats (noise_repeats 0: no noise experiment either)
    without = {"sweep": plan["sweep"]}
    for name, plan_now, noise_now in (("measured", plan, noise_plan), ("fixed", without, None)):
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(root)
            out = root / name
            out.mkdir()
            write_report(
                plan_now, out / "report.html", "test", out / "runs.tsv", out / "findings.json", noise_plan=noise_now
            )
    return root, noise_plan, kinds


def _findings(root: Path, which: str) -> dict:
    return json.loads((root / which / "findings.json").read_text())


def test_an_effect_between_the_two_margins_changes_its_verdict(tree):
    root, _, _ = tree
    fixed = {f["id"]: f for f in _findings(root, "fixed")["findings"]}
    measured = {f["id"]: f for f in _findings(root, "measured")["findings"]}
    assert fixed["N1"]["verdict"] == "agrees" and measured["N1"]["verdict"] == "inconclusive"  # 0.05 within ~0.4
    assert fixed["N2"]["verdict"] == "inconclusive" and measured["N2"]["verdict"] == "agrees"  # 0.01 beyond ~0.007
    # each budget its own margin: at B/2 the gaussian repeats barely spread, so N1 agreed there
    assert [(b["budget"], b["verdict"]) for b in measured["N1"]["trajectory"]] == [
        ("B/2", "agrees"),
        ("B", "inconclusive"),
    ]
    half, final = (b["margins"]["style_distance"]["value"] for b in measured["N1"]["trajectory"])
    assert half < 0.05 < final


def test_findings_json_records_each_margin_and_where_it_came_from(tree):
    root, _, kinds = tree
    n1 = {f["id"]: f for f in _findings(root, "measured")["findings"]}["N1"]
    record = n1["margins"]["style_distance"]
    assert record["source"] == "measured" and record["kind"] == "gaussian" and record["runs"] == kinds["gaussian"]
    assert (record["samples"], record["dof"]) == (4, 3) and record["spread"] == pytest.approx(
        statistics.stdev(GAUSSIAN_STYLE[1.0])
    )
    assert record["fixed"] == pytest.approx(margin("style_distance")) and n1["numbers"]["margin"] == record["value"]
    assert n1["margin_source"] == "margin measured here"
    fixed = {f["id"]: f for f in _findings(root, "fixed")["findings"]}["N1"]
    assert (
        fixed["margin_source"] == "margin from the fixed table"
        and fixed["margins"]["style_distance"]["source"] == "fixed table"
    )
    section = _findings(root, "measured")["noise"]
    assert section["repeats"] == 3 and section["confidence"] == 0.95 and section["findings"]["N1"][PAIR]["scale"]
    [table] = section["scales"]
    assert [b["budget"] for b in table["budgets"]] == ["B/2", "B"]
    rows = {row["metric"]: row for row in table["budgets"][-1]["rows"]}
    assert rows["style_distance"]["margin"] == record["value"] and rows["content_ssim"]["kind"] == "gaussian"
    assert _findings(root, "fixed")["noise"]["scales"] == []


def test_the_scorecard_shows_the_noise_table_and_each_findings_margin_source(tree):
    root, _, _ = tree
    card = html_element((root / "measured" / "report.html").read_text(), "scorecard")
    assert "margin measured here" in card.text and "Noise margins, measured at the scale judged" in card.text
    assert "32 px × 10 iterations, vgg19 (bundled weights)" in card.text
    fixed = html_element((root / "fixed" / "report.html").read_text(), "scorecard")
    assert "margin from the fixed table" in fixed.text and "Noise margins" not in fixed.text


def test_the_snapshots_scorecard_has_the_noise_table(tree):
    from nst_pipeline.snapshot import scorecard_markdown

    root, _, _ = tree
    card = scorecard_markdown(_findings(root, "measured"))
    assert "## Noise margins, measured at the scale judged" in card
    assert "| style_distance | gaussian seeds | 0.049 | 4 |" in card and "margin measured here" in card
    assert "Margins: the fixed table" in scorecard_markdown(_findings(root, "fixed"))
