"""The fuzz targets' shared bot and no per-test timeout with --deep. Their case counts (harness.TALLIES) are printed
by tests/conftest.py, summed over the xdist workers: only a root conftest runs on the xdist controller."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.harness import FuzzBot


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzBot]:
    """One in-process bot per test module (tests/fuzz/harness.py FuzzBot); its state piles up across cases."""
    made = FuzzBot(tmp_path_factory.mktemp("fuzz"))
    yield made
    made.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--deep", default=False):  # ten times the cases take longer than the suite's 120 s per test
        for item in items:
            if "tests/fuzz/" in item.nodeid:
                item.add_marker(pytest.mark.timeout(0))

