"""Pair and run names: made and split by nst_pipeline.paths only, and each split inverts its maker."""

from __future__ import annotations

import pytest

from nst_pipeline.paths import pair_name, run_name, split_pair, split_run


@pytest.mark.parametrize(("content", "style"), [("chelsea", "starry_night"), ("a_b", "c_d_e"), ("x", "y")])
def test_pair_names_split_back(content, style):
    assert pair_name(content, style) == f"{content}__{style}"
    assert split_pair(pair_name(content, style)) == (content, style)


def test_run_names_split_back():
    pair = pair_name("chelsea", "starry_night")
    run = run_name(pair, "m_vgg19_w_bundled_s_0")
    assert run == "chelsea__starry_night/m_vgg19_w_bundled_s_0"
    assert split_run(run) == (pair, "m_vgg19_w_bundled_s_0")


@pytest.mark.parametrize("name", ["chelsea", "chelsea_starry_night", ""])
def test_a_pair_name_without_separator_is_refused(name):
    with pytest.raises(ValueError, match="not a pair name"):
        split_pair(name)


@pytest.mark.parametrize("name", ["m_vgg19_s_0", "a__b/c/d", ""])
def test_a_run_name_without_exactly_one_slash_is_refused(name):
    with pytest.raises(ValueError, match="not a run name"):
        split_run(name)
