"""The planner's config keys, through nst_pipeline.plan.plan_experiments directly (no Snakemake).

Configs here are what the JSON schema lets through; the planner owns every check that needs more
(names, files, the engine's ranges) and must refuse naming the key."""

from __future__ import annotations

import copy
import os

import pytest
import yaml
from pipeline_helpers import REPO, snakefile_config

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


def data(path: str) -> str:
    """A file of the workflow folder as the plan holds it: relative to the current directory (where
    Snakemake plans and its jobs run), so no planned path names the folder the project is in."""
    return os.path.relpath(REPO / path)


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
        (data("data/content/chelsea.jpg"), data("data/style/hubble_deep_field.jpg")),
        (data("data/content/coffee.jpg"), data("data/style/hubble_deep_field.jpg")),
    ]
    assert not any("starry_night" in e["run"] for entries in plan.experiments["init"].runs.values() for e in entries)


def test_runs_are_one_per_unique_parameter_set():
    plan = plan_experiments(config(), REPO)
    # init content == style_layers 6 (all defaults): 4 entries, 3 runs
    entries = [e["run"] for x in plan.experiments.values() for es in x.runs.values() for e in es]
    assert len(entries) == 4 and len(set(entries)) == 3 == len(plan.runs)


def test_a_blend_of_one_is_its_single_styles_run_shown_in_the_blends_grid():
    """style_blend_weights [1, 0] is the all-defaults run of starry_night (computed once, for init too),
    [0, 1] hubble's run in pair chelsea__hubble; the blend's grid lists them in place, with its images."""
    cfg = config()
    cfg["images"]["style"]["starry_hubble"] = ["starry_night", "hubble"]
    weights = [[1, 0], [0.5, 0.5], [0, 1]]
    sweeps = [{"vary": {"style_blend_weights": weights}}]
    cfg["experiments"]["style_blend"] = {"pairs": [["chelsea", "starry_hubble"]], "sweeps": sweeps}
    plan = plan_experiments(cfg, REPO)
    entries = plan.experiments["style_blend"].runs["chelsea__starry_hubble"]
    assert [entry["varied_values"] for entry in entries] == [{"style_blend_weights": w} for w in weights]
    first, blend, last = (entry["run"] for entry in entries)
    assert first == plan.experiments["init"].runs["chelsea__starry_night"][0]["run"]  # init content: all defaults
    assert last == first.replace("chelsea__starry_night/", "chelsea__hubble/")
    assert blend == first.replace("chelsea__starry_night/", "chelsea__starry_hubble/") + "_sb_0.5+0.5"
    styles = {
        name: data(f"data/style/{file}") for name, file in [("a", "starry_night.jpg"), ("b", "hubble_deep_field.jpg")]
    }
    assert (plan.runs[first].style, plan.runs[last].style) == (styles["a"], styles["b"])
    assert plan.runs[last].params["style_blend_weights"] is None and plan.runs[blend].style == [
        styles["a"],
        styles["b"],
    ]
    assert len(plan.runs) == 3 + 2  # init and style_layers: 3; the blend adds only 0.5:0.5 and hubble's run
    content = data("data/content/chelsea.jpg")
    assert plan.experiments["style_blend"].images == {"chelsea__starry_hubble": (content, [styles["a"], styles["b"]])}


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


def test_avg_pooling_for_another_backbone_is_refused_naming_the_sweep():
    cfg = config()
    cfg["experiments"]["init"]["sweeps"][0]["set"] = {"model": "resnet50", "weights": "random", "pooling": "avg"}
    message = refused(cfg)
    assert "experiments.init.sweeps[0]" in message, message
    assert "pooling 'avg' is for VGG backbones (vgg19, vgg16); model 'resnet50'" in message, message


def test_style_layer_weights_that_do_not_match_the_layer_count_are_refused_naming_the_run():
    cfg = config()
    cfg["defaults"]["style_layer_weights"] = [1, 2]  # style_layers varies over 2 and 6
    message = refused(cfg)
    assert "experiments.init.sweeps[0]" in message, message  # init's runs have the default 6 layers
    assert "style_layer_weights: 2 weights [1, 2] for 6 style layers" in message, message


def test_config_yamls_pooling_experiment_plans_at_tiny_yamls_size():
    """config.yaml's `pooling` experiment through the schema and the planner on tests/configs/tiny.yaml
    (32 px, 3 iterations): max is the all-defaults run, avg the same run id plus _pl_avg, and F7a's
    check is accepted (avg is a value the experiment runs)."""
    tiny = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text()) | {"run_experiments": ["pooling"]}
    plan = plan_experiments(snakefile_config(tiny), REPO)
    (pair,) = plan.experiments["pooling"].pairs
    entries = plan.experiments["pooling"].runs[pair]
    assert [entry["varied_values"] for entry in entries] == [{"pooling": "max"}, {"pooling": "avg"}]
    max_run, avg_run = (plan.runs[entry["run"]] for entry in entries)
    assert avg_run.name == max_run.name + "_pl_avg" and "_pl_" not in max_run.name
    assert (max_run.params["height"], max_run.params["iterations"], avg_run.params["pooling"]) == (32, 3, "avg")
    (finding,) = plan.experiments["pooling"].findings
    assert finding["id"] == "F7a" and finding["check"]["over"] == "pooling" and finding["check"]["expect"] == "avg"


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
    assert run.params["region_map"] == data("data/region/chelsea_cat.png")
    assert name.startswith("chelsea__starry_hubble/") and name.endswith(
        f"_rm_{file_sha256(REPO / 'data/region/chelsea_cat.png')[:16]}"
    )
    (entry,) = plan.experiments["spatial"].runs["chelsea__starry_hubble"]
    assert entry["label"] == "region_map = cat"


def test_planned_paths_are_relative_to_the_working_directory_unless_given_absolute(tmp_path, monkeypatch):
    """Relative config paths are the workflow folder's (base_dir), planned relative to the current
    directory - Snakemake's working directory, also with `--directory elsewhere` - so a run's
    parameters (its region map) and inputs never name the folder the project sits in; an absolute
    config path stays as given. The run ids do not depend on either (the map by its sha256)."""
    cfg = region_config({"cat": "data/region/chelsea_cat.png"})
    cfg["images"]["content"]["chelsea"] = str(REPO / "data/content/chelsea.jpg")
    here = plan_experiments(cfg, REPO)
    monkeypatch.chdir(tmp_path)
    elsewhere = plan_experiments(cfg, REPO)
    assert list(elsewhere.runs) == list(here.runs)
    (run,) = elsewhere.runs.values()
    assert run.params["region_map"] == os.path.relpath(REPO / "data/region/chelsea_cat.png", tmp_path)
    assert run.style == [
        os.path.relpath(REPO / f"data/style/{name}", tmp_path) for name in ("starry_night.jpg", "hubble_deep_field.jpg")
    ]
    assert run.content == str(REPO / "data/content/chelsea.jpg")


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
