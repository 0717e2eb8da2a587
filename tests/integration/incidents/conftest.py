"""Fixtures for the incident flows run in-process (tests/support/inprocess.py)."""

from __future__ import annotations

import pytest

from tests.support.inprocess import START, FrozenClock  # re-exported: this file names no production module


@pytest.fixture
def clock() -> FrozenClock:
    """The bots' injected clock, at START (10:00 in Shanghai, a Tuesday) until the test moves it."""
    return FrozenClock(START)
