"""Shared pytest configuration: a reproducible seed and the ``--runslow`` switch."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# One native thread per test process, set before numpy, scikit-learn, LightGBM or torch
# load their thread pools: `make test` runs one pytest-xdist worker per core, and OpenMP or
# BLAS pools of one thread per core in every worker oversubscribe the cores (their threads
# spin while waiting). No test depends on these pools; set the variables to override.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# CI runs the property tests on fixed examples (derived from each test's name), so that a
# submission's result does not depend on the draw; locally they draw afresh every run (set
# HYPOTHESIS_PROFILE=ci to reproduce CI's examples), and --runslow runs the campaigns.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") or os.environ.get("HYPOTHESIS_PROFILE") == "ci":
    settings.load_profile("ci")

# Make tests/oracles.py importable as ``oracles`` from every test directory (no
# __init__.py files in tests/: module names are unique instead).
_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow", action="store_true", default=False,
        help="also run tests marked slow",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow test: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


def pytest_report_header(config: pytest.Config) -> str:
    return f"global_random_seed: {_seed()} (set RECOURSE_TEST_SEED to change)"


def _seed() -> int:
    raw = os.environ.get("RECOURSE_TEST_SEED", "0")
    try:
        return int(raw)
    except ValueError:
        raise pytest.UsageError(f"RECOURSE_TEST_SEED must be an integer, got {raw!r}") from None


@pytest.fixture
def global_random_seed() -> int:
    """Seed for tests that draw random data: 0 unless RECOURSE_TEST_SEED is set."""
    return _seed()
