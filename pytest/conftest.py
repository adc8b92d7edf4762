"""Session fixtures: each runtime variant is built once per session."""
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqtest  # noqa: E402

_built = {}


def runner_for(variant):
    if variant not in _built:
        _built[variant] = sqtest.build(variant, "lib", "tests")
    return _built[variant]


@pytest.fixture(scope="session")
def fixed():
    return runner_for("fixed")


@pytest.fixture(scope="session")
def variant_runner():
    return runner_for


@pytest.fixture(scope="session")
def have():
    """have('strace') -> path, or skip with a reason."""
    def need(tool):
        p = shutil.which(tool)
        if not p:
            pytest.skip(f"{tool} is not installed")
        return p
    return need
