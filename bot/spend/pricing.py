"""On-demand price per hour of an EC2 instance type: the configured table over approximate us-east-1 defaults."""

from __future__ import annotations

from collections.abc import Mapping

# Approximate on-demand us-east-1 Linux prices (USD/h). Set yours under cost_guards.prices (by type or family).
DEFAULT_TYPE_PRICES = {
    "p3.2xlarge": 3.06, "p3.8xlarge": 12.24, "p3.16xlarge": 24.48, "p3dn.24xlarge": 31.21,
    "p4d.24xlarge": 32.77, "p4de.24xlarge": 40.97, "p5.48xlarge": 98.32, "p5e.48xlarge": 108.49,
    "g4dn.xlarge": 0.526, "g4dn.2xlarge": 0.752, "g4dn.4xlarge": 1.204, "g4dn.8xlarge": 2.176,
    "g4dn.12xlarge": 3.912, "g4dn.16xlarge": 4.352, "g4dn.metal": 7.824,
    "g5.xlarge": 1.006, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448, "g5.12xlarge": 5.672,
    "g5.16xlarge": 4.096, "g5.24xlarge": 8.144, "g5.48xlarge": 16.288,
    "g6.xlarge": 0.805, "g6.2xlarge": 0.978, "g6.4xlarge": 1.323, "g6.8xlarge": 2.014, "g6.12xlarge": 4.602,
    "g6.16xlarge": 3.397, "g6.24xlarge": 6.675, "g6.48xlarge": 13.35,
    "g6e.xlarge": 1.861, "g6e.2xlarge": 2.242, "g6e.4xlarge": 3.004, "g6e.8xlarge": 4.529,
    "g6e.12xlarge": 10.493, "g6e.16xlarge": 7.577, "g6e.24xlarge": 15.066, "g6e.48xlarge": 30.131,
    "inf2.xlarge": 0.758, "inf2.8xlarge": 1.968, "inf2.24xlarge": 6.491, "inf2.48xlarge": 12.981,
    "trn1.2xlarge": 1.344, "trn1.32xlarge": 21.50, "trn1n.32xlarge": 24.78,
}
# CPU families: the price of `<family>.large`; other sizes scale with AWS's normalization factor.
DEFAULT_LARGE_PRICES = {
    "m5": 0.096, "m6i": 0.096, "m7i": 0.1008, "m6a": 0.0864, "m7a": 0.11592, "m6g": 0.077, "m7g": 0.0816,
    "c5": 0.085, "c6i": 0.085, "c7i": 0.08925, "c6a": 0.0765, "c6g": 0.068, "c7g": 0.0725,
    "r5": 0.126, "r6i": 0.126, "r7i": 0.1323, "r6g": 0.1008, "t3": 0.0832, "t3a": 0.0752, "t4g": 0.0672,
}
SIZE_FACTOR = {"nano": 0.0625, "micro": 0.125, "small": 0.25, "medium": 0.5, "large": 1.0, "xlarge": 2.0}


def size_factor(size: str) -> float | None:
    """`4xlarge` → 8 (times a large)."""
    if size in SIZE_FACTOR:
        return SIZE_FACTOR[size]
    multiple = size.removesuffix("xlarge")
    return 2.0 * int(multiple) if multiple != size and multiple.isdigit() else None


class InstancePrices:
    def __init__(self, configured: Mapping[str, float]) -> None:
        self._types = {**DEFAULT_TYPE_PRICES, **{k: v for k, v in configured.items() if "." in k}}
        self._large = {**DEFAULT_LARGE_PRICES, **{k: v for k, v in configured.items() if "." not in k}}

    def hourly(self, instance_type: str) -> float | None:
        """USD per hour, or None when neither the type nor its family has a price."""
        if instance_type in self._types:
            return self._types[instance_type]
        family, _, size = instance_type.partition(".")
        factor = size_factor(size)
        if family in self._large and factor is not None:
            return round(self._large[family] * factor, 4)
        return None
