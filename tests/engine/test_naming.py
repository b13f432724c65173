"""Output names: run ids are exact (injective, with a left inverse), CLI names never collide."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nst.api import RESULT_PARAMETERS, parameter_defaults
from nst.backbones import BACKBONES
from nst.naming import (
    RUN_ID_FIELDS,
    classic_output_name,
    cli_output_name,
    encode_number,
    parse_run_id,
    run_id,
)
from nst.params import DEFAULT_LEARNING_RATE, INIT_METHODS, OPTIMIZERS

finite = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0, exclude_min=True, allow_nan=False, allow_infinity=False)

# every result-determining parameter, over its whole valid range (weights: the keywords; files below)
parameter_sets = st.fixed_dictionaries(
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
    }
)


def test_run_id_fields_cover_every_result_parameter_once():
    names = [name for name, _ in RUN_ID_FIELDS]
    keys = [key for _, key in RUN_ID_FIELDS]
    assert sorted(names) == sorted(RESULT_PARAMETERS)
    assert len(set(keys)) == len(keys)


@given(parameter_sets)
def test_run_id_round_trips(params):
    """parse_run_id(run_id(p)) == p for every p: a left inverse, so distinct sets get distinct ids."""
    assert parse_run_id(run_id(params)) == params


@given(parameter_sets, parameter_sets)
def test_run_ids_equal_iff_parameters_equal(a, b):
    assert (run_id(a) == run_id(b)) == (a == b)


@given(parameter_sets, st.sampled_from(["content_weight", "style_weight", "tv_weight", "learning_rate"]))
def test_neighbouring_floats_get_different_ids(params, name):
    """The closest float above any value still gets its own id (no rounding anywhere)."""
    import math

    other = dict(params, **{name: math.nextafter(params[name], math.inf)})
    assert run_id(other) != run_id(params)


@pytest.mark.parametrize(
    ("name", "a", "b"),
    [
        ("content_weight", 100000, 100000.1),  # the three cases: :g merged each pair
        ("content_weight", 1234567, 1234568),
        ("learning_rate", 0.173521, DEFAULT_LEARNING_RATE["adam"]),
    ],
)
def test_cases_that_used_to_collide(name, a, b):
    base = parameter_defaults() | {"learning_rate": 1.0}
    base = {key: base[key] for key in RESULT_PARAMETERS}
    assert run_id(base | {name: float(a)}) != run_id(base | {name: float(b)})


def test_run_id_is_readable():
    params = {key: parameter_defaults()[key] for key in RESULT_PARAMETERS} | {"learning_rate": 1.0}
    params |= {"weights": "bundled", "content_weight": 1e5, "style_weight": 3e4, "tv_weight": 1.0}
    assert (
        run_id(params) == "m_vgg19_w_bundled_i_content_o_lbfgs_it_1000_lr_1_h_400_cw_100000_sw_30000_tv_1_cl_4_sl_6_s_0"
    )


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
    base = {key: parameter_defaults()[key] for key in RESULT_PARAMETERS} | {"learning_rate": 1.0}
    ids = {name: run_id(base | {"weights": str(path)}) for name, path in (("a", a), ("b", b), ("c", c))}
    assert ids["a"] == ids["b"] != ids["c"]  # the file's content, not its name, determines the result
    assert parse_run_id(ids["c"])["weights"].startswith("file-")


@given(parameter_sets, parameter_sets)
def test_cli_names_equal_iff_parameters_equal(a, b):
    name_a = cli_output_name("data/chelsea.jpg", "data/starry_night.jpg", a)
    name_b = cli_output_name("data/chelsea.jpg", "data/starry_night.jpg", b)
    assert (name_a == name_b) == (a == b)


@given(parameter_sets, parameter_sets)
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
    params = parameter_defaults() | {"learning_rate": DEFAULT_LEARNING_RATE["lbfgs"], "weights": "imagenet"}
    defaults = parameter_defaults() | {"learning_rate": DEFAULT_LEARNING_RATE["lbfgs"]}
    name = classic_output_name("chelsea.jpg", "starry_night.jpg", params, defaults)
    assert name == "chelsea_starry_night_o_lbfgs_i_content_h_400_m_vgg19_cw_100000.0_sw_30000.0_tv_1.0_cl_-1_sl_-1.jpg"
