"""Output names: run ids are exact (injective, with a left inverse), CLI names never collide."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nst.api import RESULT_PARAMETERS, check_run, parameter_defaults
from nst.backbones import BACKBONES
from nst.naming import (
    RUN_ID_EXTRAS,
    RUN_ID_FIELDS,
    classic_output_name,
    cli_output_name,
    encode_number,
    parse_run_id,
    run_id,
)
from nst.params import (
    COLOR_CONTROLS,
    DEFAULT_LEARNING_RATE,
    INIT_METHODS,
    NOISE_UNITS,
    OPTIMIZERS,
    POOLINGS,
    PRECISIONS,
    RUN_PARAMETERS,
)

finite = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0, exclude_min=True, allow_nan=False, allow_infinity=False)


@st.composite
def stages(draw):
    """(stage_heights, stage_iterations) as check_run resolves them: both empty, or n heights and n+1 counts."""
    heights = draw(st.lists(st.integers(min_value=16, max_value=10**4), max_size=3, unique=True))
    if not heights:
        return [], []
    counts = draw(
        st.lists(st.integers(min_value=1, max_value=10**5), min_size=len(heights) + 1, max_size=len(heights) + 1)
    )
    return sorted(heights), counts


@st.composite
def parameter_sets(draw):
    """Every result-determining parameter, over its whole valid range (weights: the keywords; files
    below), in check_run()'s canonical form."""
    params = draw(
        st.fixed_dictionaries(
            {
                "model": st.sampled_from(sorted(BACKBONES)),
                "weights": st.sampled_from(["imagenet", "bundled", "random"]),
                "init_method": st.sampled_from(INIT_METHODS),
                "optimizer": st.sampled_from(OPTIMIZERS),
                "iterations": st.integers(min_value=1, max_value=10**7),
                "learning_rate": positive,
                "height": st.integers(min_value=16, max_value=10**5),
                "content_weight": finite,
                "style_weight": finite,
                "tv_weight": finite,
                "content_layer": st.integers(min_value=1, max_value=6),
                "style_layers": st.integers(min_value=1, max_value=6),
                "seed": st.integers(min_value=0, max_value=2**63),
                "noise_units": st.sampled_from(NOISE_UNITS),
                "precision": st.sampled_from(PRECISIONS),
                "color_control": st.sampled_from(COLOR_CONTROLS),
                "style_blend_weights": st.none() | st.lists(finite, min_size=2, max_size=4),
                "style_scale": positive,
                "pooling": st.sampled_from(POOLINGS),
                "style_layer_weights": st.none() | st.lists(finite, min_size=1, max_size=6),
                "region_map": st.none(),  # a file: named by its content (tests/engine/test_regions.py)
                "init_nudge": st.integers(min_value=0, max_value=2**63),
            }
        )
    )
    params["stage_heights"], params["stage_iterations"] = draw(stages())
    return params


def canonical_defaults() -> dict:
    """stylize()'s defaults as check_run resolves them (L-BFGS learning rate filled in)."""
    resolved = check_run(CONTENT, STYLE, weights="bundled")
    return {name: resolved[name] for name in RESULT_PARAMETERS}


CONTENT, STYLE = "data/content/chelsea.jpg", "data/style/starry_night.jpg"


def test_parameter_table_has_every_stylize_option_once_with_its_defaults_type():
    """A keyword added to stylize() without a row (or a row without a keyword) fails here."""
    defaults = parameter_defaults()
    assert sorted(p.name for p in RUN_PARAMETERS) == sorted(defaults)
    for parameter in RUN_PARAMETERS:
        default = defaults[parameter.name]
        values = list(default) if parameter.is_list and default is not None else [default]
        assert all(value is None or type(value) is parameter.kind for value in values), parameter.name


def test_run_id_fields_cover_every_result_parameter_once():
    names = [name for name, _ in RUN_ID_FIELDS + RUN_ID_EXTRAS]
    keys = [key for _, key in RUN_ID_FIELDS + RUN_ID_EXTRAS]
    assert sorted(names) == sorted(RESULT_PARAMETERS)
    assert len(set(keys)) == len(keys)


@given(parameter_sets())
def test_run_id_round_trips(params):
    """parse_run_id(run_id(p)) == p for every p: a left inverse, so distinct sets get distinct ids."""
    assert parse_run_id(run_id(params)) == params


@given(parameter_sets(), parameter_sets())
def test_run_ids_equal_iff_parameters_equal(a, b):
    assert (run_id(a) == run_id(b)) == (a == b)


