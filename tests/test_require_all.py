"""The CI switch NST_REQUIRE_ALL (tests/require_all.py), run on a generated test file in a sub-pytest."""

from __future__ import annotations

from pathlib import Path

import pytest
import require_all
from require_all import SWITCH

GENERATED = """
import pytest

def test_passes():
    pass

def test_skips_at_run_time():
    pytest.skip("no chromium here")

@pytest.mark.skipif(True, reason="no slurm here")
def test_skipped_by_mark():
    pass

@pytest.mark.gpu
def test_gpu_only():
    pytest.skip("no CUDA here")

@pytest.mark.xfail(strict=True, reason="known bug")
def test_known_bug():
    assert False
"""


@pytest.fixture
def generated(pytester):
    pytester.makepyfile(test_generated=GENERATED)
    pytester.makeini("[pytest]\nmarkers =\n    gpu: needs CUDA\n")
    return pytester


def run(pytester, monkeypatch, switch: str | None):
    if switch is None:
        monkeypatch.delenv(SWITCH, raising=False)
    else:
        monkeypatch.setenv(SWITCH, switch)
    monkeypatch.setenv("PYTHONPATH", str(Path(require_all.__file__).parent))  # the plugin, for the sub-pytest
    return pytester.runpytest_subprocess("-p", "require_all", "-ra")


def test_without_the_switch_skips_stay_skips_and_the_summary_says_so(generated, monkeypatch):
    result = run(generated, monkeypatch, None)
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*3 test(s) skipped*NST_REQUIRE_ALL=1*skip a failure*"])


def test_with_the_switch_a_skip_fails_but_gpu_skips_and_xfail_do_not(generated, monkeypatch):
    result = run(generated, monkeypatch, "1")
    # pytest.skip() in the test body fails as a test; a skipif mark is evaluated in setup: an error
    result.assert_outcomes(passed=1, failed=1, errors=1, skipped=1, xfailed=1)
    assert result.ret != 0
    for line in ("FAILED *test_skips_at_run_time*", "ERROR *test_skipped_by_mark*", "SKIPPED *no CUDA here"):
        result.stdout.fnmatch_lines([line])
    output = result.stdout.str()
    assert "NST_REQUIRE_ALL=1: this test was skipped" in output and "no chromium here" in output
    assert "no slurm here" in output


def test_switch_value_0_means_off(generated, monkeypatch):
    result = run(generated, monkeypatch, "0")
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    assert result.ret == 0


MODULE_LEVEL_SKIPS = {
    "test_needs_a_missing_package": 'import pytest\npytest.importorskip("no_such_package_here")\n'
    "def test_x():\n    pass\n",
    "test_skips_itself": 'import pytest\npytest.skip("no slurm here", allow_module_level=True)\n'
    "def test_y():\n    pass\n",
    "test_fine": "def test_passes():\n    pass\n",
}


@pytest.fixture
def skipped_modules(pytester):
    pytester.makepyfile(**MODULE_LEVEL_SKIPS)
    return pytester


def test_without_the_switch_module_level_skips_stay_skips(skipped_modules, monkeypatch):
    result = run(skipped_modules, monkeypatch, None)
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == 0


def test_with_the_switch_a_module_level_skip_fails_the_run(skipped_modules, monkeypatch):
    result = run(skipped_modules, monkeypatch, "1")
    result.assert_outcomes(errors=2)
    assert result.ret != 0
    output = result.stdout.str()
    assert "test_needs_a_missing_package.py was skipped while collected" in output
    assert "no_such_package_here" in output
    assert "test_skips_itself.py was skipped while collected" in output and "no slurm here" in output
