"""What an instance costs an hour: the type's price, else its family's large price scaled by size; config wins."""

from __future__ import annotations

import pytest

from bot.spend.pricing import InstancePrices


@pytest.mark.parametrize(("instance_type", "usd"), [
    ("p4d.24xlarge", 32.77), ("p5.48xlarge", 98.32), ("g5.12xlarge", 5.672), ("inf2.xlarge", 0.758),
    ("m6i.large", 0.096), ("m6i.4xlarge", 0.768), ("t3.micro", 0.0104), ("c7i.medium", 0.0446),
])
def test_default_prices_cover_accelerators_and_common_cpu_families(instance_type: str, usd: float) -> None:
    assert InstancePrices({}).hourly(instance_type) == pytest.approx(usd, abs=1e-4)


def test_configured_prices_win_by_type_or_by_family() -> None:
    prices = InstancePrices({"p4d.24xlarge": 21.96, "m6i": 0.05, "x2idn": 1.0})

    assert prices.hourly("p4d.24xlarge") == 21.96  # a savings plan rate
    assert prices.hourly("m6i.2xlarge") == 0.2
    assert prices.hourly("x2idn.2xlarge") == 4.0


@pytest.mark.parametrize("instance_type", ["u-6tb1.metal", "z1d.metal", "weird", "m6i.huge"])
def test_unknown_types_have_no_price(instance_type: str) -> None:
    assert InstancePrices({}).hourly(instance_type) is None
