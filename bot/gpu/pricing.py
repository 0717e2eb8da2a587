"""What a GPU costs per hour: the configured price of its model, and a MIG slice's share of it."""

from __future__ import annotations

import re
from collections.abc import Mapping

_SLICE = re.compile(r"^(\d+)g\.")  # GPU_I_PROFILE "3g.40gb": 3 of the GPU's compute slices
SLICES_PER_GPU = {"A30": 4}  # A100, H100 and H200 split into 7


def price_per_hour(model: str, mig_profile: str | None, prices: Mapping[str, float]) -> float:
    """The price of the first model name in `prices` (longest first, so L40S before L4) that appears in
    `model` as a word, e.g. "NVIDIA H100 80GB HBM3" → H100; 0 when none does."""
    words = set(re.split(r"[\s\-_/]+", model.upper()))
    name = next((n for n in sorted(prices, key=len, reverse=True) if n.upper() in words), None)
    if name is None:
        return 0.0
    return prices[name] * _share(mig_profile, name)


def _share(mig_profile: str | None, model: str) -> float:
    match = _SLICE.match(mig_profile or "")
    if match is None:
        return 1.0
    return min(1.0, int(match.group(1)) / SLICES_PER_GPU.get(model.upper(), 7))