@given(parameter_sets(), st.sampled_from(["content_weight", "style_weight", "tv_weight", "learning_rate"]))
def test_neighbouring_floats_get_different_ids(params, name):
    """The closest float to any value still gets its own id (no rounding anywhere). Toward zero, so
    the largest finite float's neighbour is not inf (which has no id)."""
    import math

    value = params[name]
    neighbour = math.nextafter(value, 0.0) if value > 0 else math.nextafter(value, math.inf)
    other = dict(params, **{name: neighbour})
    assert run_id(other) != run_id(params)


@pytest.mark.parametrize(
    ("name", "a", "b"),
    [
        ("content_weight", 100000, 100000.1),  # a %g format merges each of these pairs
        ("content_weight", 1234567, 1234568),
        ("learning_rate", 0.173521, DEFAULT_LEARNING_RATE["adam"]),
    ],
)
def test_values_a_g_format_merges_get_different_ids(name, a, b):
    base = canonical_defaults()
    assert run_id(base | {name: float(a)}) != run_id(base | {name: float(b)})


def test_run_id_is_readable():
    expected = "m_vgg19_w_bundled_i_content_o_lbfgs_it_1000_lr_1_h_400_cw_100000_sw_30000_tv_1_cl_4_sl_6_s_0"
    assert run_id(canonical_defaults()) == expected


@pytest.mark.parametrize(
    ("value", "text"), [(1e5, "100000"), (0.5, "0.5"), (1e-05, "1e-05"), (1e16, "1e16"), (2.5e20, "2.5e20")]
)
def test_encode_number(value, text):
    assert encode_number(value, is_float=True) == text
    assert float(text) == value


def test_weights_file_named_by_content(tmp_path):
    a, b, c = tmp_path / "a.pth", tmp_path / "b.pth", tmp_path / "c.pth"
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    c.write_bytes(b"other bytes")
    base = canonical_defaults()
    ids = {name: run_id(base | {"weights": str(path)}) for name, path in (("a", a), ("b", b), ("c", c))}
    assert ids["a"] == ids["b"] != ids["c"]  # the file's content, not its name, determines the result
    assert parse_run_id(ids["c"])["weights"].startswith("file-")


@given(parameter_sets(), parameter_sets())
def test_cli_names_equal_iff_parameters_equal(a, b):
    name_a = cli_output_name("data/chelsea.jpg", "data/starry_night.jpg", a)
    name_b = cli_output_name("data/chelsea.jpg", "data/starry_night.jpg", b)
    assert (name_a == name_b) == (a == b)


@given(parameter_sets(), parameter_sets())
def test_classic_names_never_collide(a, b):
    defaults = parameter_defaults()
    names = [
        classic_output_name(
            "chelsea.jpg",
            "starry_night.jpg",
            p,
            defaults | {"learning_rate": DEFAULT_LEARNING_RATE[p["optimizer"]]},
            content_layer_flag=p["content_layer"],
            style_layers_flag=p["style_layers"],
        )
        for p in (a, b)
    ]
    assert (names[0] == names[1]) == (a == b)


def test_classic_name_at_defaults_is_the_classic_one():
    params = canonical_defaults() | {"weights": "imagenet"}
    defaults = parameter_defaults() | {"learning_rate": DEFAULT_LEARNING_RATE["lbfgs"]}
    name = classic_output_name("chelsea.jpg", "starry_night.jpg", params, defaults)
    assert name == "chelsea_starry_night_o_lbfgs_i_content_h_400_m_vgg19_cw_100000.0_sw_30000.0_tv_1.0_cl_-1_sl_-1.jpg"


def test_extras_at_their_defaults_are_left_out():
    """Ids made before precision, stages, colour control, blends, style scale, noise units, pooling
    and style layer weights existed still name the same results: at their defaults these parameters
    add nothing."""
    params = canonical_defaults()
    assert not any(f"_{key}_" in run_id(params) for _, key in RUN_ID_EXTRAS)
    staged = params | {"stage_heights": [128, 256], "stage_iterations": [100, 100, 800], "precision": "bf16"}
    assert run_id(staged).endswith("_st_128+256_si_100+100+800_p_bf16")
    assert parse_run_id(run_id(staged)) == staged
    pooled = params | {"pooling": "avg", "style_layer_weights": [0.5, 0.25, 0.25, 0.0, 0.0, 0.0]}
    assert run_id(pooled) == run_id(params) + "_pl_avg_lw_0.5+0.25+0.25+0+0+0"
    assert parse_run_id(run_id(pooled)) == pooled
