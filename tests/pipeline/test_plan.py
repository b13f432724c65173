"""The planner's config keys, through nst_pipeline.plan.plan_experiments directly (no Snakemake).

Configs here are what the JSON schema lets through; the planner owns every check that needs more
(names, files, the engine's ranges) and must refuse naming the key."""

from __future__ import annotations

import copy

import pytest
from pipeline_helpers import REPO

from nst_pipeline.plan import ConfigError, plan_experiments

CONFIG = {
    "images": {
        "content": {"chelsea": "data/content/chelsea.jpg", "coffee": "data/content/coffee.jpg"},
        "style": {"starry_night": "data/style/starry_night.jpg", "hubble": "data/style/hubble_deep_field.jpg"},
    },
    "pairs": [["chelsea", "starry_night"]],
    "defaults": {"weights": "bundled", "height": 32, "iterations": 3},
    "experiments": {
        "init": {"sweeps": [{"vary": {"init_method": ["content", "gaussian"]}}]},
        "style_layers": {"sweeps": [{"vary": {"style_layers": [2, 6]}}]},
    },
    "run_experiments": None,
}


def config(**changes) -> dict:
    return copy.deepcopy(CONFIG) | changes


def refused(config: dict) -> str:
    with pytest.raises(ConfigError) as error:
        plan_experiments(config, REPO)
    return str(error.value)


def test_experiment_pairs_replace_the_top_level_pairs():
    cfg = config()
    cfg["experiments"]["init"]["pairs"] = [["coffee", "hubble"], ["chelsea", "hubble"]]
    plan = plan_experiments(cfg, REPO)
    assert plan.experiments["init"].pairs == ["coffee__hubble", "chelsea__hubble"]
    assert plan.experiments["style_layers"].pairs == ["chelsea__starry_night"]  # no pairs of its own
    init_runs = [plan.runs[e["run"]] for entries in plan.experiments["init"].runs.values() for e in entries]
    assert sorted({(r.content, r.style) for r in init_runs}) == [
        (str(REPO / "data/content/chelsea.jpg"), str(REPO / "data/style/hubble_deep_field.jpg")),
        (str(REPO / "data/content/coffee.jpg"), str(REPO / "data/style/hubble_deep_field.jpg")),
    ]
    assert not any("starry_night" in e["run"] for entries in plan.experiments["init"].runs.values() for e in entries)


def test_runs_are_one_per_unique_parameter_set():
    plan = plan_experiments(config(), REPO)
    # init content == style_layers 6 (all defaults): 4 entries, 3 runs
    entries = [e["run"] for x in plan.experiments.values() for es in x.runs.values() for e in es]
    assert len(entries) == 4 and len(set(entries)) == 3 == len(plan.runs)


@pytest.mark.parametrize(
    "where, pairs, key, name",
    [
        ("top", [["chelsea", "starry_night"], ["tabby", "starry_night"]], "pairs[1]", "'tabby'"),
        ("top", [["chelsea", "monet"]], "pairs[0]", "'monet'"),
        ("experiment", [["chelsea", "van_gogh"]], "experiments.init.pairs[0]", "'van_gogh'"),
        ("experiment", [["starry_night", "starry_night"]], "experiments.init.pairs[0]", "'starry_night'"),
    ],
)
def test_unknown_pair_names_are_refused_naming_key_and_name(where, pairs, key, name):
    cfg = config()
    if where == "top":
        cfg["pairs"] = pairs
    else:
        cfg["experiments"]["init"]["pairs"] = pairs
    message = refused(cfg)
    assert f"config {key}:" in message and name in message, message


@pytest.mark.parametrize("where", ["pairs", "experiments.init.pairs"])
def test_a_pair_listed_twice_is_refused(where):
    cfg = config()
    twice = [["chelsea", "starry_night"], ["coffee", "hubble"], ["chelsea", "starry_night"]]
    if where == "pairs":
        cfg["pairs"] = twice
    else:
        cfg["experiments"]["init"]["pairs"] = twice
    message = refused(cfg)
    assert f"config {where}[2]:" in message and "twice" in message, message


@pytest.mark.parametrize("kind", ["content", "style"])
@pytest.mark.parametrize("name", ["my/cat", "my__cat"])
def test_image_names_with_slash_or_double_underscore_are_refused(kind, name):
    cfg = config()
    cfg["images"][kind][name] = cfg["images"][kind].pop("chelsea" if kind == "content" else "starry_night")
    message = refused(cfg)
    assert f"images.{kind}.{name}" in message and "'/'" in message and "'__'" in message, message


def test_unknown_run_experiment_is_refused():
    message = refused(config(run_experiments=["init", "backbone"]))
    assert "run_experiments" in message and "'backbone'" in message, message


def test_empty_run_experiments_is_refused():
    """An empty list is a mistake, not "run everything" (null runs everything)."""
    message = refused(config(run_experiments=[]))
    assert "run_experiments" in message and "empty" in message, message


