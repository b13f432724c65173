"""No silent skips in CI: with NST_REQUIRE_ALL=1 (set by .ci/run) a skipped test is a failure.

A test that cannot run where CI runs (no SLURM, no Chromium) would otherwise pass CI by skipping. Tests
marked `gpu` are exempt: CI machines have no GPU, those tests run where one is present. xfail is not a
skip. A whole module skipped while it is collected (a module-level `pytest.importorskip` or
`pytest.skip(allow_module_level=True)`) becomes a collection error: its marks are never read, so a gpu
module must skip through a `skipif` mark, not at import. Without the switch (a laptop) skips stay
skips, and the summary says how many and how to make them count. Registered by tests/conftest.py;
tests/test_require_all.py runs it on generated tests.
"""

from __future__ import annotations

import os

import pytest

SWITCH = "NST_REQUIRE_ALL"
EXEMPT_MARKER = "gpu"


def required() -> bool:
    return os.environ.get(SWITCH, "") not in ("", "0")


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if (
        required()
        and report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker(EXEMPT_MARKER) is None
    ):
        report.outcome = "failed"
        report.longrepr = f"{SWITCH}=1: this test was skipped, which counts as a failure here ({_skip_reason(report)})"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    if required() and report.skipped:
        report.outcome = "failed"
        report.longrepr = (
            f"{SWITCH}=1: {collector.nodeid or collector.path} was skipped while collected, which counts as a "
            f"failure here ({_skip_reason(report)})"
        )
    return report


def pytest_terminal_summary(terminalreporter):
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if not hasattr(r, "wasxfail")]
    if skipped and not required():
        terminalreporter.write_line(
            f"{len(skipped)} test(s) skipped (see the short test summary); CI sets {SWITCH}=1, which makes "
            f"a skip a failure (tests marked '{EXEMPT_MARKER}' excepted)",
            yellow=True,
        )