def test_run_experiments_selects_and_null_means_all():
    assert list(plan_experiments(config(run_experiments=["style_layers"]), REPO).experiments) == ["style_layers"]
    assert list(plan_experiments(config(run_experiments=None), REPO).experiments) == ["init", "style_layers"]


@pytest.mark.parametrize(
    "key, values",
    [
        ("style_layers", [2, 6, 2]),
        ("content_weight", [100000, 100000.0]),  # equal numbers: one run
        ("init_method", ["gaussian", "gaussian"]),
    ],
)
def test_duplicate_values_in_a_vary_list_are_refused(key, values):
    cfg = config()
    cfg["experiments"]["style_layers"]["sweeps"][0]["vary"] = {key: values}
    message = refused(cfg)
    assert f"experiments.style_layers.sweeps[0].vary.{key}" in message and "twice" in message, message


@pytest.mark.parametrize(
    "place",
    ["defaults", "set", "vary"],
)
def test_learning_rate_zero_is_refused_naming_the_key(place):
    cfg = config()
    sweep = cfg["experiments"]["init"]["sweeps"][0]
    if place == "defaults":
        cfg["defaults"]["learning_rate"] = 0
    elif place == "set":
        sweep["set"] = {"learning_rate": 0}
    else:
        sweep["vary"] = {"learning_rate": [0.5, 0]}
    message = refused(cfg)
    assert "learning_rate" in message and "experiments.init.sweeps[0]" in message, message


def test_bf16_without_bf16_units_is_refused_at_planning(monkeypatch):
    """`snakemake -n` refuses through this (a real dry run: test_pipeline); both kinds of CPU."""
    cfg = config(device="cpu")
    cfg["experiments"]["init"]["sweeps"][0]["set"] = {"precision": "bf16"}
    monkeypatch.setenv("NST_CPU_FLAGS", "avx2 fma")
    message = refused(cfg)
    assert "2 run(s) with precision bf16" in message and "no bf16 units" in message and "allow_slow_bf16" in message
    assert plan_experiments(config(device="cpu"), REPO).runs  # fp32 only: planned
    assert plan_experiments(cfg | {"allow_slow_bf16": True}, REPO).runs  # insisted
    monkeypatch.setenv("NST_CPU_FLAGS", "avx2 fma avx512_bf16")
    plan = plan_experiments(cfg, REPO)
    assert sum(run.params["precision"] == "bf16" for run in plan.runs.values()) == 2


# --------------------------------------------------------------------------- spatial control (region maps)


def region_config(region_maps: dict, value: str = "cat") -> dict:
    cfg = config()
    cfg["images"]["style"]["starry_hubble"] = ["starry_night", "hubble"]
    cfg["images"]["region_map"] = region_maps
    cfg["experiments"] = {
        "spatial": {"pairs": [["chelsea", "starry_hubble"]], "sweeps": [{"vary": {"region_map": [value]}}]}
    }
    return cfg


def test_a_region_map_is_named_in_the_config_and_given_to_the_engine_as_its_file():
    from nst.weights import file_sha256

    plan = plan_experiments(region_config({"cat": "data/region/chelsea_cat.png"}), REPO)
    ((name, run),) = plan.runs.items()
    assert run.params["region_map"] == str(REPO / "data/region/chelsea_cat.png")
    assert name.startswith("chelsea__starry_hubble/") and name.endswith(
        f"_rm_{file_sha256(REPO / 'data/region/chelsea_cat.png')[:16]}"
    )
    (entry,) = plan.experiments["spatial"].runs["chelsea__starry_hubble"]
    assert entry["label"] == "region_map = cat"


@pytest.mark.parametrize(
    ("maps", "value", "message"),
    [
        (
            {"cat": "data/region/chelsea_cat.png"},
            "dog",
            r"spatial.sweeps\[0\] \(region_map = dog\): region_map 'dog' unknown",
        ),
        ({"cat": "data/region/nothing.png"}, "cat", r"images.region_map.cat: image file not found"),
        # coffee.jpg is 600x400, the content chelsea.jpg 451x300
        (
            {"cat": "data/content/coffee.jpg"},
            "cat",
            r"region_map .*coffee.jpg is 600x400 pixels, the content image .*chelsea.jpg 451x300",
        ),
    ],
)
def test_bad_region_maps_are_refused_at_planning_naming_them(maps, value, message):
    with pytest.raises(ConfigError, match=message):
        plan_experiments(region_config(maps, value), REPO)


def test_a_region_map_with_more_labels_than_the_pairs_styles_is_refused():
    cfg = region_config({"cat": "data/region/chelsea_cat.png"})
    cfg["experiments"]["spatial"]["pairs"] = [["chelsea", "starry_night"]]
    assert "label #ffffff has no style" in refused(cfg)
